// The one place that knows about socket.io-client. Components get a
// ChatService: typed calls that resolve with the server's acknowledgement,
// and on… subscriptions that return their own unsubscribe function.
import { io, type Socket } from "socket.io-client";
import { initialListsState, reduceLists, type ListsAction, type ListsState } from "./lists";
import {
  INVALID_TOKEN,
  type Ack,
  type ChatAuth,
  type ClientToServerEvents,
  type ListsSnapshot,
  type Message,
  type RecoveryEvent,
  type ResumePoint,
  type Room,
  type SendMessageAck,
  type SendMessagePayload,
  type ServerToClientEvents,
  type TypingEvent,
  type User,
} from "../types/events";

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Where to resume from, asked again before every (re)connect. */
export type ResumeSource = () => ResumePoint | null;

/**
 * Opens nothing yet: the service connects once its listeners are in place.
 * The auth payload is built on every connect, so each reconnect resumes
 * from the last message seen.
 */
export function createChatSocket(token: string, resume: ResumeSource = () => null): ChatSocket {
  return io("/chat", { auth: (cb) => cb(chatAuth(token, resume())), autoConnect: false });
}

/** The auth payload of one connect: always asking for list deltas. */
export function chatAuth(token: string, resume: ResumePoint | null): ChatAuth {
  return resume ? { token, lists: "delta", resume } : { token, lists: "delta" };
}

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/**
 * Why the server ended the session: the token was refused, or the user
 * logged out (here or in another tab) and the server disconnected us.
 */
export type SessionEnd = "invalid_token" | "logged_out";

export type Unsubscribe = () => void;

/** An uploaded image to send with a message, and its description. */
export interface OutgoingAttachment {
  id: string;
  alt?: string;
}

export interface ChatService {
  /** Connects (again); the server then sends the lists and the current room. */
  connect(): void;
  /** Disconnects for good; the state becomes "disconnected". */
  disconnect(): void;
  /**
   * Resolves with the server's ack, or a "timeout" error when none came.
   * With an attachment the content may be empty. A clientId makes a
   * repeat safe: the server answers it with the original message.
   */
  sendMessage(content: string, attachment?: OutgoingAttachment, clientId?: string): Promise<SendMessageAck>;
  switchRoom(roomId: string): Promise<Ack<{ room: Room }>>;
  /** Tells the room's other members; dropped while offline. */
  typing(typing: boolean): void;
  readonly connectionState: ConnectionState;
  /** When the connection was lost (Date.now()), while it is down; null while up or before the first. */
  readonly offlineSince: number | null;
  /** The rooms as the server's lists and deltas have them: persistent first, then by age. */
  readonly rooms: Room[];
  /** Everyone, sorted by name, as the server's lists and deltas have them. */
  readonly users: User[];
  /** The whole room list after each change. */
  onRoomList(handler: (rooms: Room[]) => void): Unsubscribe;
  /** The whole user list after each change. */
  onUserList(handler: (users: User[]) => void): Unsubscribe;
  onCurrentRoom(handler: (room: Room) => void): Unsubscribe;
  onChatMessage(handler: (message: Message) => void): Unsubscribe;
  onTyping(handler: (event: TypingEvent) => void): Unsubscribe;
  /** The answer to a resume, before the replayed messages. */
  onRecovery(handler: (event: RecoveryEvent) => void): Unsubscribe;
  onConnectionState(handler: (state: ConnectionState) => void): Unsubscribe;
  onSessionEnd(handler: (reason: SessionEnd) => void): Unsubscribe;
}

export interface ChatServiceOptions {
  /** How long a call waits for its ack. */
  ackTimeoutMs?: number;
  /** The first wait before asking for the lists again after a failed get_lists; doubles up to listsRetryMaxMs. */
  listsRetryMs?: number;
  listsRetryMaxMs?: number;
}

const DEFAULT_ACK_TIMEOUT_MS = 10_000;
const DEFAULT_LISTS_RETRY_MS = 1_000;
const DEFAULT_LISTS_RETRY_MAX_MS = 30_000;

export const TIMEOUT_ACK = {
  error: "timeout",
  message: "No answer from the server",
} as const;

