import { Avatar } from "@chatscope/chat-ui-kit-react";
import type { ConnectionState } from "../../../lib/socket";
import type { User } from "../../../types/events";

export interface InfoPanelProps {
  me: User;
  users: User[];
  currentRoomId: string | null;
  connection: ConnectionState;
  onLogout(): void;
  id?: string;
}

export type Presence = "here" | "elsewhere" | "offline";

export function presenceOf(user: User, currentRoomId: string | null): { kind: Presence; label: string } {
  if (!user.online) return { kind: "offline", label: "Offline" };
  const room = user.current_room;
  if (room && room.id === currentRoomId) return { kind: "here", label: "In your room" };
  if (room) return { kind: "elsewhere", label: `In room: ${room.name}` };
  return { kind: "elsewhere", label: "Online" };
}

const connectionText: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  disconnected: "Disconnected",
};

const presenceOrder: Record<Presence, number> = { here: 0, elsewhere: 1, offline: 2 };

/** Sorted for reading: you, then your room, other rooms, offline; by name. */
export function sortUsers(users: User[], meId: string, currentRoomId: string | null): User[] {
  const collator = new Intl.Collator(undefined, { sensitivity: "base" });
  return [...users].sort((a, b) => {
    if (a.id === meId) return -1;
    if (b.id === meId) return 1;
    const pa = presenceOrder[presenceOf(a, currentRoomId).kind];
    const pb = presenceOrder[presenceOf(b, currentRoomId).kind];
    return pa - pb || collator.compare(a.name, b.name);
  });
}

/** The right sidebar: who you are, who is here, and the connection. */
export function InfoPanel({ me, users, currentRoomId, connection, onLogout, id }: InfoPanelProps) {
  const sorted = sortUsers(users, me.id, currentRoomId);
  return (
    <aside aria-label="Info" className="info" id={id}>
      <section className="info__me">
        <Avatar src={me.avatar_url} size="md" />
        <p className="info__me-name">
          You are logged in as <strong>{me.name}</strong>
        </p>
        <p className={`connection connection--${connection}`} role="status">
          <span className="connection__dot" aria-hidden="true" />
          {connectionText[connection]}
        </p>
        <button type="button" className="button button--small info__logout" onClick={onLogout}>
          Logout
        </button>
      </section>
      <div className="sidebar__header">
        <span className="sidebar__title">Active users</span>
        <span className="sidebar__count">{users.filter((u) => u.online).length} online</span>
      </div>
      <ul aria-label="Active users" className="users">
        {sorted.map((user) => {
          const presence = presenceOf(user, currentRoomId);
          return (
            <li key={user.id} className={`user user--${presence.kind}`}>
              <Avatar src={user.avatar_url} size="sm" />
              <span className="user__text">
                <span className="user__name">{user.name}</span>
                {presence.kind === "elsewhere" && user.current_room ? (
                  <span className="user__where">{user.current_room.name}</span>
                ) : null}
              </span>
              <span className={`status-dot status-dot--${presence.kind}`} title={presence.label}>
                <span className="visually-hidden">{presence.label}</span>
              </span>
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
