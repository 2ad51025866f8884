// The server contract of docs/protocol.md, as TypeScript types: the objects,
// the error codes, and the Socket.IO events of namespace /chat.

/** A room as a user's current_room names it. */
export interface RoomRef {
  id: string;
  name: string;
}

/** A user; never carries the token. */
export interface User {
  id: string;
  name: string;
  avatar_url: string;
  online: boolean;
  current_room: RoomRef | null;
  /** Unix milliseconds. */
  created_at: number;
}

export interface Room {
  id: string;
  name: string;
  description: string;
  persistent: boolean;
  avatar_url: string;
  member_count: number;
}

export const MessageType = {
  Text: 0,
  Joined: 1,
  Left: 2,
} as const;

interface MessageBase {
  id: string;
  room_id: string;
  /** Increases within a room; gaps are normal. */
  seq: number;
  /** Unix milliseconds. */
  timestamp: number;
  /** The sender's own id for it, when send_message carried one. */
  client_id?: string;
}

/** An image carried by a text message. */
export interface Attachment {
  id: string;
  /** The full image (same origin). */
  url: string;
  /** At most 320 px on its longer side. */
  thumbnail_url: string;
  /** Of the full image, in pixels. */
  width: number;
  height: number;
  content_type: string;
  /** The sender's description; absent when none was given. */
  alt?: string;
}

/** The answer of POST /api/attachments: an image ready to be sent. */
export interface Upload {
  id: string;
  url: string;
  thumbnail_url: string;
  content_type: string;
  width: number;
  height: number;
  /** Bytes, after re-encoding. */
  size: number;
  /** Unix milliseconds; sending it after that fails with attachment_not_found. */
  expires_at: number;
}

export interface TextMessage extends MessageBase {
  type: typeof MessageType.Text;
  sender: User;
  /** Absent (or empty) when the message is only an image. */
  content?: string;
  attachment?: Attachment;
}

export interface NoticeMessage extends MessageBase {
  type: typeof MessageType.Joined | typeof MessageType.Left;
  user: User;
}

export type Message = TextMessage | NoticeMessage;

/** The stable error codes; unknown codes are still possible. */
export type ErrorCode =
  | "invalid_request"
  | "invalid_username"
  | "username_taken"
  | "invalid_room"
  | "room_name_taken"
  | "room_not_found"
  | "invalid_message"
  | "unauthorized"
  | "invalid_token"
  | "too_large"
  | "rate_limited"
  | "unsupported_type"
  | "invalid_image"
  | "attachment_not_found"
  | "unavailable"
  | "not_found";

/** Every error the server sends: a stable code and a message for people. */
export interface ApiErrorBody {
  error: ErrorCode | (string & {});
  message: string;
  /** With rate_limited: how long to wait before the same call can succeed. */
  retry_after_ms?: number;
}

/** An acknowledgement: {"ok": true, …} or an error. */
export type Ack<T extends object = object> = ({ ok: true } & T) | ({ ok?: undefined } & ApiErrorBody);

export interface TypingEvent {
  user: User;
  typing: boolean;
}

/**
 * The full lists and their versions: a delta client's first event on
 * connect (before current_room_changed), and the answer of get_lists.
 */
export interface ListsSnapshot {
  /** Sorted by name. */
  users: User[];
  users_version: number;
  /** Persistent rooms first, then by age. */
  rooms: Room[];
  rooms_version: number;
}

/**
 * One change of a list: its version is the list's previous version + 1.
 * Upserts replace by id or add; removes are ids.
 */
export interface ListDelta<T> {
  version: number;
  upsert: T[];
  remove: string[];
}

export interface ServerToClientEvents {
  chat_message: (message: Message) => void;
  current_room_changed: (room: Room) => void;
  /** Only to a client that did not ask for deltas. */
  room_list_changed: (rooms: Room[]) => void;
  /** Only to a client that did not ask for deltas. */
  user_list_changed: (users: User[]) => void;
  /** To a delta client: the full lists, on every connect. */
  lists: (lists: ListsSnapshot) => void;
  user_list_delta: (delta: ListDelta<User>) => void;
  room_list_delta: (delta: ListDelta<Room>) => void;
  typing: (event: TypingEvent) => void;
  recovery: (event: RecoveryEvent) => void;
}

/** Why the server could not replay what a resuming client missed. */
export type RecoveryReason = "room_changed" | "not_a_member" | "window_passed" | "invalid_seq";

/**
 * The answer to a resume: recovered, and the missed chat_message events
 * follow in order; or not, and nothing is replayed.
 */
export interface RecoveryEvent {
  room_id: string;
  recovered: boolean;
  reason?: RecoveryReason | (string & {});
}

/** send_message: text, an uploaded image, or both. */
export interface SendMessagePayload {
  content?: string;
  /** An Upload's id; only the uploader may send it, before it expires. */
  attachment_id?: string;
  /** The image's description: one line, at most 200 characters. */
  alt?: string;
  /** Our id for the message: a repeat within 2 minutes is answered, not sent again. */
  client_id?: string;
}

/** The ack of send_message; duplicate when the client_id was seen before. */
export type SendMessageAck = Ack<{ message: Message; duplicate?: boolean }>;

export interface ClientToServerEvents {
  send_message: (payload: SendMessagePayload, ack: (reply: SendMessageAck) => void) => void;
  switch_room: (payload: { room_id: string }, ack: (reply: Ack<{ room: Room }>) => void) => void;
  typing: (payload: { typing: boolean }, ack: (reply: Ack) => void) => void;
  /** A delta client that saw a gap asks for the full lists again. */
  get_lists: (ack: (reply: Ack<ListsSnapshot>) => void) => void;
}

/** The auth payload of the /chat namespace. */
export interface ChatAuth {
  token: string;
  /** The last seq seen in the current room: the server replays what came after. */
  resume?: ResumePoint;
  /** "delta": lists, then user_list_delta/room_list_delta instead of the *_list_changed events. */
  lists?: "delta";
}

export interface ResumePoint {
  room_id: string;
  after_seq: number;
}

/** The connect_error message for a missing, invalid or expired token. */
export const INVALID_TOKEN = "invalid_token";
