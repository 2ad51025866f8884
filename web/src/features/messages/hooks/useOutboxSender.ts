import { useEffect, useReducer, useRef, useState } from "react";
import { nextToSend } from "../../../lib/conversation";
import { TIMEOUT_ACK, type ChatService } from "../../../lib/socket";
import { useChatState, type ChatStore } from "../../../lib/store";

/** How long to hold the outbox after a rate_limited answer without retry_after_ms. */
const DEFAULT_RETRY_MS = 1000;

/**
 * Sends the outbox one message at a time, oldest first, while connected,
 * so the room gets them in the order they were written. Every attempt of
 * a message carries its client_id, so one that arrived before the answer
 * was lost is not stored twice. A connection lost on the way puts the
 * message back in line; rate_limited holds the line for the time the
 * server names; any other refusal marks the message failed, in words.
 */
export function useOutboxSender(service: ChatService, store: ChatStore): void {
  const connection = useChatState(store, (s) => s.connection);
  const outbox = useChatState(store, (s) => s.conversation.outbox);
  const { dispatch } = store;
  /** The attempt on its way; an answer to any other is void. */
  const inflight = useRef<number | null>(null);
  const attempts = useRef(0);
  const [holdUntil, setHoldUntil] = useState(0);
  const [wakes, wake] = useReducer((n: number) => n + 1, 0);

  useEffect(
    () =>
      service.onConnectionState((state) => {
        if (state === "connected") return;
        inflight.current = null;
        dispatch({ type: "connectionLost" });
      }),
    [service, dispatch],
  );

  useEffect(() => {
    if (connection !== "connected" || inflight.current !== null) return;
    const next = nextToSend(outbox);
    if (!next) return;
    const wait = holdUntil - Date.now();
    if (wait > 0) {
      const timer = setTimeout(wake, wait);
      return () => clearTimeout(timer);
    }
    const attempt = ++attempts.current;
    inflight.current = attempt;
    const { clientId, content, attachment } = next;
    dispatch({ type: "sending", clientId });
    void service
      .sendMessage(
        content,
        attachment ? { id: attachment.id, ...(attachment.alt ? { alt: attachment.alt } : {}) } : undefined,
        clientId,
      )
      .then((reply) => {
        if (inflight.current !== attempt) return; // the connection dropped: it is back in line
        inflight.current = null;
        if (reply.ok) {
          dispatch({ type: "ack", clientId, message: reply.message });
        } else if (reply.error === "rate_limited") {
          setHoldUntil(Date.now() + (reply.retry_after_ms ?? DEFAULT_RETRY_MS));
          dispatch({ type: "requeue", clientId });
        } else if (reply.error === TIMEOUT_ACK.error && service.connectionState !== "connected") {
          dispatch({ type: "requeue", clientId });
        } else {
          dispatch({ type: "failed", clientId, error: reply.message });
        }
      });
  }, [connection, outbox, holdUntil, wakes, service, dispatch]);
}
