import { io } from "socket.io-client";
import { describe, expect, it, vi } from "vitest";
import { FakeSocket } from "../testing/fake-socket";
import { anna, defaultRoom, lobby, peter, textMessage } from "../testing/fixtures";
import type { ResumePoint } from "../types/events";
import { TIMEOUT_ACK, createChatService, createChatSocket } from "./socket";

function setup() {
  const fake = new FakeSocket();
  const service = createChatService(fake.asSocket());
  return { fake, service };
}

describe("createChatSocket", () => {
  it("opens namespace /chat on this origin with the token, not before connect()", () => {
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
    expect(sent).toEqual([{ token: "secret" }, { token: "secret", resume: { room_id: "_default", after_seq: 42 } }]);
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
    fake.serverEmit("room_list_changed", [defaultRoom, lobby]);
    fake.serverEmit("user_list_changed", [peter, anna]);
    fake.serverEmit("current_room_changed", defaultRoom);
    fake.serverEmit("chat_message", message);
    fake.serverEmit("typing", { user: anna, typing: true });
    expect(rooms).toHaveBeenCalledWith([defaultRoom, lobby]);
    expect(users).toHaveBeenCalledWith([peter, anna]);
    expect(current).toHaveBeenCalledWith(defaultRoom);
    expect(messages).toHaveBeenCalledWith(message);
    expect(typing).toHaveBeenCalledWith({ user: anna, typing: true });

    for (const off of offs) off();
    for (const event of ["room_list_changed", "user_list_changed", "current_room_changed", "chat_message", "typing"]) {
      expect(fake.listenerCount(event)).toBe(0);
    }
    fake.serverEmit("chat_message", message);
    expect(messages).toHaveBeenCalledTimes(1);
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
