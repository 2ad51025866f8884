import { useCallback, useEffect, useReducer, useRef } from "react";
import type { ChatService } from "../../../lib/socket";
import { MessageType, type Attachment, type Message } from "../../../types/events";
import type { ReadyAttachment } from "../../attachments/hooks/useAttachmentDraft";

/** A message as the server has it, or one of ours it has not confirmed. */
export type Entry =
  | { kind: "message"; key: string; message: Message }
  | {
      kind: "local";
      key: string;
      content: string;
      /** The uploaded image it carries, shown as the server will show it. */
      attachment?: Attachment;
      timestamp: number;
      status: "sending" | "failed";
      error?: string;
      /** The failure may pass (timeout, rate limit, outage); a refusal will not. */
      retryable?: boolean;
    };

interface State {
  roomId: string | null;
  entries: Entry[];
  /**
   * Messages for a room that is not (yet) ours. On a switch the server
   * sends our own join notice just before current_room_changed; keeping
   * the last few lets the new room open with it instead of dropping it.
   */
  early: Message[];
}

type Action =
  | { type: "room"; roomId: string }
  | { type: "message"; message: Message; meId: string }
  | { type: "local"; key: string; content: string; attachment?: Attachment; timestamp: number }
  | { type: "retry"; key: string }
  | { type: "ack"; key: string; message: Message }
  | { type: "failed"; key: string; error: string; retryable: boolean };

const EARLY_LIMIT = 20;
/** The most messages kept on screen; older ones scroll away for good. */
export const MESSAGE_LIMIT = 500;

const sameText = (a: string, b: string) => a.normalize("NFC").trim() === b.normalize("NFC").trim();
/** Whether a broadcast message is the one a local entry stands for. */
const sameMessage = (local: Extract<Entry, { kind: "local" }>, message: Message) =>
  message.type === MessageType.Text &&
  local.attachment?.id === message.attachment?.id &&
  sameText(local.content, message.content ?? "");
const toEntry = (message: Message): Entry => ({ kind: "message", key: message.id, message });
const hasMessage = (entries: Entry[], id: string) =>
  entries.some((e) => e.kind === "message" && e.message.id === id);
const cap = (entries: Entry[]) => (entries.length > MESSAGE_LIMIT ? entries.slice(-MESSAGE_LIMIT) : entries);

function reducer(state: State, action: Action): State {
  switch (action.type) {
    case "room": {
      // A reconnect names the same room again: keep what is on screen.
      if (action.roomId === state.roomId) return state;
      return {
        roomId: action.roomId,
        entries: state.early.filter((m) => m.room_id === action.roomId).map(toEntry),
        early: [],
      };
    }
    case "message": {
      const { message, meId } = action;
      if (message.room_id !== state.roomId) {
        return { ...state, early: [...state.early, message].slice(-EARLY_LIMIT) };
      }
      if (hasMessage(state.entries, message.id)) return state;
      if (message.type === MessageType.Text && message.sender.id === meId) {
        // Our own message, broadcast back before its ack: it takes the
        // place of the oldest matching one still sending.
        const i = state.entries.findIndex(
          (e) => e.kind === "local" && e.status === "sending" && sameMessage(e, message),
        );
        if (i >= 0) {
          const entries = [...state.entries];
          entries[i] = toEntry(message);
          return { ...state, entries };
        }
      }
      return { ...state, entries: cap([...state.entries, toEntry(message)]) };
    }
    case "local":
      if (state.roomId === null) return state;
      return {
        ...state,
        entries: cap([
          ...state.entries,
          {
            kind: "local",
            key: action.key,
            content: action.content,
            ...(action.attachment ? { attachment: action.attachment } : {}),
            timestamp: action.timestamp,
            status: "sending",
          },
        ]),
      };
    case "retry":
      return {
        ...state,
        entries: state.entries.map((e) =>
          e.kind === "local" && e.key === action.key ? { ...e, status: "sending", error: undefined } : e,
        ),
      };
    case "ack": {
      const i = state.entries.findIndex((e) => e.kind === "local" && e.key === action.key);
      if (i < 0) return state;
      const entries = [...state.entries];
      if (hasMessage(entries, action.message.id) || action.message.room_id !== state.roomId) {
        entries.splice(i, 1);
      } else {
        entries[i] = toEntry(action.message);
      }
      return { ...state, entries };
    }
    case "failed":
      return {
        ...state,
        entries: state.entries.map((e) =>
          e.kind === "local" && e.key === action.key
            ? { ...e, status: "failed", error: action.error, retryable: action.retryable }
            : e,
        ),
      };
  }
}

export interface MessagesState {
  roomId: string | null;
  entries: Entry[];
  /**
   * Shows the message at once and sends it; a refusal marks it failed.
   * With an image the content may be empty.
   */
  send(content: string, attachment?: ReadyAttachment): void;
  /** Sends a failed message again. */
  retry(key: string): void;
}

let localSeq = 0;

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

/** Errors after which the same message may go through later. */
const RETRYABLE = new Set(["timeout", "rate_limited", "unavailable"]);

/**
 * The conversation in the current room: only messages sent after joining,
 * ours shown while they are on their way.
 */
export function useMessages(service: ChatService, meId: string): MessagesState {
  const [state, dispatch] = useReducer(reducer, { roomId: null, entries: [], early: [] });
  const entriesRef = useRef(state.entries);
  useEffect(() => {
    entriesRef.current = state.entries;
  }, [state.entries]);

  useEffect(() => {
    const offRoom = service.onCurrentRoom((room) => dispatch({ type: "room", roomId: room.id }));
    const offMessage = service.onChatMessage((message) => dispatch({ type: "message", message, meId }));
    return () => {
      offRoom();
      offMessage();
    };
  }, [service, meId]);

  const deliver = useCallback(
    async (key: string, content: string, attachment?: Attachment) => {
      const reply = await service.sendMessage(
        content,
        attachment ? { id: attachment.id, ...(attachment.alt ? { alt: attachment.alt } : {}) } : undefined,
      );
      if (reply.ok) {
        dispatch({ type: "ack", key, message: reply.message });
      } else {
        dispatch({ type: "failed", key, error: reply.message, retryable: RETRYABLE.has(reply.error) });
      }
    },
    [service],
  );

  const send = useCallback(
    (content: string, ready?: ReadyAttachment) => {
      const key = `local-${++localSeq}`;
      const attachment = ready ? asAttachment(ready) : undefined;
      dispatch({ type: "local", key, content, ...(attachment ? { attachment } : {}), timestamp: Date.now() });
      void deliver(key, content, attachment);
    },
    [deliver],
  );

  const retry = useCallback(
    (key: string) => {
      const entry = entriesRef.current.find((e) => e.kind === "local" && e.key === key);
      if (!entry || entry.kind !== "local" || entry.status !== "failed") return;
      dispatch({ type: "retry", key });
      void deliver(key, entry.content, entry.attachment);
    },
    [deliver],
  );

  return { roomId: state.roomId, entries: state.entries, send, retry };
}
