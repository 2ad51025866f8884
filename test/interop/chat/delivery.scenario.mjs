// Resume and idempotent sends (docs/protocol.md, "Resume" and "Idempotent
// send") driven by the official socket.io-client against the real chat
// service, over websocket and over long-polling. Run by
// chat_interop_test.go with SERVER_URL set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { io } from "socket.io-client";
import { URL, api, register } from "./api.mjs";

const WAIT = 5_000;

const MODES = [
  { name: "websocket", opts: { transports: ["websocket"] } },
  { name: "polling", opts: { transports: ["polling"] } },
];

// A socket whose every event is queued in arrival order.
function connect(auth, opts) {
  const socket = io(URL + "/chat", { ...opts, auth, forceNew: true, reconnection: false, timeout: WAIT });
  const queue = [];
  let wake = null;
  socket.onAny((event, ...args) => {
    queue.push({ event, arg: args[0] });
    if (wake) wake();
  });
  // next returns the next event named event, dropping none of the others.
  socket.next = async (event) => {
    const deadline = Date.now() + WAIT;
    for (;;) {
      const i = queue.findIndex((q) => q.event === event);
      if (i >= 0) return queue.splice(i, 1)[0].arg;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${event}; queued: ${queue.map((q) => q.event)}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          wake = null;
          resolve();
        };
      });
    }
  };
  // events returns the events received so far, in order, and forgets them.
  socket.drain = () => queue.splice(0, queue.length);
  return socket;
}

async function ready(socket) {
  await socket.next("room_list_changed");
  await socket.next("user_list_changed");
  return socket.next("current_room_changed");
}

// messagesUntil collects chat_message events up to the one with seq last.
async function messagesUntil(socket, last) {
  const got = [];
  for (;;) {
    const m = await socket.next("chat_message");
    got.push(m);
    if (m.seq >= last) return got;
  }
}

let n = 0;
for (const mode of MODES) {
  test(`resume and idempotent sends over ${mode.name}`, { timeout: 60_000 }, async () => {
    n++;
    const anna = await register(`Rita ${n}`);
    const boris = await register(`Sam ${n}`);
    const a = connect({ token: anna.token }, mode.opts);
    let b = connect({ token: boris.token }, mode.opts);
    const sockets = [a, b];
    try {
      await ready(a);
      await ready(b);
      const created = await api("POST", "/api/rooms", { token: anna.token, body: { name: `Resume ${mode.name} ${n}` } });
      assert.equal(created.status, 201);
      const room = created.body;
      assert.equal((await a.next("current_room_changed")).id, room.id);
      assert.equal((await b.emitWithAck("switch_room", { room_id: room.id })).ok, true);
      assert.equal((await b.next("current_room_changed")).id, room.id);
      // Boris's own join notice is the last event he saw in the room
      // (earlier ones came from the default room).
      let joined = await b.next("chat_message");
      while (joined.room_id !== room.id) joined = await b.next("chat_message");
      assert.equal(joined.type, 1);
      assert.equal(joined.user.id, boris.user.id);

      // A blip: Boris drops; Anna sends three acked messages; he comes
      // back with resume and gets them, in order, once, after recovery.
      b.close();
      const acked = [];
      for (let i = 0; i < 3; i++) {
        const ack = await a.emitWithAck("send_message", { content: `missed ${i}`, client_id: randomUUID() });
        assert.equal(ack.ok, true);
        acked.push(ack.message);
      }
      b = connect({ token: boris.token, resume: { room_id: room.id, after_seq: joined.seq } }, mode.opts);
      sockets.push(b);
      assert.equal((await ready(b)).id, room.id);
      const rec = await b.next("recovery");
      assert.deepEqual(rec, { room_id: room.id, recovered: true });
      // Then one live message: it follows the replay, no duplicate.
      const live = await a.emitWithAck("send_message", { content: "live" });
      const got = await messagesUntil(b, live.message.seq);
      assert.deepEqual(got.map((m) => m.seq), [...acked.map((m) => m.seq), live.message.seq]);
      assert.deepEqual(got.map((m) => m.content), ["missed 0", "missed 1", "missed 2", "live"]);
      assert.equal(got[0].client_id, acked[0].client_id);

      // An idempotent retry: the same client_id gets the original,
      // marked duplicate, and the room gets it once.
      const clientId = randomUUID();
      const first = await a.emitWithAck("send_message", { content: "once", client_id: clientId });
      assert.equal(first.ok, true);
      assert.equal(first.duplicate, undefined);
      assert.equal(first.message.client_id, clientId);
      const again = await a.emitWithAck("send_message", { content: "once", client_id: clientId });
      assert.equal(again.ok, true);
      assert.equal(again.duplicate, true);
      assert.equal(again.message.id, first.message.id);
      assert.equal(again.message.seq, first.message.seq);
      const marker = await a.emitWithAck("send_message", { content: "after" });
      const seen = await messagesUntil(b, marker.message.seq);
      assert.deepEqual(seen.map((m) => m.content), ["once", "after"]);
      const bad = await a.emitWithAck("send_message", { content: "x", client_id: "not valid!" });
      assert.equal(bad.error, "invalid_request");

      // Refusals: recovered false with a reason, nothing replayed.
      const refusals = [
        { resume: { room_id: room.id, after_seq: marker.message.seq + 1000 }, reason: "invalid_seq" },
        { resume: { room_id: "_default", after_seq: 0 }, reason: "room_changed" },
        { resume: { room_id: "rnosuchroom0000000", after_seq: 0 }, reason: "not_a_member" },
      ];
      for (const r of refusals) {
        b.close();
        b = connect({ token: boris.token, resume: r.resume }, mode.opts);
        sockets.push(b);
        await ready(b);
        const refused = await b.next("recovery");
        assert.deepEqual(refused, { room_id: r.resume.room_id, recovered: false, reason: r.reason }, JSON.stringify(r));
        const live = await a.emitWithAck("send_message", { content: `after ${r.reason}` });
        const after = await messagesUntil(b, live.message.seq);
        assert.deepEqual(after.map((m) => m.content), [`after ${r.reason}`], r.reason);
      }
    } finally {
      for (const s of sockets) s.close();
    }
  });
}
