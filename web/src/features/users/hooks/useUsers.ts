import { useEffect, useState } from "react";
import type { ChatService } from "../../../lib/socket";
import type { User } from "../../../types/events";

/** Everyone present, as the server's user_list_changed has it. */
export function useUsers(service: ChatService): User[] {
  const [users, setUsers] = useState<User[]>([]);
  useEffect(() => service.onUserList(setUsers), [service]);
  return users;
}
