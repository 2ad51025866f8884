import { io } from "socket.io-client";
import { describe, expect, it, vi } from "vitest";
import { FakeSocket } from "../testing/fake-socket";
import { anna, boris, defaultRoom, delta, listsOf, lobby, peter, textMessage } from "../testing/fixtures";
import type { ResumePoint } from "../types/events";
import { TIMEOUT_ACK, createChatService, createChatSocket } from "./socket";

function setup() {
  const fake = new FakeSocket();
  const service = createChatService(fake.asSocket());
  return { fake, service };
}

describe("createChatSocket", () => {
  it("opens namespace /chat on this origin with the token, asking for list deltas, not before connect()", () => {
    const fake = new FakeSocket();
    vi.mocked(io).mockReturnValueOnce(fake.asSocket());
    expect(createChatSocket("secret")).toBe(fake);
    expect(io).toHaveBeenCalledWith("/chat", { auth: expect.any(Function), autoConnect: false });
  });

  it("builds the auth payload on every connect, with the resume point of that moment", () => {
    const fake = new FakeSocket();
    vi.mocked(io).mockReturnValueOnce(fake.asSocket());
    let point: ResumePoint | null = null;
    createChatSocket("secret", () => point);
    const auth = vi.mocked(io).mock.lastCall?.[1]?.auth;
    if (typeof auth !== "function") throw new Error("auth is not built per connect");
    const sent: unknown[] = [];
    auth((payload) => sent.push(payload));
    point = { room_id: "_default", after_seq: 42 };
    auth((payload) => sent.push(payload));
    expect(sent).toEqual([
      { token: "secret", lists: "delta" },
      { token: "secret", lists: "delta", resume: { room_id: "_default", after_seq: 42 } },
    ]);
  });
});

