import { MainContainer, Sidebar } from "@chatscope/chat-ui-kit-react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { uploadAttachment } from "../features/attachments/api/upload";
import type { ReadyAttachment, Uploader } from "../features/attachments/hooks/useAttachmentDraft";
import type { Session } from "../features/auth/api/auth";
import { ConversationPane } from "../features/messages/components/ConversationPane";
import { useConnectionBanner } from "../features/messages/hooks/useConnectionBanner";
import { useMessages } from "../features/messages/hooks/useMessages";
import { useTypingNotifier } from "../features/messages/hooks/useTypingNotifier";
import { useTypingUsers } from "../features/messages/hooks/useTypingUsers";
import { useUnreadTitle } from "../features/messages/hooks/useUnreadTitle";
import { createRoom } from "../features/rooms/api/rooms";
import { RoomList } from "../features/rooms/components/RoomList";
import { InfoPanel } from "../features/users/components/InfoPanel";
import { useClientConfig } from "../lib/config";
import type { ChatService, SessionEnd } from "../lib/socket";
import { useChatState, type ChatStore } from "../lib/store";

export interface ChatScreenProps {
  session: Session;
  service: ChatService;
  /** The state of service's connection; made with it, before it connects (createChatStore). */
  store: ChatStore;
  onLogout(): Promise<void>;
  /**
   * The server ended the session; awayMs is how long the connection had
   * been down when it refused us (null when it had not been up).
   */
  onSessionEnd(reason: SessionEnd, awayMs?: number | null): void;
}

type Panel = "rooms" | "users" | null;

const ROOMS_ID = "rooms-panel";
const USERS_ID = "users-panel";

/**
 * The chat: rooms on the left, the conversation in the middle, you and the
 * others on the right. On a phone the sidebars slide in over the middle.
 */
