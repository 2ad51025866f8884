import { describe, expect, it } from "vitest";
import { anna, defaultRoom, lobby, notice, peter, textMessage } from "../testing/fixtures";
import type { Message } from "../types/events";
import {
  MESSAGE_LIMIT,
  conversationReducer,
  emptyConversation,
  insertBySeq,
  nextToSend,
  type ConversationAction,
  type ConversationState,
  type LogEntry,
} from "./conversation";

const run = (state: ConversationState, ...actions: ConversationAction[]) => actions.reduce(conversationReducer, state);
const inRoom = (...actions: ConversationAction[]) => run(emptyConversation, { type: "room", room: defaultRoom }, ...actions);
const msg = (message: Message): ConversationAction => ({ type: "message", message });
const queue = (clientId: string, content = clientId): ConversationAction => ({
  type: "queue",
  item: { clientId, content, timestamp: 1 },
});
const seqs = (log: LogEntry[]) => log.map((e) => (e.kind === "message" ? e.message.seq : "gap"));
const texts = (log: LogEntry[]) =>
  log.map((e) => (e.kind === "message" && e.message.type === 0 ? e.message.content : e.kind));

describe("the conversation reducer", () => {
  it("keeps each seq once: a replay after a resume adds only what is new", () => {
    const [a, b, c] = [textMessage(anna, "a"), textMessage(anna, "b"), textMessage(anna, "c")];
    const state = inRoom(msg(a), msg(b), msg(a), msg(b), msg(c), msg(c));
    expect(texts(state.log)).toEqual(["a", "b", "c"]);
    expect(state.lastSeq).toBe(c.seq);
  });

  it("ignores another room's messages, except to open that room with our join notice", () => {
    const joined = notice("joined", peter, { room_id: lobby.id });
    let state = inRoom(msg(textMessage(anna, "here")), msg(textMessage(anna, "there", { room_id: "r9" })), msg(joined));
    expect(texts(state.log)).toEqual(["here"]);
    state = run(state, { type: "room", room: lobby });
    expect(state.log).toEqual([{ kind: "message", key: joined.id, message: joined }]);
    expect(state.lastSeq).toBe(joined.seq);
  });

  it("a reconnect naming the same room keeps the view; another room clears it but not the outbox", () => {
    let state = inRoom(msg(textMessage(anna, "kept")), queue("c1"));
    state = run(state, { type: "room", room: { ...defaultRoom, member_count: 3 } });
    expect(texts(state.log)).toEqual(["kept"]);
    expect(state.room?.member_count).toBe(3);
    state = run(state, { type: "room", room: lobby });
    expect(state.log).toEqual([]);
    expect(state.lastSeq).toBeNull();
    expect(state.outbox.map((i) => i.clientId)).toEqual(["c1"]);
  });

  it("reconciles our message by client_id, whichever of ack and chat_message comes first", () => {
    const mine = textMessage(peter, "hi", { client_id: "c1" });
    for (const order of [
      [msg(mine), { type: "ack", clientId: "c1", message: mine }],
      [{ type: "ack", clientId: "c1", message: mine }, msg(mine)],
    ] as ConversationAction[][]) {
      const state = inRoom(queue("c1", "hi"), { type: "sending", clientId: "c1" }, ...order);
      expect(state.outbox).toEqual([]);
      expect(state.log.map((e) => e.key)).toEqual([mine.id]);
      expect(state.lastSeq).toBe(mine.seq);
    }
  });

  it("a replayed copy of our message (its ack lost with the connection) settles the outbox", () => {
    const mine = textMessage(peter, "hi", { client_id: "c1" });
    const state = inRoom(queue("c1", "hi"), { type: "sending", clientId: "c1" }, { type: "connectionLost" }, msg(mine));
    expect(state.outbox).toEqual([]);
    expect(texts(state.log)).toEqual(["hi"]);
  });

  it("an ack does not move lastSeq: others' messages with lower seqs still come, and go before ours", () => {
    const other = textMessage(anna, "before");
    const mine = textMessage(peter, "mine", { client_id: "c1" });
    const state = inRoom(queue("c1", "mine"), { type: "ack", clientId: "c1", message: mine }, msg(other), msg(mine));
    expect(texts(state.log)).toEqual(["before", "mine"]);
    expect(state.lastSeq).toBe(mine.seq);
  });

  it("an ack for a room left since takes the message off the outbox without showing it here", () => {
    const mine = textMessage(peter, "there", { client_id: "c1", room_id: lobby.id });
    const state = inRoom(queue("c1", "there"), { type: "ack", clientId: "c1", message: mine });
    expect(state.outbox).toEqual([]);
    expect(state.log).toEqual([]);
  });

  it("recovered false puts one divider at the end of what was seen; true, or another room's, none", () => {
    const a = textMessage(anna, "a");
    let state = inRoom(msg(a), { type: "recovery", event: { room_id: defaultRoom.id, recovered: true } });
    state = run(state, { type: "recovery", event: { room_id: lobby.id, recovered: false, reason: "room_changed" } });
    expect(seqs(state.log)).toEqual([a.seq]);
    state = run(
      state,
      { type: "recovery", event: { room_id: defaultRoom.id, recovered: false, reason: "window_passed" } },
      { type: "recovery", event: { room_id: defaultRoom.id, recovered: false, reason: "window_passed" } },
    );
    const b = textMessage(anna, "b");
    state = run(state, msg(b));
    expect(seqs(state.log)).toEqual([a.seq, "gap", b.seq]);
  });

  it("sends in the order written: the oldest pending first, failed ones only when retried", () => {
    let state = inRoom(queue("c1"), queue("c2"), queue("c3"));
    expect(nextToSend(state.outbox)?.clientId).toBe("c1");
    state = run(state, { type: "sending", clientId: "c1" }, { type: "failed", clientId: "c1", error: "no" });
    expect(nextToSend(state.outbox)?.clientId).toBe("c2");
    expect(state.outbox[0]).toMatchObject({ status: "failed", error: "no" });
    state = run(state, { type: "retry", clientId: "c1" });
    expect(state.outbox[0]).toEqual({ clientId: "c1", content: "c1", timestamp: 1, status: "pending" });
    expect(nextToSend(state.outbox)?.clientId).toBe("c1");
  });

  it("a lost connection puts what was on its way back in line; requeue does the same for one", () => {
    let state = inRoom(queue("c1"), queue("c2"), { type: "sending", clientId: "c1" });
    state = run(state, { type: "connectionLost" });
    expect(state.outbox.map((i) => i.status)).toEqual(["pending", "pending"]);
    state = run(state, { type: "sending", clientId: "c1" }, { type: "requeue", clientId: "c1" });
    expect(state.outbox.map((i) => i.status)).toEqual(["pending", "pending"]);
  });

  it("remove (Edit) takes a message off the outbox", () => {
    const state = inRoom(queue("c1"), queue("c2"), { type: "remove", clientId: "c1" });
    expect(state.outbox.map((i) => i.clientId)).toEqual(["c2"]);
  });

  it(`keeps at most ${MESSAGE_LIMIT} log entries, and every outbox message`, () => {
    const many = Array.from({ length: MESSAGE_LIMIT + 5 }, (_, i) => msg(textMessage(anna, `m${i}`)));
    const state = inRoom(queue("c1"), ...many);
    expect(state.log).toHaveLength(MESSAGE_LIMIT);
    expect(texts(state.log)[0]).toBe("m5");
    expect(state.outbox).toHaveLength(1);
  });
});

