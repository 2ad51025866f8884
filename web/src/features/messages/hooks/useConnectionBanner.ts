import { useEffect, useRef, useState } from "react";
import type { ConnectionState } from "../../../lib/socket";

/** What the banner over the conversation says: nothing, offline, or back online. */
export type BannerState = "offline" | "back" | null;

/** How long "Back online" stays after a reconnect. */
export const BACK_ONLINE_MS = 3000;

/**
 * Offline while the connection is being re-established (or could not be
 * made yet), then "back" for a moment once it is; nothing otherwise,
 * including the first connect of a page.
 */
export function useConnectionBanner(connection: ConnectionState): BannerState {
  const [back, setBack] = useState(false);
  const wasDown = useRef(false);
  const offline = connection === "reconnecting";

  useEffect(() => {
    if (offline) {
      wasDown.current = true;
      setBack(false);
      return;
    }
    if (connection !== "connected" || !wasDown.current) return;
    wasDown.current = false;
    setBack(true);
    const timer = setTimeout(() => setBack(false), BACK_ONLINE_MS);
    return () => clearTimeout(timer);
  }, [connection, offline]);

  if (offline) return "offline";
  return back ? "back" : null;
}