describe("ChatService", () => {
  it("passes each server event to its subscribers until they unsubscribe", () => {
    const { fake, service } = setup();
    const rooms = vi.fn();
    const users = vi.fn();
    const current = vi.fn();
    const messages = vi.fn();
    const typing = vi.fn();
    const offs = [
      service.onRoomList(rooms),
      service.onUserList(users),
      service.onCurrentRoom(current),
      service.onChatMessage(messages),
      service.onTyping(typing),
    ];
    const message = textMessage(anna, "hi");
    fake.serverEmit("lists", listsOf([peter, anna], [defaultRoom, lobby]));
    fake.serverEmit("current_room_changed", defaultRoom);
    fake.serverEmit("chat_message", message);
    fake.serverEmit("typing", { user: anna, typing: true });
    expect(rooms).toHaveBeenCalledWith([defaultRoom, lobby]);
    expect(users).toHaveBeenCalledWith([anna, peter]);
    expect(current).toHaveBeenCalledWith(defaultRoom);
    expect(messages).toHaveBeenCalledWith(message);
    expect(typing).toHaveBeenCalledWith({ user: anna, typing: true });

    for (const off of offs) off();
    for (const event of ["current_room_changed", "chat_message", "typing"]) {
      expect(fake.listenerCount(event)).toBe(0);
    }
    fake.serverEmit("chat_message", message);
    fake.serverEmit("user_list_delta", delta(2, [boris]));
    expect(messages).toHaveBeenCalledTimes(1);
    expect(users).toHaveBeenCalledTimes(1);
  });


  it("keeps the lists from the lists event and the deltas, telling subscribers of each change", () => {
    const { fake, service } = setup();
    const users = vi.fn();
    const rooms = vi.fn();
    service.onUserList(users);
    service.onRoomList(rooms);
    service.connect();
    fake.serverConnect();
    fake.serverEmit("lists", listsOf([peter, anna], [defaultRoom], 4, 9));
    fake.serverEmit("user_list_delta", delta(5, [boris]));
    fake.serverEmit("user_list_delta", delta(5, [], [boris.id])); // stale: no change
    fake.serverEmit("room_list_delta", delta(10, [lobby]));
    fake.serverEmit("user_list_delta", delta(6, [], [peter.id]));
    expect(users.mock.calls).toEqual([[[anna, peter]], [[anna, boris, peter]], [[anna, boris]]]);
    expect(rooms.mock.calls).toEqual([[[defaultRoom]], [[defaultRoom, lobby]]]);
    expect(service.users).toEqual([anna, boris]);
    expect(service.rooms).toEqual([defaultRoom, lobby]);
    expect(fake.calls("get_lists")).toHaveLength(0);
  });

  it("on a gap asks get_lists, and applies what came meanwhile after the answer", async () => {
    const { fake, service } = setup();
    service.connect();
    fake.serverConnect();
    fake.serverEmit("lists", listsOf([peter], [defaultRoom], 1, 1));
    fake.serverEmit("user_list_delta", delta(3, [boris])); // a gap: 2 is missing
    const [call] = fake.calls("get_lists");
    expect(call?.payload).toBeUndefined();
    fake.serverEmit("room_list_delta", delta(2, [lobby])); // held until the answer
    expect(service.rooms).toEqual([defaultRoom]);
    call?.ack({ ok: true, ...listsOf([anna, boris, peter], [defaultRoom], 3, 1) });
    expect(service.users).toEqual([anna, boris, peter]);
    expect(service.rooms).toEqual([defaultRoom, lobby]);
    expect(fake.calls("get_lists")).toHaveLength(1);
    fake.serverEmit("user_list_delta", delta(4, [], [anna.id]));
    expect(service.users).toEqual([boris, peter]);
  });

  it("retries a failed get_lists after a while, doubling the wait", () => {
    vi.useFakeTimers();
    try {
      const fake = new FakeSocket();
      const service = createChatService(fake.asSocket(), { listsRetryMs: 100 });
      service.connect();
      fake.serverConnect();
      fake.serverEmit("lists", listsOf([peter], [defaultRoom], 1, 1));
      fake.serverEmit("user_list_delta", delta(5, [boris]));
      fake.calls("get_lists")[0]?.ack({ error: "unavailable", message: "try again" });
      vi.advanceTimersByTime(99);
      expect(fake.calls("get_lists")).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(fake.calls("get_lists")).toHaveLength(2);
      fake.calls("get_lists")[1]?.timeout();
      vi.advanceTimersByTime(199);
      expect(fake.calls("get_lists")).toHaveLength(2);
      vi.advanceTimersByTime(1);
      expect(fake.calls("get_lists")).toHaveLength(3);
      fake.calls("get_lists")[2]?.ack({ ok: true, ...listsOf([boris, peter], [defaultRoom], 5, 1) });
      expect(service.users).toEqual([boris, peter]);
      // A rate_limited answer says how long to wait.
      fake.serverEmit("user_list_delta", delta(7, []));
      fake.calls("get_lists")[3]?.ack({ error: "rate_limited", message: "slow down", retry_after_ms: 2_000 });
      vi.advanceTimersByTime(1_999);
      expect(fake.calls("get_lists")).toHaveLength(4);
      vi.advanceTimersByTime(1);
      expect(fake.calls("get_lists")).toHaveLength(5);
      // A disconnect ends it: the reconnect's lists event brings everything.
      fake.calls("get_lists")[4]?.ack({ error: "unavailable", message: "try again" });
      fake.serverDisconnect("transport close");
      vi.advanceTimersByTime(60_000);
      expect(fake.calls("get_lists")).toHaveLength(5);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a reconnect's lists event replaces both lists and their versions", () => {
    const { fake, service } = setup();
    service.connect();
    fake.serverConnect();
    fake.serverEmit("lists", listsOf([peter, anna], [defaultRoom, lobby], 40, 30));
    fake.serverDisconnect("transport close");
    fake.serverConnect();
    fake.serverEmit("lists", listsOf([peter], [defaultRoom], 2, 3));
    fake.serverEmit("user_list_delta", delta(3, [boris]));
    expect(service.users).toEqual([boris, peter]);
    expect(service.rooms).toEqual([defaultRoom]);
    expect(fake.calls("get_lists")).toHaveLength(0);
  });

  it("still takes whole lists from a server without deltas", () => {
    const { fake, service } = setup();
    fake.serverEmit("user_list_changed", [peter, anna]);
    fake.serverEmit("room_list_changed", [lobby, defaultRoom]);
    expect(service.users).toEqual([anna, peter]);
    expect(service.rooms).toEqual([lobby, defaultRoom]);
  });

  it("sendMessage resolves with the server's ack", async () => {
    const { fake, service } = setup();
    const reply = service.sendMessage("hello");
    const [call] = fake.calls("send_message");
    expect(call?.payload).toEqual({ content: "hello" });
    const message = textMessage(peter, "hello");
    call?.ack({ ok: true, message });
    await expect(reply).resolves.toEqual({ ok: true, message });
  });

  it("sendMessage sends an image's id and description, with or without text", () => {
    const { fake, service } = setup();
    void service.sendMessage("look", { id: "a1", alt: "my cat" });
    void service.sendMessage("", { id: "a2" });
    void service.sendMessage("", { id: "a3", alt: "" });
    expect(fake.calls("send_message").map((c) => c.payload)).toEqual([
      { content: "look", attachment_id: "a1", alt: "my cat" },
      { attachment_id: "a2" },
      { attachment_id: "a3" },
    ]);
  });

  it("sendMessage carries the client_id, and resolves with a duplicate's original", async () => {
    const { fake, service } = setup();
    const reply = service.sendMessage("hello", undefined, "c-1");
    void service.sendMessage("", { id: "a1" }, "c-2");
    expect(fake.calls("send_message").map((c) => c.payload)).toEqual([
      { content: "hello", client_id: "c-1" },
      { attachment_id: "a1", client_id: "c-2" },
    ]);
    const message = textMessage(peter, "hello", { client_id: "c-1" });
    fake.calls("send_message")[0]?.ack({ ok: true, message, duplicate: true });
    await expect(reply).resolves.toEqual({ ok: true, message, duplicate: true });
  });

  it("passes recovery to its subscribers", () => {
    const { fake, service } = setup();
    const recovery = vi.fn();
    const off = service.onRecovery(recovery);
    fake.serverEmit("recovery", { room_id: "_default", recovered: false, reason: "window_passed" });
    off();
    fake.serverEmit("recovery", { room_id: "_default", recovered: true });
    expect(recovery.mock.calls).toEqual([[{ room_id: "_default", recovered: false, reason: "window_passed" }]]);
  });

  it("knows since when the connection is down", () => {
    const { fake, service } = setup();
    const now = vi.spyOn(Date, "now").mockReturnValue(1_000);
    expect(service.offlineSince).toBeNull();
    service.connect();
    fake.serverConnect();
    expect(service.offlineSince).toBeNull();
    now.mockReturnValue(5_000);
    fake.serverDisconnect("transport close");
    now.mockReturnValue(9_000);
    fake.connectError("xhr poll error");
    expect(service.offlineSince).toBe(5_000);
    fake.serverConnect();
    expect(service.offlineSince).toBeNull();
    now.mockRestore();
  });

  it("sendMessage resolves with the server's error", async () => {
    const { fake, service } = setup();
    const reply = service.sendMessage("x");
    fake.calls("send_message")[0]?.ack({ error: "rate_limited", message: "you are sending messages too fast" });
    await expect(reply).resolves.toEqual({ error: "rate_limited", message: "you are sending messages too fast" });
  });

  it("a call without an answer resolves as a timeout error", async () => {
    const { fake, service } = setup();
    const reply = service.switchRoom("r1");
    expect(fake.calls("switch_room")[0]?.payload).toEqual({ room_id: "r1" });
    fake.calls("switch_room")[0]?.timeout();
    await expect(reply).resolves.toEqual(TIMEOUT_ACK);
  });

  it("sends typing only while connected", () => {
    const { fake, service } = setup();
    service.typing(true);
    expect(fake.calls("typing")).toHaveLength(0);
    service.connect();
    fake.serverConnect();
    service.typing(true);
    service.typing(false);
    expect(fake.calls("typing").map((c) => c.payload)).toEqual([{ typing: true }, { typing: false }]);
  });

  it("follows the connection: connecting, connected, reconnecting, connected", () => {
    const { fake, service } = setup();
    const states: string[] = [];
    service.onConnectionState((s) => states.push(s));
    expect(service.connectionState).toBe("connecting");
    service.connect();
    expect(fake.connect).toHaveBeenCalledOnce();
    fake.serverConnect();
    fake.serverDisconnect("transport close");
    fake.reconnectAttempt(1);
    fake.connectError("xhr poll error");
    fake.serverConnect();
    expect(states).toEqual(["connected", "reconnecting", "connected"]);
    expect(service.connectionState).toBe("connected");
  });

  it("disconnect() is final and reports disconnected", () => {
    const { fake, service } = setup();
    const states: string[] = [];
    const ended = vi.fn();
    service.onConnectionState((s) => states.push(s));
    service.onSessionEnd(ended);
    service.connect();
    fake.serverConnect();
    service.disconnect();
    expect(fake.disconnect).toHaveBeenCalledOnce();
    expect(states).toEqual(["connected", "disconnected"]);
    expect(ended).not.toHaveBeenCalled();
  });

  it("a refused token ends the session", () => {
    const { fake, service } = setup();
    const ended = vi.fn();
    service.onSessionEnd(ended);
    service.connect();
    fake.connectError("invalid_token");
    expect(ended).toHaveBeenCalledWith("invalid_token");
    expect(service.connectionState).toBe("disconnected");
  });

  it("a server-side disconnect (logout elsewhere) ends the session", () => {
    const { fake, service } = setup();
    const ended = vi.fn();
    const off = service.onSessionEnd(ended);
    service.connect();
    fake.serverConnect();
    fake.serverDisconnect("io server disconnect");
    expect(ended).toHaveBeenCalledWith("logged_out");
    off();
    fake.serverDisconnect("io server disconnect");
    expect(ended).toHaveBeenCalledOnce();
  });

  it("other connection errors do not end the session", () => {
    const { fake, service } = setup();
    const ended = vi.fn();
    service.onSessionEnd(ended);
    service.connect();
    fake.connectError("websocket error");
    expect(ended).not.toHaveBeenCalled();
    expect(service.connectionState).toBe("reconnecting");
  });
});
