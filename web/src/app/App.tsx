import { useState } from "react";
import { LoginPage } from "../features/auth/components/LoginPage";
import { NOTICE_ENDED, NOTICE_LOGGED_OUT, useSession } from "../features/auth/hooks/useSession";
import type { Session } from "../features/auth/api/auth";
import { createChatService, createChatSocket, type ChatService, type ChatSocket } from "../lib/socket";
import { ChatScreen } from "./ChatScreen";

export interface AppProps {
  /** Opens the /chat socket for a token; tests pass a fake. */
  createSocket?: (token: string) => ChatSocket;
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
    return <LoginPage onLogin={login} notice={state.notice} />;
  }
  return (
    <ChatSession
      key={state.session.token}
      session={state.session}
      createSocket={createSocket}
      onLogout={logout}
      onEnd={(reason) => end(reason === "logged_out" ? NOTICE_LOGGED_OUT : NOTICE_ENDED)}
    />
  );
}

interface ChatSessionProps {
  session: Session;
  createSocket: (token: string) => ChatSocket;
  onLogout(): Promise<void>;
  onEnd(reason: "invalid_token" | "logged_out"): void;
}

/** One socket per login: made here, connected by ChatScreen. */
function ChatSession({ session, createSocket, onLogout, onEnd }: ChatSessionProps) {
  const [service] = useState<ChatService>(() => createChatService(createSocket(session.token)));
  return <ChatScreen session={session} service={service} onLogout={onLogout} onSessionEnd={onEnd} />;
}
