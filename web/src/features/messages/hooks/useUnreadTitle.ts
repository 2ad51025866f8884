import { useEffect, useState } from "react";
import type { ChatService } from "../../../lib/socket";
import { MessageType } from "../../../types/events";

export const APP_TITLE = "ChatRooms";

/**
 * While the tab is hidden, counts the messages others send and shows the
 * count in the tab title: "(3) ChatRooms". Seeing the tab again clears it.
 */
export function useUnreadTitle(service: ChatService, meId: string): number {
  const [unread, setUnread] = useState(0);

  useEffect(() => {
    const onVisibility = () => {
      if (!document.hidden) setUnread(0);
    };
    document.addEventListener("visibilitychange", onVisibility);
    const off = service.onChatMessage((message) => {
      if (document.hidden && message.type === MessageType.Text && message.sender.id !== meId) {
        setUnread((n) => n + 1);
      }
    });
    return () => {
      document.removeEventListener("visibilitychange", onVisibility);
      off();
    };
  }, [service, meId]);

  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) ${APP_TITLE}` : APP_TITLE;
  }, [unread]);

  useEffect(
    () => () => {
      document.title = APP_TITLE;
    },
    [],
  );

  return unread;
}
