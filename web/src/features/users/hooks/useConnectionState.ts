import { useEffect, useState } from "react";
import type { ChatService, ConnectionState } from "../../../lib/socket";

export function useConnectionState(service: ChatService): ConnectionState {
  const [state, setState] = useState<ConnectionState>(service.connectionState);
  useEffect(() => {
    setState(service.connectionState);
    return service.onConnectionState(setState);
  }, [service]);
  return state;
}
