import { expect } from "vitest";
import type { Attachment, ListDelta, ListsSnapshot, Message, Room, SendMessagePayload, TextMessage, Upload, User } from "../types/events";
import { MessageType } from "../types/events";

export const defaultRoom: Room = {
  id: "_default",
  name: "Default Room",
  description: "You join here by default",
  persistent: true,
  avatar_url: "/api/avatars/rooms/_default.svg",
  member_count: 2,
};

export const lobby: Room = {
  id: "r1",
  name: "Lobby",
  description: "Say hello",
  persistent: false,
  avatar_url: "/api/avatars/rooms/r1.svg",
  member_count: 1,
};

export function user(name: string, overrides: Partial<User> = {}): User {
  const id = `u-${name.toLowerCase()}`;
  return {
    id,
    name,
    avatar_url: `/api/avatars/users/${id}.svg`,
    online: true,
    current_room: { id: defaultRoom.id, name: defaultRoom.name },
    created_at: 1_732_480_000_000,
    ...overrides,
  };
}

export const peter = user("Peter");
export const anna = user("Anna");
export const boris = user("Boris");

/** 14:05 local time on a fixed day. */
export function at(hours: number, minutes: number): number {
  return new Date(2024, 10, 24, hours, minutes, 0).getTime();
}

let seq = 0;

export function textMessage(sender: User, content: string, overrides: Partial<TextMessage> = {}): TextMessage {
  seq += 1;
  return {
    id: `m${seq}`,
    room_id: defaultRoom.id,
    seq,
    type: MessageType.Text,
    timestamp: at(14, 5),
    sender,
    content,
    ...overrides,
  };
}

export function notice(kind: "joined" | "left", who: User, overrides: Partial<Message> = {}): Message {
  seq += 1;
  return {
    id: `m${seq}`,
    room_id: defaultRoom.id,
    seq,
    type: kind === "joined" ? MessageType.Joined : MessageType.Left,
    timestamp: at(14, 5),
    user: who,
    ...overrides,
  } as Message;
}

/** The server's answer to an upload of a width × height image. */
export function upload(id: string, width = 1600, height = 1200): Upload {
  return {
    id,
    url: `/api/attachments/${id}`,
    thumbnail_url: `/api/attachments/${id}/thumbnail`,
    content_type: "image/png",
    width,
    height,
    size: 183_422,
    expires_at: 1_732_523_200_000,
  };
}

/** The attachment a message carries for an upload. */
export function attachmentOf(u: Upload, alt?: string): Attachment {
  return {
    id: u.id,
    url: u.url,
    thumbnail_url: u.thumbnail_url,
    width: u.width,
    height: u.height,
    content_type: u.content_type,
    ...(alt !== undefined ? { alt } : {}),
  };
}

/** A message carrying an image; content absent unless given (as the server sends it). */
export function imageMessage(sender: User, attachment: Attachment, content?: string, overrides: Partial<TextMessage> = {}): TextMessage {
  const message = textMessage(sender, content ?? "", { attachment, ...overrides });
  if (content === undefined) delete message.content;
  return message;
}

/** A small file as the picker, a paste or a drop would give it. */
export function imageFile(name = "cat.png", type = "image/png"): File {
  return new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])], name, { type });
}

/** A send_message payload as the web client sends it: with a UUID as its client_id. */
export function sent(payload: SendMessagePayload): SendMessagePayload {
  return { ...payload, client_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/) };
}

/** The lists event (or get_lists answer) of these users and rooms, at these versions. */
export function listsOf(users: User[], rooms: Room[], usersVersion = 1, roomsVersion = 1): ListsSnapshot {
  return { users, users_version: usersVersion, rooms, rooms_version: roomsVersion };
}

/** A list delta of this version. */
export function delta<T>(version: number, upsert: T[] = [], remove: string[] = []): ListDelta<T> {
  return { version, upsert, remove };
}