export function ChatScreen({ session, service, store, onLogout, onSessionEnd }: ChatScreenProps) {
  const { token, user } = session;
  const config = useClientConfig();

  // The store listens to the service from before the connect: the hooks
  // below may come in any order.
  useEffect(() => {
    service.connect();
    return () => service.disconnect();
  }, [service]);

  const messages = useMessages(service, store, user.id);
  const rooms = useChatState(store, (s) => s.rooms);
  const users = useChatState(store, (s) => s.users);
  // After a reload the stored view's room shows (with what it held) before the server names it.
  const currentRoom = useChatState(store, (s) => s.currentRoom);
  const switchError = useChatState(store, (s) => s.switchError);
  const connection = useChatState(store, (s) => s.connection);
  const banner = useConnectionBanner(connection);
  const typingUsers = useTypingUsers(service, user.id, currentRoom?.id ?? null, config);
  const notifier = useTypingNotifier(service, currentRoom?.id ?? null);
  useUnreadTitle(service, user.id);

  const me = useMemo(() => users.find((u) => u.id === user.id) ?? user, [users, user]);
  const [panel, setPanel] = useState<Panel>(null);
  const roomsToggle = useRef<HTMLButtonElement>(null);
  const usersToggle = useRef<HTMLButtonElement>(null);
  const loggingOut = useRef(false);

  const onSessionEndRef = useRef(onSessionEnd);
  useEffect(() => {
    onSessionEndRef.current = onSessionEnd;
  }, [onSessionEnd]);
  useEffect(
    () =>
      service.onSessionEnd((reason) => {
        // Our own logout makes the server disconnect us: that is expected.
        if (loggingOut.current) return;
        const since = service.offlineSince;
        if (reason === "invalid_token") onSessionEndRef.current(reason, since === null ? null : Date.now() - since);
        else onSessionEndRef.current(reason);
      }),
    [service],
  );

  const closePanel = useCallback(() => {
    if (panel === "rooms") roomsToggle.current?.focus();
    if (panel === "users") usersToggle.current?.focus();
    setPanel(null);
  }, [panel]);

  // An opened drawer takes the focus: the current room, or the first control.
  useEffect(() => {
    if (!panel) return;
    const drawer = document.getElementById(panel === "rooms" ? ROOMS_ID : USERS_ID);
    const target =
      drawer?.querySelector<HTMLElement>('[aria-current="true"]') ?? drawer?.querySelector<HTMLElement>("button");
    target?.focus();
  }, [panel]);

  useEffect(() => {
    if (!panel) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") closePanel();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [panel, closePanel]);

  const selectRoom = (roomId: string) => {
    setPanel(null);
    if (roomId !== currentRoom?.id) void store.switchRoom(roomId);
  };

  const send = (content: string, attachment?: ReadyAttachment) => {
    notifier.stopped();
    messages.send(content, attachment);
  };

  // An upload refused for the token ends the session like any other 401.
  const upload = useCallback<Uploader>(
    async (file, options) => {
      const result = await uploadAttachment(token, file, { ...options, limits: config });
      if (!result.ok && result.status === 401) onSessionEndRef.current("invalid_token");
      return result;
    },
    [token, config],
  );

  const logout = async () => {
    loggingOut.current = true;
    await onLogout();
  };

  const toggle = (which: Exclude<Panel, null>) => setPanel((open) => (open === which ? null : which));

  return (
    <div className={`app${panel ? ` app--${panel}-open` : ""}`}>
      <MainContainer className="app__main">
        <Sidebar position="left" scrollable={false} className="app__rooms">
          <RoomList
            id={ROOMS_ID}
            rooms={rooms}
            currentRoomId={currentRoom?.id ?? null}
            onSelect={selectRoom}
            createRoom={(name, description) => createRoom(token, name, description)}
            switchError={switchError}
          />
        </Sidebar>
        {currentRoom ? (
          <ConversationPane
            room={currentRoom}
            me={me}
            entries={messages.entries}
            typingUsers={typingUsers}
            onSend={send}
            uploadAttachment={upload}
            onRetry={messages.retry}
            onEdit={messages.edit}
            banner={banner}
            onDraftChange={notifier.changed}
            headerStart={
              <button
                ref={roomsToggle}
                type="button"
                className="icon-button panel-toggle"
                aria-expanded={panel === "rooms"}
                aria-controls={ROOMS_ID}
                onClick={() => toggle("rooms")}
              >
                <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22">
                  <path d="M3 5h18v2H3zm0 6h18v2H3zm0 6h18v2H3z" />
                </svg>
                <span className="visually-hidden">Show rooms</span>
              </button>
            }
            headerEnd={
              <button
                ref={usersToggle}
                type="button"
                className="icon-button panel-toggle"
                aria-expanded={panel === "users"}
                aria-controls={USERS_ID}
                onClick={() => toggle("users")}
              >
                <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22">
                  <path d="M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-3.3 0-7 1.6-7 4v2h14v-2c0-2.4-3.7-4-7-4zm7.5-2a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zm.5 2c-.5 0-1 0-1.5.1 1.5.9 2.5 2.2 2.5 3.9v2h5v-2c0-2.3-3.3-4-6-4z" />
                </svg>
                <span className="visually-hidden">Show users</span>
              </button>
            }
          />
        ) : (
          // Until the server has put this connection in a room, messages
          // sent to the room would not reach us: show no conversation yet.
          <div className="conversation conversation--waiting">
            <p role="status" className="conversation__waiting">
              {connection === "reconnecting" ? "Reconnecting…" : "Connecting…"}
            </p>
          </div>
        )}
        <Sidebar position="right" scrollable={false} className="app__info">
          <InfoPanel
            id={USERS_ID}
            me={me}
            users={users}
            currentRoomId={currentRoom?.id ?? null}
            connection={connection}
            onLogout={() => void logout()}
          />
        </Sidebar>
      </MainContainer>
      {panel ? <div className="app__backdrop" aria-hidden="true" onClick={() => setPanel(null)} /> : null}
    </div>
  );
}
