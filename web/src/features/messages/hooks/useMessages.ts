import { useCallback, useEffect, useMemo } from "react";
import type { ChatService } from "../../../lib/socket";
import { useChatState, type ChatStore } from "../../../lib/store";
import type { Attachment, Message } from "../../../types/events";
import type { ReadyAttachment } from "../../attachments/hooks/useAttachmentDraft";
import { persistOutbox, persistView } from "../api/storage";
import type { OutboxItem } from "../../../lib/conversation";
import { useOutboxSender } from "./useOutboxSender";

/** What the log shows: a message as the server has it, a divider, or one of ours on its way. */
export type Entry =
  | { kind: "message"; key: string; message: Message }
  | { kind: "gap"; key: string }
  | {
      kind: "local";
      /** Its client_id. */
      key: string;
      content: string;
      /** The uploaded image it carries, shown as the server will show it. */
      attachment?: Attachment;
      timestamp: number;
      /** pending: on its way or waiting for the connection; failed: refused. */
      status: "pending" | "failed";
      error?: string;
    };

export const GAP_TEXT = "You may have missed messages while you were offline";

export interface MessagesState {
  entries: Entry[];
  /**
   * Shows the message at once and puts it in the outbox, which sends it
   * now or on the next connection. With an image the content may be empty.
   */
  send(content: string, attachment?: ReadyAttachment): void;
  /** Sends a failed message again, with the same client_id. */
  retry(key: string): void;
  /** Takes a failed message off the log and returns its text. */
  edit(key: string): string | null;
}

/** An upload as the message carrying it will show it. */
function asAttachment({ upload, alt }: ReadyAttachment): Attachment {
  return {
    id: upload.id,
    url: upload.url,
    thumbnail_url: upload.thumbnail_url,
    width: upload.width,
    height: upload.height,
    content_type: upload.content_type,
    ...(alt ? { alt } : {}),
  };
}

function localEntry(item: OutboxItem): Entry {
  return {
    kind: "local",
    key: item.clientId,
    content: item.content,
    ...(item.attachment ? { attachment: item.attachment } : {}),
    timestamp: item.timestamp,
    status: item.status === "failed" ? "failed" : "pending",
    ...(item.error !== undefined ? { error: item.error } : {}),
  };
}

/**
 * The conversation in the current room (the store's): only messages since
 * joining, kept in sessionStorage so a reload shows them again, and
 * resumed after every reconnect (the socket's auth carries the resume
 * point, the server answers with recovery and replays what was missed).
 * Ours show at once and stay in the outbox until the server confirms them.
 */
export function useMessages(service: ChatService, store: ChatStore, meId: string): MessagesState {
  const { room, log, lastSeq, outbox } = useChatState(store, (s) => s.conversation);
  useEffect(() => persistView({ room, log, lastSeq }, meId), [room, log, lastSeq, meId]);
  useEffect(() => persistOutbox(outbox, meId), [outbox, meId]);

  useOutboxSender(service, store);

  const { dispatch } = store;
  const send = useCallback(
    (content: string, ready?: ReadyAttachment) => {
      const attachment = ready ? asAttachment(ready) : undefined;
      dispatch({
        type: "queue",
        item: { clientId: crypto.randomUUID(), content, ...(attachment ? { attachment } : {}), timestamp: Date.now() },
      });
    },
    [dispatch],
  );

  const retry = useCallback((key: string) => dispatch({ type: "retry", clientId: key }), [dispatch]);

  const edit = useCallback(
    (key: string) => {
      const item = store.getState().conversation.outbox.find((i) => i.clientId === key);
      if (!item || item.status !== "failed") return null;
      dispatch({ type: "remove", clientId: key });
      return item.content;
    },
    [store, dispatch],
  );

  const entries = useMemo<Entry[]>(() => [...log, ...outbox.map(localEntry)], [log, outbox]);
  return { entries, send, retry, edit };
}
