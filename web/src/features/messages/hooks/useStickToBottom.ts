import { useCallback, useEffect, useLayoutEffect, useRef, useState, type RefObject } from "react";

/** Nothing unseen, in any room. */
const NONE_UNSEEN = { roomId: null, unseen: 0 };

/** Within this many pixels of the end counts as reading the latest. */
const NEAR_BOTTOM_PX = 32;

export interface StickInput {
  roomId: string | null;
  /** How many entries the list shows (the log and, after it, our unconfirmed messages). */
  count: number;
  /** The key of the log's last entry: a new one means something arrived at its end. */
  lastKey: string | null;
  /** How many of ours are unconfirmed: one more means we just sent one, which is always shown. */
  outgoing: number;
}

export interface StickToBottom {
  /** Entries that arrived while the reader was scrolled up. */
  unseen: number;
  /** Scrolls to the latest entry once the list has rendered, and stays there. */
  jumpToLatest(): void;
}

/**
 * Keeps the conversation at its latest message while the reader is there,
 * and leaves it alone (counting what arrives) once they scrolled up.
 * Works on chat-ui-kit's MessageList, found inside the given pane.
 */
export function useStickToBottom(paneRef: RefObject<HTMLElement | null>, input: StickInput): StickToBottom {
  const { roomId, count, lastKey, outgoing } = input;
  const stick = useRef(true);
  // Counted for a room: another room starts at none.
  const [counted, setCounted] = useState({ roomId, unseen: 0 });
  const unseen = counted.roomId === roomId ? counted.unseen : 0;
  const previous = useRef({ count, lastKey, outgoing });

  const container = useCallback(
    () => paneRef.current?.querySelector<HTMLElement>("[data-cs-message-list]") ?? null,
    [paneRef],
  );

  // Instant, on the scroll container itself: chat-ui-kit's MessageList
  // puts its scroll position back on every re-render, which would cut a
  // smooth scroll short.
  const toBottom = useCallback(() => {
    const el = container();
    if (el) el.scrollTop = el.scrollHeight;
  }, [container]);

  useEffect(() => {
    const el = container();
    if (!el) return;
    const onScroll = () => {
      const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight <= NEAR_BOTTOM_PX;
      stick.current = atBottom;
      if (atBottom) setCounted(NONE_UNSEEN);
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => el.removeEventListener("scroll", onScroll);
  }, [container]);

  // A new room opens at its latest message.
  useLayoutEffect(() => {
    stick.current = true;
  }, [roomId]);

  useLayoutEffect(() => {
    const before = previous.current;
    previous.current = { count, lastKey, outgoing };
    const sent = outgoing > before.outgoing;
    const arrived = lastKey !== before.lastKey || count > before.count;
    if (!sent && !arrived) return;
    if (stick.current || sent) {
      stick.current = true;
      toBottom();
      return;
    }
    // A grown list is new; so is a new last entry in a full one, unless it
    // is our own message, confirmed (it leaves the outgoing ones).
    const added = count > before.count ? count - before.count : outgoing < before.outgoing ? 0 : 1;
    if (added > 0) setCounted((now) => ({ roomId, unseen: (now.roomId === roomId ? now.unseen : 0) + added }));
  }, [roomId, count, lastKey, outgoing, toBottom]);

  // A jump is made after the render it causes (the pill goes away), in a
  // layout effect of ours, which runs after the MessageList's own update.
  const [jumps, setJumps] = useState(0);
  useLayoutEffect(() => {
    if (jumps > 0) toBottom();
  }, [jumps, toBottom]);

  const jumpToLatest = useCallback(() => {
    stick.current = true;
    setCounted(NONE_UNSEEN);
    setJumps((n) => n + 1);
  }, []);

  return { unseen, jumpToLatest };
}
