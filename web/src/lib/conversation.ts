// The conversation of the current room as a pure reducer: the log (what
// the server has, in seq order, with dividers where messages may be
// missing) and the outbox (our messages it has not confirmed, in the order
// they were written). Kept free of React and of the socket so that every
// rule here is unit-tested on its own.
import { MessageType, type Attachment, type Message, type RecoveryEvent, type Room } from "../types/events";

/** A message as the server has it, or a divider where some may be missing. */
export type LogEntry = { kind: "message"; key: string; message: Message } | { kind: "gap"; key: string };

/** One message of ours the server has not confirmed. */
export interface OutboxItem {
  /** The client_id sent with every attempt; also its key on screen. */
  clientId: string;
  /** Trimmed; may be empty when an image goes with it. */
  content: string;
  /** The uploaded image it carries, shown as the server will show it. */
  attachment?: Attachment;
  timestamp: number;
  /**
   * pending: waits its turn (or the connection); sending: emitted, no
   * answer yet; failed: refused, kept until the user retries or edits it.
   */
  status: "pending" | "sending" | "failed";
  /** Why it was refused, in words (failed only). */
  error?: string;
}

export interface ConversationState {
  /** The room the view is of; null until the server (or the stored view) names one. */
  room: Room | null;
  log: LogEntry[];
  /** The highest seq received by chat_message in the room (acks do not count). */
  lastSeq: number | null;
  outbox: OutboxItem[];
  /**
   * Messages for a room that is not (yet) ours. On a switch the server
   * sends our own join notice just before current_room_changed; keeping
   * the last few lets the new room open with it instead of dropping it.
   */
  early: Message[];
}

export type ConversationAction =
  | { type: "room"; room: Room }
  | { type: "message"; message: Message }
  | { type: "recovery"; event: RecoveryEvent }
  | { type: "queue"; item: Omit<OutboxItem, "status" | "error"> }
  | { type: "sending"; clientId: string }
  | { type: "requeue"; clientId: string }
  | { type: "connectionLost" }
  | { type: "ack"; clientId: string; message: Message }
  | { type: "failed"; clientId: string; error: string }
  | { type: "retry"; clientId: string }
  | { type: "remove"; clientId: string };

/** The most log entries kept; older ones scroll away for good (the outbox is never cut). */
export const MESSAGE_LIMIT = 500;
const EARLY_LIMIT = 20;

export const emptyConversation: ConversationState = { room: null, log: [], lastSeq: null, outbox: [], early: [] };

const messageEntry = (message: Message): LogEntry => ({ kind: "message", key: message.id, message });
const hasMessage = (log: LogEntry[], id: string) => log.some((e) => e.kind === "message" && e.message.id === id);
const cap = (log: LogEntry[]) => (log.length > MESSAGE_LIMIT ? log.slice(-MESSAGE_LIMIT) : log);
const maxSeq = (messages: Message[]) =>
  messages.reduce<number | null>((max, m) => (max === null || m.seq > max ? m.seq : max), null);

/** The seq a divider sorts after: that of the message before it. */
function seqBefore(log: LogEntry[], index: number): number {
  for (let i = index; i >= 0; i--) {
    const entry = log[i];
    if (entry?.kind === "message") return entry.message.seq;
  }
  return -Infinity;
}

/**
 * Puts a message where its seq says: after every message with a lower
 * seq and the dividers that follow them. Live and replayed messages arrive
 * in order and land at the end; an ack may come before messages of others
 * with lower seqs, which then go before it.
 */
export function insertBySeq(log: LogEntry[], message: Message): LogEntry[] {
  let at = log.length;
  for (; at > 0; at--) {
    const entry = log[at - 1];
    const seq = entry?.kind === "message" ? entry.message.seq : seqBefore(log, at - 2) + 0.5;
    if (seq < message.seq) break;
  }
  return cap([...log.slice(0, at), messageEntry(message), ...log.slice(at)]);
}

/** Takes our message off the outbox: the server has it. */
const settle = (outbox: OutboxItem[], clientId: string | undefined) =>
  clientId === undefined ? outbox : outbox.filter((i) => i.clientId !== clientId);

const mapItem = (state: ConversationState, clientId: string, f: (i: OutboxItem) => OutboxItem): ConversationState => ({
  ...state,
  outbox: state.outbox.map((i) => (i.clientId === clientId ? f(i) : i)),
});

const withoutError = ({ error: _error, ...item }: OutboxItem): OutboxItem => item;

let gapSeq = 0;

export function conversationReducer(state: ConversationState, action: ConversationAction): ConversationState {
  switch (action.type) {
    case "room": {
      // A reconnect (or a reload) names the same room again: keep what is on screen.
      if (action.room.id === state.room?.id) return { ...state, room: action.room };
      // Another room: the view starts over; our unsent messages go with us.
      const early = state.early.filter((m) => m.room_id === action.room.id);
      return {
        room: action.room,
        log: cap(early.map(messageEntry)),
        lastSeq: maxSeq(early),
        outbox: state.outbox,
        early: [],
      };
    }
    case "message": {
      const { message } = action;
      if (message.room_id !== state.room?.id) {
        return { ...state, early: [...state.early, message].slice(-EARLY_LIMIT) };
      }
      // Replayed after a resume, or already here: each seq once.
      if (state.lastSeq !== null && message.seq <= state.lastSeq) return state;
      const ours = message.type === MessageType.Text ? message.client_id : undefined;
      return {
        ...state,
        lastSeq: message.seq,
        // Confirmed earlier by its ack: it is in place already.
        log: hasMessage(state.log, message.id) ? state.log : insertBySeq(state.log, message),
        outbox: settle(state.outbox, ours),
      };
    }
    case "recovery": {
      const { event } = action;
      // Another room's answer: the view has moved on with current_room_changed.
      if (event.recovered || event.room_id !== state.room?.id) return state;
      if (state.log[state.log.length - 1]?.kind === "gap") return state;
      return { ...state, log: cap([...state.log, { kind: "gap", key: `gap-${state.lastSeq ?? 0}-${++gapSeq}` }]) };
    }
    case "queue":
      return { ...state, outbox: [...state.outbox, { ...action.item, status: "pending" }] };
    case "sending":
      return mapItem(state, action.clientId, (i) => ({ ...withoutError(i), status: "sending" }));
    case "requeue":
      return mapItem(state, action.clientId, (i) => (i.status === "sending" ? { ...i, status: "pending" } : i));
    case "connectionLost":
      // What was on its way may or may not have arrived: it goes again, with its client_id.
      return { ...state, outbox: state.outbox.map((i) => (i.status === "sending" ? { ...i, status: "pending" } : i)) };
    case "ack": {
      const { message } = action;
      if (!state.outbox.some((i) => i.clientId === action.clientId)) return state;
      const outbox = settle(state.outbox, action.clientId);
      // Sent to a room we have left since: it is there, not here.
      if (message.room_id !== state.room?.id || hasMessage(state.log, message.id)) return { ...state, outbox };
      return { ...state, outbox, log: insertBySeq(state.log, message) };
    }
    case "failed":
      return mapItem(state, action.clientId, (i) => ({ ...i, status: "failed", error: action.error }));
    case "retry":
      return mapItem(state, action.clientId, (i) => (i.status === "failed" ? { ...withoutError(i), status: "pending" } : i));
    case "remove":
      return { ...state, outbox: settle(state.outbox, action.clientId) };
  }
}

/** The next message to send: the oldest one waiting its turn. */
export function nextToSend(outbox: OutboxItem[]): OutboxItem | null {
  return outbox.find((i) => i.status === "pending") ?? null;
}
