import { useState } from "react";
import { LoginPage } from "../features/auth/components/LoginPage";
import { NOTICE_LOGGED_OUT, sessionEndedNotice, useSession } from "../features/auth/hooks/useSession";
import type { Session } from "../features/auth/api/auth";
import { clearConversation, clearView, loadResumePoint, restoreConversation } from "../features/messages/api/storage";
import {
  createChatService,
  createChatSocket,
  type ChatService,
  type ChatSocket,
  type ResumeSource,
  type SessionEnd,
} from "../lib/socket";
import { createChatStore, type ChatStore } from "../lib/store";
import { ChatScreen } from "./ChatScreen";

export interface AppProps {
  /** Opens the /chat socket for a token, resuming from where the view is; tests pass a fake. */
  createSocket?: (token: string, resume: ResumeSource) => ChatSocket;
}

/** Login page or chat screen, as the stored session says. */
export function App({ createSocket = createChatSocket }: AppProps) {
  const { state, login, logout, end } = useSession();

  if (state.status === "checking") {
    return (
      <div className="splash" role="status">
        Loading ChatRooms…
      </div>
    );
  }
  if (state.status === "anonymous") {
    return <LoginPage onLogin={login} notice={state.notice} nickname={state.nickname} />;
  }
  const { session } = state;
  return (
    <ChatSession
      key={session.token}
      session={session}
      createSocket={createSocket}
      onLogout={async () => {
        await logout();
        // Logged out on purpose: nothing of the conversation stays in the tab.
        clearConversation();
      }}
      onEnd={(reason, awayMs) => {
        if (reason === "logged_out") {
          clearConversation();
          end(NOTICE_LOGGED_OUT);
        } else {
          // Expired: the login page says why; drafts and unsent messages stay.
          clearView();
          end(sessionEndedNotice(awayMs), session.user.name);
        }
      }}
    />
  );
}

interface ChatSessionProps {
  session: Session;
  createSocket: (token: string, resume: ResumeSource) => ChatSocket;
  onLogout(): Promise<void>;
  onEnd(reason: SessionEnd, awayMs?: number | null): void;
}

/**
 * One socket per login, and the store over it: made here, connected by
 * ChatScreen; every connect resumes the stored view.
 */
function ChatSession({ session, createSocket, onLogout, onEnd }: ChatSessionProps) {
  const [{ service, store }] = useState<{ service: ChatService; store: ChatStore }>(() => {
    const service = createChatService(createSocket(session.token, () => loadResumePoint(session.user.id)));
    return { service, store: createChatStore(service, restoreConversation(session.user.id)) };
  });
  return <ChatScreen session={session} service={service} store={store} onLogout={onLogout} onSessionEnd={onEnd} />;
}
