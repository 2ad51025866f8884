import { Avatar, Conversation, ConversationList } from "@chatscope/chat-ui-kit-react";
import { useRef, useState, type KeyboardEvent } from "react";
import type { Room } from "../../../types/events";
import { AddRoomDialog } from "./AddRoomDialog";

export interface RoomListProps {
  rooms: Room[];
  currentRoomId: string | null;
  onSelect(roomId: string): void;
  /** Creates a room; rejects with the server's ApiError. */
  createRoom(name: string, description: string): Promise<Room>;
  switchError?: string | null;
  id?: string;
}

export function memberCount(n: number): string {
  return n === 1 ? "1 member" : `${n} members`;
}

/** The left sidebar: every room, live, and the way to add one. */
export function RoomList({ rooms, currentRoomId, onSelect, createRoom, switchError, id }: RoomListProps) {
  const [adding, setAdding] = useState(false);
  const addButton = useRef<HTMLButtonElement>(null);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>, roomId: string) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect(roomId);
    }
  };

  return (
    <nav aria-label="Rooms" className="rooms" id={id}>
      <div className="sidebar__header">
        <span className="sidebar__title">Rooms</span>
        <button ref={addButton} type="button" className="button button--primary button--small" onClick={() => setAdding(true)}>
          <svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14" className="button__icon">
            <path d="M7 2h2v5h5v2H9v5H7V9H2V7h5z" />
          </svg>
          Add new room
        </button>
      </div>
      {switchError ? (
        <p className="rooms__error" role="alert">
          {switchError}
        </p>
      ) : null}
      <ConversationList scrollable={false} className="rooms__list">
        {rooms.map((room) => {
          const current = room.id === currentRoomId;
          return (
            <Conversation
              key={room.id}
              active={current}
              role="button"
              tabIndex={0}
              aria-current={current ? "true" : undefined}
              title={room.name}
              className="room"
              onClick={() => onSelect(room.id)}
              onKeyDown={(event) => onKeyDown(event, room.id)}
            >
              <Avatar src={room.avatar_url} />
              <Conversation.Content>
                <div className="cs-conversation__name room__name">{room.name}</div>
                {room.description ? <div className="cs-conversation__info room__description">{room.description}</div> : null}
                <div className="room__members">{memberCount(room.member_count)}</div>
              </Conversation.Content>
            </Conversation>
          );
        })}
      </ConversationList>
      {adding ? (
        <AddRoomDialog
          createRoom={createRoom}
          onClose={() => {
            setAdding(false);
            addButton.current?.focus();
          }}
        />
      ) : null}
    </nav>
  );
}
