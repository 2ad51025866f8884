/** HH:MM in the user's time zone, 24-hour, as docs/web-ui.md names it. */
export function formatTime(unixMs: number): string {
  const d = new Date(unixMs);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}
