// The one place that knows about socket.io-client. Components get a
// ChatService: typed calls that resolve with the server's acknowledgement,
// and on… subscriptions that return their own unsubscribe function.
import { io, type Socket } from "socket.io-client";
import {
  INVALID_TOKEN,
  type Ack,
  type ChatAuth,
  type ClientToServerEvents,
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

/** The auth payload of one connect. */
export function chatAuth(token: string, resume: ResumePoint | null): ChatAuth {
  return resume ? { token, resume } : { token };
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
  /** Connects (again); the server then sends rooms, users and the current room. */
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
  onRoomList(handler: (rooms: Room[]) => void): Unsubscribe;
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
}

const DEFAULT_ACK_TIMEOUT_MS = 10_000;

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
    onRoomList: (handler) => subscribe("room_list_changed", handler),
    onUserList: (handler) => subscribe("user_list_changed", handler),
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
