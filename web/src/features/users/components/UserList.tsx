import { Avatar } from "@chatscope/chat-ui-kit-react";
import {
  measureElement,
  observeElementRect,
  useVirtualizer,
  type Rect,
  type Virtualizer,
} from "@tanstack/react-virtual";
import { useCallback, useRef } from "react";
import type { User } from "../../../types/events";
import { presenceOf } from "./presence";

export interface UserListProps {
  /** In the order to show them. */
  users: User[];
  currentRoomId: string | null;
  /**
   * The height (px) to assume while the list has no layout of its own: in
   * jsdom, or while a closed drawer hides it. The real height wins as soon
   * as there is one.
   */
  fallbackHeight?: number;
}

/** Estimated row heights (px): one line, and with the other room's name below. */
export const ROW_HEIGHT = 42;
export const ROW_HEIGHT_WITH_ROOM = 56;
/** Rows rendered beyond each end of the visible ones. */
export const OVERSCAN = 8;
export const DEFAULT_FALLBACK_HEIGHT = 600;
/** The list's bottom padding (px), as 1rem. */
const PADDING_END = 16;

/**
 * Active users, virtualised: only the rows in view (and OVERSCAN more each
 * way) are in the DOM, so thousands of users scroll smoothly. Each row is
 * still a listitem of the list "Active users", with its position in the
 * whole list (aria-setsize / aria-posinset).
 */
export function UserList({ users, currentRoomId, fallbackHeight = DEFAULT_FALLBACK_HEIGHT }: UserListProps) {
  const scrollRef = useRef<HTMLDivElement>(null);

  const estimateSize = useCallback(
    (index: number) => {
      const user = users[index];
      return user && presenceOf(user, currentRoomId).kind === "elsewhere" && user.current_room
        ? ROW_HEIGHT_WITH_ROOM
        : ROW_HEIGHT;
    },
    [users, currentRoomId],
  );

  // useVirtualizer returns an instance whose methods change under it: the
  // React Compiler would skip this component, which is what we want (the
  // app is not compiled anyway), and the lint says so for this one call.
  // eslint-disable-next-line react-hooks/incompatible-library -- TanStack Virtual cannot be memoized; known and accepted
  const virtualizer = useVirtualizer<HTMLDivElement, HTMLLIElement>({
    count: users.length,
    getScrollElement: () => scrollRef.current,
    estimateSize,
    getItemKey: (index) => users[index]?.id ?? index,
    overscan: OVERSCAN,
    paddingEnd: PADDING_END,
    initialRect: { width: 0, height: fallbackHeight },
    // No layout (jsdom, display: none): assume fallbackHeight until a real size comes.
    observeElementRect: (instance: Virtualizer<HTMLDivElement, HTMLLIElement>, cb: (rect: Rect) => void) =>
      observeElementRect(instance, (rect) => cb(rect.height > 0 ? rect : { width: rect.width, height: fallbackHeight })),
    // Rows are measured where there is layout; where there is none, the estimate stands.
    measureElement: (element, entry, instance) => {
      const size = measureElement(element, entry, instance);
      return size > 0 ? size : instance.options.estimateSize(instance.indexFromElement(element));
    },
    useFlushSync: false,
  });

  return (
    <div ref={scrollRef} className="users-scroll">
      <ul aria-label="Active users" className="users" style={{ height: virtualizer.getTotalSize() }}>
        {virtualizer.getVirtualItems().map((item) => {
          const user = users[item.index];
          if (!user) return null;
          const presence = presenceOf(user, currentRoomId);
          return (
            <li
              key={item.key}
              ref={virtualizer.measureElement}
              data-index={item.index}
              aria-setsize={users.length}
              aria-posinset={item.index + 1}
              className={`user user--${presence.kind}`}
              style={{ transform: `translateY(${item.start}px)` }}
            >
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
    </div>
  );
}