describe("insertBySeq", () => {
  const entry = (seq: number): LogEntry => ({ kind: "message", key: `m${seq}`, message: textMessage(anna, `${seq}`, { seq }) });
  const gap: LogEntry = { kind: "gap", key: "g" };

  it("appends in the usual case, and puts a late lower seq before higher ones", () => {
    expect(seqs(insertBySeq([entry(1), entry(2)], textMessage(anna, "x", { seq: 3 })))).toEqual([1, 2, 3]);
    expect(seqs(insertBySeq([entry(1), entry(5)], textMessage(anna, "x", { seq: 3 })))).toEqual([1, 3, 5]);
    expect(seqs(insertBySeq([entry(4)], textMessage(anna, "x", { seq: 3 })))).toEqual([3, 4]);
  });

  it("keeps a divider after the message it followed", () => {
    expect(seqs(insertBySeq([entry(1), gap], textMessage(anna, "x", { seq: 3 })))).toEqual([1, "gap", 3]);
    expect(seqs(insertBySeq([entry(2), gap], textMessage(anna, "x", { seq: 1 })))).toEqual([1, 2, "gap"]);
    expect(seqs(insertBySeq([gap, entry(5)], textMessage(anna, "x", { seq: 3 })))).toEqual(["gap", 3, 5]);
  });
});

