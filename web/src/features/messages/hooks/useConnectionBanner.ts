import { useEffect, useState } from "react";
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
  // Derived while rendering from the connection's last change: down
  // (reconnecting) since it was last up, and back up a moment ago.
  const [seen, setSeen] = useState({ connection, wasDown: false, back: false });
  if (connection !== seen.connection) {
    if (connection === "reconnecting") setSeen({ connection, wasDown: true, back: false });
    else if (connection === "connected") setSeen({ connection, wasDown: false, back: seen.wasDown });
    else setSeen({ connection, wasDown: seen.wasDown, back: false });
  }

  useEffect(() => {
    if (!seen.back) return;
    const timer = setTimeout(() => setSeen((now) => ({ ...now, back: false })), BACK_ONLINE_MS);
    return () => clearTimeout(timer);
  }, [seen.back]);

  if (connection === "reconnecting") return "offline";
  return seen.back && connection === "connected" ? "back" : null;
}
