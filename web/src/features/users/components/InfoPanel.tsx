import { Avatar } from "@chatscope/chat-ui-kit-react";
import { useMemo } from "react";
import type { ConnectionState } from "../../../lib/socket";
import type { User } from "../../../types/events";
import { sortUsers } from "./presence";
import { UserList } from "./UserList";

export interface InfoPanelProps {
  me: User;
  users: User[];
  currentRoomId: string | null;
  connection: ConnectionState;
  onLogout(): void;
  id?: string;
  /** The user list's height while it has no layout (tests); see UserList. */
  listFallbackHeight?: number;
}

export { presenceOf, sortUsers, type Presence } from "./presence";

const connectionText: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  disconnected: "Disconnected",
};

/** The right sidebar: who you are, who is here, and the connection. */
export function InfoPanel({ me, users, currentRoomId, connection, onLogout, id, listFallbackHeight }: InfoPanelProps) {
  const sorted = useMemo(() => sortUsers(users, me.id, currentRoomId), [users, me.id, currentRoomId]);
  const online = useMemo(() => users.reduce((n, u) => (u.online ? n + 1 : n), 0), [users]);
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
        <span className="sidebar__count">{online} online</span>
      </div>
      <UserList users={sorted} currentRoomId={currentRoomId} fallbackHeight={listFallbackHeight} />
    </aside>
  );
}
