// The chat contract (docs/protocol.md) driven by the official socket.io-client
// against the real chat service (`chatrooms` with an embedded NATS), over each
// transport mode. Run by chat_interop_test.go with SERVER_URL set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { URL, api, register } from "./api.mjs";

const WAIT = 5_000;

const MODES = [
  { name: "websocket-only", opts: { transports: ["websocket"] } },
  { name: "polling-only", opts: { transports: ["polling"] } },
  { name: "polling-upgrade", opts: {} },
];

// A socket whose every event is queued, so none is missed between awaits.
function connect(token, opts) {
  const socket = io(URL + "/chat", { ...opts, auth: { token }, forceNew: true, reconnection: false, timeout: WAIT });
  const queue = [];
  const waiters = [];
  socket.onAny((event, ...args) => {
    const i = waiters.findIndex((w) => w.event === event);
    if (i >= 0) {
      const [w] = waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(args[0]);
    } else {
      queue.push({ event, arg: args[0] });
    }
  });
  socket.next = (event) => {
    const i = queue.findIndex((q) => q.event === event);
    if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0].arg);
    return new Promise((resolve, reject) => {
      const w = { event, resolve, timer: setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), WAIT) };
      waiters.push(w);
    });
  };
  socket.order = () => queue.map((q) => q.event);
  return socket;
}

async function ready(socket) {
  if (!socket.connected) {
    // It may have connected while the caller awaited something else.
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
  }
  const rooms = await socket.next("room_list_changed");
  const users = await socket.next("user_list_changed");
  const room = await socket.next("current_room_changed");
  return { rooms, users, room };
}

let n = 0;
for (const mode of MODES) {
  test(`chat scenario over ${mode.name}`, { timeout: 30_000 }, async () => {
    n++;
    const anna = await register(`Anna ${n}`);
    const boris = await register(`Boris ${n}`);

    // A bad token is refused with connect_error invalid_token.
    const bad = io(URL + "/chat", { ...mode.opts, auth: { token: anna.user.id }, forceNew: true, reconnection: false });
    const err = await new Promise((resolve) => bad.once("connect_error", resolve));
    assert.equal(err.message, "invalid_token");
    bad.close();

    const a = connect(anna.token, mode.opts);
    const b = connect(boris.token, mode.opts);
    try {
      const sa = await ready(a);
      await ready(b);
      assert.ok(sa.rooms.some((r) => r.id === "_default" && r.persistent));
      assert.ok(sa.users.some((u) => u.id === anna.user.id));
      assert.equal(sa.room.id, "_default");

      // Events and acks: both members get the message, with its seq.
      const ack = await a.emitWithAck("send_message", { content: "hello from node" });
      assert.equal(ack.ok, true);
      assert.equal(ack.message.content, "hello from node");
      assert.ok(ack.message.seq > 0);
      for (const s of [a, b]) {
        let m = await s.next("chat_message");
        while (m.type !== 0) m = await s.next("chat_message"); // join notices of this scenario
        assert.equal(m.id, ack.message.id);
        assert.equal(m.sender.id, anna.user.id);
      }

      // Errors come back in the ack with a code.
      const refused = await a.emitWithAck("send_message", { content: "   " });
      assert.equal(refused.error, "invalid_message");
      const unknown = await a.emitWithAck("switch_room", { room_id: "nope" });
      assert.equal(unknown.error, "room_not_found");

      // Typing reaches the other member only.
      await a.emitWithAck("typing", { typing: true });
      const typing = await b.next("typing");
      assert.equal(typing.user.id, anna.user.id);
      assert.equal(typing.typing, true);

      // A room is created (creator moved in), joined by Boris, deleted when both leave.
      const created = await api("POST", "/api/rooms", { token: anna.token, body: { name: `Node room ${n}` } });
      assert.equal(created.status, 201);
      const room = created.body;
      const moved = await a.next("current_room_changed");
      assert.equal(moved.id, room.id);
      const sw = await b.emitWithAck("switch_room", { room_id: room.id });
      assert.equal(sw.ok, true);
      assert.equal(sw.room.id, room.id);
      assert.equal((await a.emitWithAck("switch_room", { room_id: "_default" })).ok, true);
      assert.equal((await api("GET", `/api/rooms/${room.id}`)).status, 200);
      assert.equal((await b.emitWithAck("switch_room", { room_id: "_default" })).ok, true);
      assert.equal((await api("GET", `/api/rooms/${room.id}`)).status, 404);

      // Logout disconnects the socket for good and frees the nickname.
      const gone = new Promise((resolve) => b.once("disconnect", resolve));
      assert.equal((await api("DELETE", "/api/users/me", { token: boris.token })).status, 204);
      assert.equal(await gone, "io server disconnect");
      assert.equal((await api("GET", "/api/users/me", { token: boris.token })).status, 401);
      await register(`boris ${n}`);
    } finally {
      a.close();
      b.close();
    }
  });
}
