import { act, render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { vi } from "vitest";
import { ChatScreen } from "../app/ChatScreen";
import { restoreConversation } from "../features/messages/api/storage";
import { createChatService } from "../lib/socket";
import { createChatStore } from "../lib/store";
import type { Room, ServerToClientEvents, User } from "../types/events";
import { FakeSocket } from "./fake-socket";
import { anna, defaultRoom, listsOf, lobby, peter } from "./fixtures";

export interface ChatHarness {
  fake: FakeSocket;
  user: ReturnType<typeof userEvent.setup>;
  onLogout: ReturnType<typeof vi.fn>;
  onSessionEnd: ReturnType<typeof vi.fn>;
  /**
   * The server accepts the connection and sends its initial state: the
   * lists (at version 1 each, unless given) and the current room.
   */
  connect(state?: { rooms?: Room[]; users?: User[]; room?: Room; usersVersion?: number; roomsVersion?: number }): void;
  /** The server emits an event (inside act). */
  emit<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): void;
  unmount(): void;
}

/** ChatScreen logged in as Peter, on a fake socket the test plays the server of. */
export function renderChat(options: { me?: User; fakeTimers?: boolean } = {}): ChatHarness {
  const me = options.me ?? peter;
  const fake = new FakeSocket();
  const service = createChatService(fake.asSocket());
  const store = createChatStore(service, restoreConversation(me.id));
  const onLogout = vi.fn(async () => {});
  const onSessionEnd = vi.fn();
  const { unmount } = render(<ChatScreen session={{ token: "tok", user: me }} service={service} store={store} onLogout={onLogout} onSessionEnd={onSessionEnd} />);
  const user = userEvent.setup(options.fakeTimers ? { advanceTimers: (ms) => vi.advanceTimersByTime(ms) } : {});
  return {
    fake,
    user,
    onLogout,
    onSessionEnd,
    unmount,
    connect({ rooms = [defaultRoom, lobby], users = [me, anna], room = defaultRoom, usersVersion = 1, roomsVersion = 1 } = {}) {
      act(() => {
        fake.serverConnect();
        fake.serverEmit("lists", listsOf(users, rooms, usersVersion, roomsVersion));
        fake.serverEmit("current_room_changed", room);
      });
    },
    emit(event, ...args) {
      act(() => fake.serverEmit(event, ...args));
    },
  };
}
