import { useCallback, useEffect, useRef } from "react";
import type { ChatService } from "../../../lib/socket";

/** Typing starts are sent at most this often; the server forgets one after 5 s. */
export const TYPING_THROTTLE_MS = 2_000;

export interface TypingNotifier {
  /** Call on every change of the draft. */
  changed(draft: string): void;
  /** Call when the draft was sent or abandoned. */
  stopped(): void;
}

/** Tells the room that we are typing, without a packet per keystroke. */
export function useTypingNotifier(service: ChatService, roomId: string | null): TypingNotifier {
  const lastStart = useRef(0);

  const stopped = useCallback(() => {
    if (lastStart.current === 0) return;
    lastStart.current = 0;
    service.typing(false);
  }, [service]);

  const changed = useCallback(
    (draft: string) => {
      if (draft.trim() === "") {
        stopped();
        return;
      }
      const now = Date.now();
      if (now - lastStart.current >= TYPING_THROTTLE_MS) {
        lastStart.current = now;
        service.typing(true);
      }
    },
    [service, stopped],
  );

  // A new room starts with nobody typing; leaving a room ends our typing.
  useEffect(() => () => stopped(), [roomId, stopped]);

  return { changed, stopped };
}
