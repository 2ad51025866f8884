import type { BannerState } from "../hooks/useConnectionBanner";

const TEXT: Record<Exclude<BannerState, null>, string> = {
  offline: "Offline — reconnecting…",
  back: "Back online",
};

/**
 * The connection, said over the conversation (the users sidebar says it
 * too, but a phone keeps that closed). The live region stays in the page
 * while empty, so that what it says next is announced.
 */
export function ConnectionBanner({ state }: { state: BannerState }) {
  return (
    <div role="status" className={`connection-banner${state ? ` connection-banner--${state}` : ""}`}>
      {state ? TEXT[state] : null}
    </div>
  );
}
