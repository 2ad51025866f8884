import { describe, expect, it, vi } from "vitest";
import { FakeSocket } from "../testing/fake-socket";
import { anna, boris, defaultRoom, delta, listsOf, lobby, notice, peter, textMessage } from "../testing/fixtures";
import { emptyConversation, type ConversationState } from "./conversation";
import { createChatService } from "./socket";
import { createChatStore } from "./store";

/** A store over a fake socket, made (and so subscribed) before anything connects. */
function setup(conversation?: ConversationState) {
  const fake = new FakeSocket();
  const service = createChatService(fake.asSocket());
  const store = createChatStore(service, conversation);
  return { fake, service, store };
}

describe("the chat store", () => {
  it("holds what the server sends on connect, with no component listening yet", () => {
    const { fake, service, store } = setup();
    service.connect();
    const hello = textMessage(anna, "hello");
    fake.serverConnect();
    fake.serverEmit("lists", listsOf([peter, anna], [defaultRoom, lobby]));
    fake.serverEmit("current_room_changed", defaultRoom);
    fake.serverEmit("chat_message", hello);

    const state = store.getState();
    expect(state.connection).toBe("connected");
    expect(state.rooms).toEqual([defaultRoom, lobby]);
    expect(state.users.map((u) => u.name)).toEqual(["Anna", "Peter"]);
    expect(state.currentRoom).toEqual(defaultRoom);
    expect(state.conversation.room).toEqual(defaultRoom);
    expect(state.conversation.log.map((e) => e.key)).toEqual([hello.id]);
  });

  it.each([
    {
      name: "the room list's details win over the room as it came",
      events: (f: FakeSocket) => {
        f.serverEmit("lists", listsOf([peter], [defaultRoom, lobby]));
        f.serverEmit("current_room_changed", defaultRoom);
        f.serverEmit("room_list_delta", delta(2, [{ ...defaultRoom, member_count: 7 }]));
      },
      want: { ...defaultRoom, member_count: 7 },
    },
    {
      name: "a room the list does not have yet shows as it came",
      events: (f: FakeSocket) => {
        f.serverEmit("lists", listsOf([peter], [defaultRoom]));
        f.serverEmit("current_room_changed", lobby);
      },
      want: lobby,
    },
    {
      name: "our join notice that came before the switch opens the new room",
      events: (f: FakeSocket) => {
        f.serverEmit("lists", listsOf([peter], [defaultRoom, lobby]));
        f.serverEmit("current_room_changed", defaultRoom);
        f.serverEmit("chat_message", notice("joined", peter, { room_id: lobby.id }));
        f.serverEmit("current_room_changed", lobby);
      },
      want: lobby,
      log: 1,
    },
  ])("current room: $name", ({ events, want, log = 0 }) => {
    const { fake, service, store } = setup();
    service.connect();
    fake.serverConnect();
    events(fake);
    expect(store.getState().currentRoom).toEqual(want);
    expect(store.getState().conversation.log).toHaveLength(log);
  });

  it("after a reload shows the stored view's room until the server names one", () => {
    const { fake, service, store } = setup({ ...emptyConversation, room: lobby });
    expect(store.getState().currentRoom).toEqual(lobby);
    service.connect();
    fake.serverConnect();
    fake.serverEmit("current_room_changed", defaultRoom);
    expect(store.getState().currentRoom).toEqual(defaultRoom);
  });

  it("keeps the current room's object while other parts change, and notifies each change once", () => {
    const { fake, service, store } = setup();
    service.connect();
    fake.serverConnect();
    fake.serverEmit("lists", listsOf([peter], [defaultRoom, lobby]));
    fake.serverEmit("current_room_changed", defaultRoom);
    const room = store.getState().currentRoom;
    const listener = vi.fn();
    const off = store.subscribe(listener);
    fake.serverEmit("user_list_delta", delta(2, [boris]));
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getState().currentRoom).toBe(room);
    off();
    fake.serverEmit("user_list_delta", delta(3, [anna]));
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getState().users).toHaveLength(3);
  });

  it("a refused switch sets switchError, the next room change clears it", async () => {
    const { fake, service, store } = setup();
    service.connect();
    fake.serverConnect();
    const switching = store.switchRoom("r9");
    fake.calls("switch_room")[0]?.ack({ error: "room_not_found", message: "No such room" });
    await switching;
    expect(store.getState().switchError).toBe("No such room");
    fake.serverEmit("current_room_changed", lobby);
    expect(store.getState().switchError).toBeNull();
  });

  it("follows the connection, and dispatch feeds the conversation", () => {
    const { fake, service, store } = setup();
    expect(store.getState().connection).toBe("connecting");
    service.connect();
    fake.serverConnect();
    fake.serverEmit("current_room_changed", defaultRoom);
    store.dispatch({ type: "queue", item: { clientId: "c1", content: "hi", timestamp: 1 } });
    expect(store.getState().conversation.outbox.map((i) => i.status)).toEqual(["pending"]);
    fake.serverDisconnect("transport close");
    expect(store.getState().connection).toBe("reconnecting");
  });

  it("dispose stops listening to the service", () => {
    const { fake, service, store } = setup();
    const before = fake.listenerCount("chat_message");
    store.dispose();
    expect(fake.listenerCount("chat_message")).toBe(before - 1);
    service.connect();
    fake.serverConnect();
    expect(store.getState().connection).toBe("connecting");
  });
});
