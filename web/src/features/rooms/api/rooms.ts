import { apiRequest } from "../../../lib/api";
import type { Room } from "../../../types/events";

/** POST /api/rooms: creates the room and moves the creator into it. */
export function createRoom(token: string, name: string, description: string): Promise<Room> {
  return apiRequest<Room>("/api/rooms", { method: "POST", token, body: { name, description } });
}
