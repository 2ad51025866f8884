import type { Message, Room, TextMessage, User } from "../types/events";
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