describe("the conversation reducer, action by action", () => {
  const a = textMessage(anna, "a");
  const mine = textMessage(peter, "mine", { client_id: "c1" });
  const elsewhere = textMessage(anna, "elsewhere", { room_id: lobby.id });
  type Want = { log?: (string | number)[]; outbox?: string[]; lastSeq?: number | null; room?: string | null };
  const table: { name: string; from: ConversationAction[]; action: ConversationAction; want: Want }[] = [
    { name: "room: another room starts an empty view", from: [msg(a)], action: { type: "room", room: lobby }, want: { room: lobby.id, log: [], lastSeq: null } },
    { name: "message: appended, lastSeq moves", from: [], action: msg(a), want: { log: [a.seq], lastSeq: a.seq } },
    { name: "message: another room's is not shown", from: [], action: msg(elsewhere), want: { log: [], lastSeq: null } },
    { name: "message: a seq seen is dropped", from: [msg(a)], action: msg(a), want: { log: [a.seq] } },
    { name: "message: ours settles the outbox", from: [queue("c1")], action: msg(mine), want: { log: [mine.seq], outbox: [] } },
    { name: "recovery: recovered adds nothing", from: [msg(a)], action: { type: "recovery", event: { room_id: defaultRoom.id, recovered: true } }, want: { log: [a.seq] } },
    { name: "recovery: not recovered adds a divider", from: [msg(a)], action: { type: "recovery", event: { room_id: defaultRoom.id, recovered: false, reason: "window_passed" } }, want: { log: [a.seq, "gap"] } },
    { name: "queue: pending at the end", from: [queue("c0")], action: queue("c1"), want: { outbox: ["c0:pending", "c1:pending"] } },
    { name: "sending: marks it", from: [queue("c1")], action: { type: "sending", clientId: "c1" }, want: { outbox: ["c1:sending"] } },
    { name: "requeue: back to pending", from: [queue("c1"), { type: "sending", clientId: "c1" }], action: { type: "requeue", clientId: "c1" }, want: { outbox: ["c1:pending"] } },
    { name: "requeue: a failed one stays failed", from: [queue("c1"), { type: "failed", clientId: "c1", error: "no" }], action: { type: "requeue", clientId: "c1" }, want: { outbox: ["c1:failed"] } },
    { name: "connectionLost: sending goes back in line", from: [queue("c1"), { type: "sending", clientId: "c1" }, queue("c2")], action: { type: "connectionLost" }, want: { outbox: ["c1:pending", "c2:pending"] } },
    { name: "ack: shown, off the outbox, lastSeq unmoved", from: [queue("c1")], action: { type: "ack", clientId: "c1", message: mine }, want: { log: [mine.seq], outbox: [], lastSeq: null } },
    { name: "ack: for an unknown client_id changes nothing", from: [], action: { type: "ack", clientId: "c9", message: mine }, want: { log: [], outbox: [] } },
    { name: "failed: kept with its error", from: [queue("c1")], action: { type: "failed", clientId: "c1", error: "no" }, want: { outbox: ["c1:failed"] } },
    { name: "retry: a failed one is pending again", from: [queue("c1"), { type: "failed", clientId: "c1", error: "no" }], action: { type: "retry", clientId: "c1" }, want: { outbox: ["c1:pending"] } },
    { name: "remove: off the outbox", from: [queue("c1"), queue("c2")], action: { type: "remove", clientId: "c1" }, want: { outbox: ["c2:pending"] } },
  ];

  it.each(table)("$name", ({ from, action, want }) => {
    const before = inRoom(...from);
    const after = conversationReducer(before, action);
    if (want.log !== undefined) expect(seqs(after.log)).toEqual(want.log);
    if (want.outbox !== undefined) expect(after.outbox.map((i) => `${i.clientId}:${i.status}`)).toEqual(want.outbox);
    if (want.lastSeq !== undefined) expect(after.lastSeq).toBe(want.lastSeq);
    if (want.room !== undefined) expect(after.room?.id ?? null).toBe(want.room);
    // Never mutates: the state before is as it was.
    expect(before).toEqual(inRoom(...from));
  });
});
