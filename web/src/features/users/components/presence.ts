import type { User } from "../../../types/events";

export type Presence = "here" | "elsewhere" | "offline";

export function presenceOf(user: User, currentRoomId: string | null): { kind: Presence; label: string } {
  if (!user.online) return { kind: "offline", label: "Offline" };
  const room = user.current_room;
  if (room && room.id === currentRoomId) return { kind: "here", label: "In your room" };
  if (room) return { kind: "elsewhere", label: `In room: ${room.name}` };
  return { kind: "elsewhere", label: "Online" };
}

const presenceOrder: Record<Presence, number> = { here: 0, elsewhere: 1, offline: 2 };

/**
 * Sorted for reading: you, then your room, other rooms, offline; each by
 * name in plain string order (as the server sorts them), ties by id.
 */
export function sortUsers(users: readonly User[], meId: string, currentRoomId: string | null): User[] {
  return [...users].sort((a, b) => {
    if (a.id === meId) return b.id === meId ? 0 : -1;
    if (b.id === meId) return 1;
    const pa = presenceOrder[presenceOf(a, currentRoomId).kind];
    const pb = presenceOrder[presenceOf(b, currentRoomId).kind];
    if (pa !== pb) return pa - pb;
    if (a.name !== b.name) return a.name < b.name ? -1 : 1;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}
