import { useCallback, useEffect, useMemo, useState } from "react";
import type { ChatService } from "../../../lib/socket";
import type { Room } from "../../../types/events";

export interface RoomsState {
  rooms: Room[];
  /** The user's room, with the freshest details the room list has. */
  currentRoom: Room | null;
  /** Asks the server to move the user; current_room_changed follows. */
  switchRoom(roomId: string): Promise<void>;
  /** The server's answer to a failed switch, until the next switch. */
  switchError: string | null;
}

export function useRooms(service: ChatService): RoomsState {
  const [rooms, setRooms] = useState<Room[]>(() => service.rooms);
  const [current, setCurrent] = useState<Room | null>(null);
  const [switchError, setSwitchError] = useState<string | null>(null);

  useEffect(() => {
    // What came between the first render and this subscription.
    setRooms(service.rooms);
    const offList = service.onRoomList(setRooms);
    const offCurrent = service.onCurrentRoom((room) => {
      setCurrent(room);
      setSwitchError(null);
    });
    return () => {
      offList();
      offCurrent();
    };
  }, [service]);

  const currentRoom = useMemo(() => {
    if (!current) return null;
    return rooms.find((room) => room.id === current.id) ?? current;
  }, [rooms, current]);

  const switchRoom = useCallback(
    async (roomId: string) => {
      setSwitchError(null);
      const reply = await service.switchRoom(roomId);
      if (!reply.ok) setSwitchError(reply.message);
    },
    [service],
  );

  return { rooms, currentRoom, switchRoom, switchError };
}
