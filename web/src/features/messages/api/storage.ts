// What the conversation keeps in sessionStorage, so that a reload of the
// tab shows what it showed and resumes from there: the view since the user
// joined the room (its log and last seq), the outbox (messages not yet
// confirmed) and the composer's draft. sessionStorage is per tab, as a
// resume point is: two tabs of one user each keep their own.
import type { ResumePoint, Room } from "../../../types/events";
import { emptyConversation, type ConversationState, type LogEntry, type OutboxItem } from "../../../lib/conversation";

export const VIEW_KEY = "chatrooms.view";
export const OUTBOX_KEY = "chatrooms.outbox";
export const DRAFT_KEY = "chatrooms.draft";

export interface StoredView {
  userId: string;
  room: Room;
  /** The highest seq received in the room; null before the first. */
  lastSeq: number | null;
  log: LogEntry[];
}

export interface StoredOutbox {
  /** Whose messages these are: another user's are kept, but only sent when asked. */
  userId: string;
  items: OutboxItem[];
}

/** The words on a message written in a session that ended before it was sent. */
export const SESSION_ENDED_ERROR = "your session ended before it was sent";

function read(key: string): unknown {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

function write(key: string, value: unknown): void {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // A full quota or no storage: the view lasts as long as the page.
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const isLogEntry = (v: unknown): v is LogEntry =>
  isObject(v) &&
  typeof v.key === "string" &&
  (v.kind === "gap" || (v.kind === "message" && isObject(v.message) && typeof v.message.seq === "number"));
const isOutboxItem = (v: unknown): v is OutboxItem =>
  isObject(v) &&
  typeof v.clientId === "string" &&
  typeof v.content === "string" &&
  typeof v.timestamp === "number" &&
  (v.status === "pending" || v.status === "sending" || v.status === "failed");

export function loadView(userId: string): StoredView | null {
  const v = read(VIEW_KEY);
  if (!isObject(v) || v.userId !== userId || !isObject(v.room) || typeof v.room.id !== "string") return null;
  if (v.lastSeq !== null && typeof v.lastSeq !== "number") return null;
  if (!Array.isArray(v.log) || !v.log.every(isLogEntry)) return null;
  return v as unknown as StoredView;
}

export function storeView(view: StoredView | null): void {
  write(VIEW_KEY, view);
}

export function loadOutbox(): StoredOutbox | null {
  const v = read(OUTBOX_KEY);
  if (!isObject(v) || typeof v.userId !== "string" || !Array.isArray(v.items)) return null;
  return { userId: v.userId, items: v.items.filter(isOutboxItem) };
}

export function storeOutbox(outbox: StoredOutbox): void {
  write(OUTBOX_KEY, outbox.items.length > 0 ? outbox : null);
}

/**
 * Where a (re)connect of this user resumes: the view's room and the last
 * seq seen there, or 0 before any (the server then replays from our join).
 */
export function loadResumePoint(userId: string): ResumePoint | null {
  const view = loadView(userId);
  return view ? { room_id: view.room.id, after_seq: view.lastSeq ?? 0 } : null;
}

/**
 * The conversation as this tab last showed it to this user. Messages
 * written in an earlier session stay, as not sent: the user decides.
 */
export function restoreConversation(userId: string): ConversationState {
  const view = loadView(userId);
  const outbox = loadOutbox();
  const items = (outbox?.items ?? []).map((item): OutboxItem => {
    if (item.status === "failed") return item;
    if (outbox?.userId !== userId) return { ...item, status: "failed", error: SESSION_ENDED_ERROR };
    // Its answer, if any, went with the page: it goes again with its client_id.
    return { ...item, status: "pending" };
  });
  return {
    ...emptyConversation,
    room: view?.room ?? null,
    log: view?.log ?? [],
    lastSeq: view?.lastSeq ?? null,
    outbox: items,
  };
}

/** Keeps the view, once there is a room. */
export function persistView(state: Pick<ConversationState, "room" | "log" | "lastSeq">, userId: string): void {
  if (state.room) storeView({ userId, room: state.room, lastSeq: state.lastSeq, log: state.log });
}

/** Keeps the outbox (the key goes when it is empty). */
export function persistOutbox(outbox: OutboxItem[], userId: string): void {
  storeOutbox({ userId, items: outbox });
}

export function loadDraft(): string {
  const v = read(DRAFT_KEY);
  return typeof v === "string" ? v : "";
}

export function storeDraft(draft: string): void {
  write(DRAFT_KEY, draft === "" ? null : draft);
}

/** The session expired: the view goes, what the user wrote (outbox, draft) stays. */
export function clearView(): void {
  write(VIEW_KEY, null);
}

/** Logged out on purpose: nothing is kept. */
export function clearConversation(): void {
  write(VIEW_KEY, null);
  write(OUTBOX_KEY, null);
  write(DRAFT_KEY, null);
}
