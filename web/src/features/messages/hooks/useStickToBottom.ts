import { useCallback, useEffect, useLayoutEffect, useRef, useState, type RefObject } from "react";

/** Within this many pixels of the end counts as reading the latest. */
const NEAR_BOTTOM_PX = 32;

export interface StickInput {
  roomId: string | null;
  /** How many entries the list shows. */
  count: number;
  /** The key of the last entry: a new one means something arrived at the end. */
  lastKey: string | null;
  /** The last entry is one we are sending: always show it. */
  lastIsLocal: boolean;
}

export interface StickToBottom {
  /** Entries that arrived while the reader was scrolled up. */
  unseen: number;
  jumpToLatest(behavior: ScrollBehavior): void;
}

/**
 * Keeps the conversation at its latest message while the reader is there,
 * and leaves it alone (counting what arrives) once they scrolled up.
 * Works on chat-ui-kit's MessageList, found inside the given pane.
 */
export function useStickToBottom(paneRef: RefObject<HTMLElement | null>, input: StickInput): StickToBottom {
  const { roomId, count, lastKey, lastIsLocal } = input;
  const stick = useRef(true);
  const [unseen, setUnseen] = useState(0);
  const previous = useRef({ count, lastKey, lastIsLocal });

  const container = useCallback(
    () => paneRef.current?.querySelector<HTMLElement>("[data-cs-message-list]") ?? null,
    [paneRef],
  );

  const toBottom = useCallback(
    (behavior: ScrollBehavior) => {
      const el = container();
      if (!el) return;
      if (typeof el.scrollTo === "function") el.scrollTo({ top: el.scrollHeight, behavior });
      else el.scrollTop = el.scrollHeight;
    },
    [container],
  );

  useEffect(() => {
    const el = container();
    if (!el) return;
    const onScroll = () => {
      const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight <= NEAR_BOTTOM_PX;
      stick.current = atBottom;
      if (atBottom) setUnseen(0);
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => el.removeEventListener("scroll", onScroll);
  }, [container]);

  // A new room opens at its latest message.
  useLayoutEffect(() => {
    stick.current = true;
    setUnseen(0);
  }, [roomId]);

  useLayoutEffect(() => {
    const before = previous.current;
    previous.current = { count, lastKey, lastIsLocal };
    if (lastKey === null || lastKey === before.lastKey) return;
    if (stick.current || lastIsLocal) {
      stick.current = true;
      toBottom("auto");
      return;
    }
    // Our message confirmed in place is nothing new; a grown list is.
    const added = count > before.count ? count - before.count : before.lastIsLocal ? 0 : 1;
    if (added > 0) setUnseen((n) => n + added);
  }, [count, lastKey, lastIsLocal, toBottom]);

  const jumpToLatest = useCallback(
    (behavior: ScrollBehavior) => {
      stick.current = true;
      setUnseen(0);
      toBottom(behavior);
    },
    [toBottom],
  );

  return { unseen, jumpToLatest };
}
