// The client's state in one place: the connection, the room and user
// lists, and the conversation of the current room. The store subscribes to
// the service when it is made, before anything connects, so every event
// the server sends on connect lands here whatever order components mount
// their hooks in. Components read it with useChatState
// (useSyncExternalStore): a slice re-renders them only when it changes.
import { useSyncExternalStore } from "react";
import { conversationReducer, emptyConversation, type ConversationAction, type ConversationState } from "./conversation";
import type { ChatService, ConnectionState, Unsubscribe } from "./socket";
import type { Room, User } from "../types/events";

export interface ChatState {
  connection: ConnectionState;
  /** Persistent rooms first, then by age, as the server's lists and deltas have them. */
  rooms: Room[];
  /** Everyone, sorted by name. */
  users: User[];
  /** The current room's view, and our messages the server has not confirmed. */
  conversation: ConversationState;
  /**
   * The room the user is in: the conversation's (the server's last
   * current_room_changed, or after a reload the stored view's until the
   * server names it), with the freshest details the room list has.
   */
  currentRoom: Room | null;
  /** The server's answer to a failed switch, until the next switch or room change. */
  switchError: string | null;
}

export interface ChatStore {
  /** The state now; a new object after every change, the same one otherwise. */
  getState(): ChatState;
  /** Calls listener after every change; returns its unsubscribe function. */
  subscribe(listener: () => void): Unsubscribe;
  /** Feeds the conversation reducer (the outbox sender and the composer do). */
  dispatch(action: ConversationAction): void;
  /** Asks the server to move the user; current_room_changed follows, or switchError is set. */
  switchRoom(roomId: string): Promise<void>;
  /** Stops listening to the service. */
  dispose(): void;
}

/** The room's freshest details from the list, else the room as it came. */
function withListDetails(rooms: Room[], room: Room | null): Room | null {
  if (!room) return null;
  return rooms.find((r) => r.id === room.id) ?? room;
}

/**
 * A store over service, starting from conversation (restored from
 * sessionStorage, say). Make it before service.connect().
 */
export function createChatStore(service: ChatService, conversation: ConversationState = emptyConversation): ChatStore {
  let state: ChatState = {
    connection: service.connectionState,
    rooms: service.rooms,
    users: service.users,
    conversation,
    currentRoom: withListDetails(service.rooms, conversation.room),
    switchError: null,
  };
  const listeners = new Set<() => void>();

  const set = (patch: Partial<ChatState>) => {
    const next = { ...state, ...patch };
    if (patch.rooms !== undefined || patch.conversation !== undefined) {
      const currentRoom = withListDetails(next.rooms, next.conversation.room);
      // The same room as before keeps its object, so that its readers do not re-render.
      if (currentRoom !== state.currentRoom) next.currentRoom = currentRoom;
    }
    state = next;
    for (const listener of [...listeners]) listener();
  };
  const dispatch = (action: ConversationAction) => {
    const next = conversationReducer(state.conversation, action);
    if (next !== state.conversation) set({ conversation: next });
  };

  const offs = [
    service.onConnectionState((connection) => set({ connection })),
    service.onRoomList((rooms) => set({ rooms })),
    service.onUserList((users) => set({ users })),
    service.onCurrentRoom((room) => {
      set({ conversation: conversationReducer(state.conversation, { type: "room", room }), switchError: null });
    }),
    service.onChatMessage((message) => dispatch({ type: "message", message })),
    service.onRecovery((event) => dispatch({ type: "recovery", event })),
  ];

  return {
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    dispatch,
    async switchRoom(roomId) {
      if (state.switchError !== null) set({ switchError: null });
      const reply = await service.switchRoom(roomId);
      if (!reply.ok) set({ switchError: reply.message });
    },
    dispose() {
      for (const off of offs.splice(0)) off();
    },
  };
}

/**
 * A slice of the store's state; the component re-renders when the slice
 * changes (compared with Object.is), so select what the state holds or a
 * primitive, not a new object.
 */
export function useChatState<T>(store: ChatStore, select: (state: ChatState) => T): T {
  return useSyncExternalStore(store.subscribe, () => select(store.getState()));
}
