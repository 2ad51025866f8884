import { useEffect, useState } from "react";
import { typingExpiryMs, type ClientConfig } from "../../../lib/config";
import type { ChatService } from "../../../lib/socket";
import { MessageType, type User } from "../../../types/events";

const NOBODY: User[] = [];

/**
 * The other people typing in the current room, in the order they started.
 * A start not renewed within typingExpiryMs(config) is over.
 */
export function useTypingUsers(service: ChatService, meId: string, roomId: string | null, config: ClientConfig): User[] {
  // Who types in which room: a new room starts with nobody, without an extra render.
  const [typing, setTyping] = useState<{ roomId: string | null; users: User[] }>({ roomId, users: [] });

  const expiryMs = typingExpiryMs(config);
  useEffect(() => {
    const timers = new Map<string, ReturnType<typeof setTimeout>>();
    const update = (change: (users: User[]) => User[]) =>
      setTyping((now) => {
        const before = now.roomId === roomId ? now.users : [];
        const users = change(before);
        return users === before && now.roomId === roomId ? now : { roomId, users };
      });
    const stop = (userId: string) => {
      const timer = timers.get(userId);
      if (timer === undefined) return;
      clearTimeout(timer);
      timers.delete(userId);
      update((users) => users.filter((u) => u.id !== userId));
    };

    const offTyping = service.onTyping(({ user, typing: isTyping }) => {
      if (user.id === meId) return;
      if (!isTyping) {
        stop(user.id);
        return;
      }
      clearTimeout(timers.get(user.id));
      timers.set(
        user.id,
        setTimeout(() => stop(user.id), expiryMs),
      );
      update((users) => (users.some((u) => u.id === user.id) ? users : [...users, user]));
    });
    // Someone whose message arrived has stopped typing it.
    const offMessage = service.onChatMessage((message) => {
      if (message.type === MessageType.Text) stop(message.sender.id);
      else stop(message.user.id);
    });
    return () => {
      offTyping();
      offMessage();
      for (const timer of timers.values()) clearTimeout(timer);
    };
  }, [service, meId, roomId, expiryMs]);

  return typing.roomId === roomId ? typing.users : NOBODY;
}

/** "Anna is typing…", "Anna and Boris are typing…", … */
export function typingText(users: User[]): string | null {
  const names = users.map((u) => u.name);
  switch (names.length) {
    case 0:
      return null;
    case 1:
      return `${names[0]} is typing…`;
    case 2:
      return `${names[0]} and ${names[1]} are typing…`;
    case 3:
      return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
    default:
      return `${names[0]}, ${names[1]} and ${names.length - 2} others are typing…`;
  }
}