export function createChatService(socket: ChatSocket, options: ChatServiceOptions = {}): ChatService {
  const ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
  let state: ConnectionState = "connecting";
  let offlineSince: number | null = null;
  const stateHandlers = new Set<(state: ConnectionState) => void>();
  const endHandlers = new Set<(reason: SessionEnd) => void>();
  const roomHandlers = new Set<(rooms: Room[]) => void>();
  const userHandlers = new Set<(users: User[]) => void>();
  const listsRetryMs = options.listsRetryMs ?? DEFAULT_LISTS_RETRY_MS;
  const listsRetryMaxMs = options.listsRetryMaxMs ?? DEFAULT_LISTS_RETRY_MAX_MS;
  let lists: ListsState = initialListsState;
  let listsFailures = 0;
  let listsRetry: ReturnType<typeof setTimeout> | null = null;

  // The lists live here, not in a component: get_lists replaces both at
  // once, and a hook that subscribes late still finds them.
  const dispatch = (action: ListsAction, retryAfterMs?: number) => {
    const before = lists;
    const { state: next, effect } = reduceLists(lists, action);
    lists = next;
    if (!next.syncing) {
      listsFailures = 0;
      if (listsRetry !== null) clearTimeout(listsRetry);
      listsRetry = null;
    }
    if (next.rooms !== before.rooms) for (const handler of [...roomHandlers]) handler(next.rooms);
    if (next.users !== before.users) for (const handler of [...userHandlers]) handler(next.users);
    if (effect?.type === "get_lists") requestLists(effect.request);
    if (effect?.type === "retry_later") {
      listsFailures += 1;
      const delay = retryAfterMs ?? Math.min(listsRetryMs * 2 ** (listsFailures - 1), listsRetryMaxMs);
      if (listsRetry !== null) clearTimeout(listsRetry);
      listsRetry = setTimeout(() => {
        listsRetry = null;
        dispatch({ type: "retry" });
      }, delay);
    }
  };
  const requestLists = (request: number) => {
    socket.timeout(ackTimeoutMs).emit("get_lists", (err: Error | null, reply: Ack<ListsSnapshot>) => {
      if (err) {
        dispatch({ type: "sync_failed", request });
        return;
      }
      if (!reply.ok) {
        dispatch({ type: "sync_failed", request }, reply.retry_after_ms);
        return;
      }
      const { users, users_version, rooms, rooms_version } = reply;
      dispatch({ type: "synced", request, lists: { users, users_version, rooms, rooms_version } });
    });
  };
  socket.on("lists", (snapshot) => dispatch({ type: "lists", lists: snapshot }));
  socket.on("user_list_delta", (delta) => dispatch({ type: "user_delta", delta }));
  socket.on("room_list_delta", (delta) => dispatch({ type: "room_delta", delta }));
  // A server without the delta extension still sends the whole lists.
  socket.on("user_list_changed", (users) => dispatch({ type: "users_replaced", users }));
  socket.on("room_list_changed", (rooms) => dispatch({ type: "rooms_replaced", rooms }));

  const setState = (next: ConnectionState) => {
    if (next === state) return;
    if (state === "connected") offlineSince = Date.now();
    if (next === "connected") offlineSince = null;
    state = next;
    for (const handler of [...stateHandlers]) handler(next);
  };
  const end = (reason: SessionEnd) => {
    setState("disconnected");
    for (const handler of [...endHandlers]) handler(reason);
  };

  socket.on("connect", () => setState("connected"));
  socket.on("disconnect", (reason) => {
    dispatch({ type: "disconnected" });
    if (reason === "io server disconnect") {
      // The server only does this when the user logged out (docs/protocol.md).
      end("logged_out");
    } else {
      setState(socket.active ? "reconnecting" : "disconnected");
    }
  });
  socket.on("connect_error", (err) => {
    if (err.message === INVALID_TOKEN) {
      end("invalid_token");
    } else {
      setState(socket.active ? "reconnecting" : "disconnected");
    }
  });
  socket.io.on("reconnect_attempt", () => setState("reconnecting"));

  function subscribe<E extends keyof ServerToClientEvents>(event: E, handler: ServerToClientEvents[E]): Unsubscribe {
    // The casts only restate what E says: the typed overloads of on/off do
    // not narrow through a generic event name.
    socket.on(event, handler as never);
    return () => {
      socket.off(event, handler as never);
    };
  }

  function call<T extends object>(
    emit: (callback: (err: Error | null, reply: Ack<T>) => void) => void,
  ): Promise<Ack<T>> {
    return new Promise((resolve) => {
      emit((err, reply) => resolve(err ? { ...TIMEOUT_ACK } : reply));
    });
  }

  return {
    connect() {
      if (state === "disconnected") setState("connecting");
      socket.connect();
    },
    disconnect() {
      socket.disconnect();
      dispatch({ type: "disconnected" });
      setState("disconnected");
    },
    sendMessage(content, attachment, clientId) {
      const payload: SendMessagePayload = attachment
        ? {
            ...(content !== "" ? { content } : {}),
            attachment_id: attachment.id,
            ...(attachment.alt ? { alt: attachment.alt } : {}),
          }
        : { content };
      if (clientId !== undefined) payload.client_id = clientId;
      return call<{ message: Message; duplicate?: boolean }>((cb) =>
        socket.timeout(ackTimeoutMs).emit("send_message", payload, cb),
      );
    },
    switchRoom(roomId) {
      return call<{ room: Room }>((cb) => socket.timeout(ackTimeoutMs).emit("switch_room", { room_id: roomId }, cb));
    },
    typing(typing) {
      if (!socket.connected) return;
      socket.emit("typing", { typing }, () => {});
    },
    get connectionState() {
      return state;
    },
    get offlineSince() {
      return offlineSince;
    },
    get rooms() {
      return lists.rooms;
    },
    get users() {
      return lists.users;
    },
    onRoomList(handler) {
      roomHandlers.add(handler);
      return () => {
        roomHandlers.delete(handler);
      };
    },
    onUserList(handler) {
      userHandlers.add(handler);
      return () => {
        userHandlers.delete(handler);
      };
    },
    onCurrentRoom: (handler) => subscribe("current_room_changed", handler),
    onChatMessage: (handler) => subscribe("chat_message", handler),
    onTyping: (handler) => subscribe("typing", handler),
    onRecovery: (handler) => subscribe("recovery", handler),
    onConnectionState(handler) {
      stateHandlers.add(handler);
      return () => {
        stateHandlers.delete(handler);
      };
    },
    onSessionEnd(handler) {
      endHandlers.add(handler);
      return () => {
        endHandlers.delete(handler);
      };
    },
  };
}
