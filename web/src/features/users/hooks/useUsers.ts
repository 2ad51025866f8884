import { useEffect, useState } from "react";
import type { ChatService } from "../../../lib/socket";
import type { User } from "../../../types/events";

/** Everyone, sorted by name, kept up to date by the server's lists and deltas. */
export function useUsers(service: ChatService): User[] {
  const [users, setUsers] = useState<User[]>(() => service.users);
  useEffect(() => {
    // What came between the first render and this subscription.
    setUsers(service.users);
    return service.onUserList(setUsers);
  }, [service]);
  return users;
}
