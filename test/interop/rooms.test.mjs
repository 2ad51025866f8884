// Rooms: "join" (room) acks true; "broadcast" (room, args...) makes the
// server emit "broadcast-back" (args...) to every socket in the room, the
// sender included if it is a member.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MODES, TEST_TIMEOUT, WAIT, bytes, connect, expectNothing, uniqueName, waitFor } from "./helpers.mjs";

// Long enough for a stray broadcast to show up on a loopback connection.
const QUIET = 400;

async function join(socket, room) {
  assert.equal(await socket.timeout(WAIT).emitWithAck("join", room), true, `join ${room} did not ack true`);
}

for (const mode of MODES) {
  describe(`rooms (${mode.name})`, () => {
    it("a broadcast reaches both members, sender included", { timeout: TEST_TIMEOUT }, async (t) => {
      const room = uniqueName("room");
      const [a, b, outsider] = await Promise.all([connect(t, mode), connect(t, mode), connect(t, mode)]);
      await join(a, room);
      await join(b, room);
      const atA = waitFor(a, "broadcast-back");
      const atB = waitFor(b, "broadcast-back");
      const notOutside = expectNothing(outsider, "broadcast-back", QUIET);
      a.emit("broadcast", room, "hello", { n: 1, list: [true, null] });
      assert.deepEqual(await atA, ["hello", { n: 1, list: [true, null] }]);
      assert.deepEqual(await atB, ["hello", { n: 1, list: [true, null] }]);
      await notOutside;
    });

    it("a non-member can broadcast into a room without receiving it", { timeout: TEST_TIMEOUT }, async (t) => {
      const room = uniqueName("room");
      const [a, b, sender] = await Promise.all([connect(t, mode), connect(t, mode), connect(t, mode)]);
      await join(a, room);
      await join(b, room);
      const atA = waitFor(a, "broadcast-back");
      const atB = waitFor(b, "broadcast-back");
      const notSender = expectNothing(sender, "broadcast-back", QUIET);
      sender.emit("broadcast", room, "from outside");
      assert.deepEqual(await atA, ["from outside"]);
      assert.deepEqual(await atB, ["from outside"]);
      await notSender;
    });

    it("rooms are isolated from each other", { timeout: TEST_TIMEOUT }, async (t) => {
      const r1 = uniqueName("r1");
      const r2 = uniqueName("r2");
      const [a, b] = await Promise.all([connect(t, mode), connect(t, mode)]);
      await join(a, r1);
      await join(b, r2);
      const atA = waitFor(a, "broadcast-back");
      const notB = expectNothing(b, "broadcast-back", QUIET);
      a.emit("broadcast", r1, "only r1");
      assert.deepEqual(await atA, ["only r1"]);
      await notB;
    });

    it("a binary broadcast arrives as binary at every member", { timeout: TEST_TIMEOUT }, async (t) => {
      const room = uniqueName("room");
      const [a, b] = await Promise.all([connect(t, mode), connect(t, mode)]);
      await join(a, room);
      await join(b, room);
      const atA = waitFor(a, "broadcast-back");
      const atB = waitFor(b, "broadcast-back");
      a.emit("broadcast", room, Buffer.from([1, 2, 3]), { img: new Uint8Array([4, 5]) });
      for (const got of [await atA, await atB]) {
        assert.deepEqual(bytes(got[0]), Buffer.from([1, 2, 3]));
        assert.deepEqual(bytes(got[1].img), Buffer.from([4, 5]));
      }
    });
  });
}

describe("rooms across transports", () => {
  it("members on websocket, polling and upgraded connections all receive a broadcast", { timeout: TEST_TIMEOUT }, async (t) => {
    const room = uniqueName("mixed");
    const sockets = await Promise.all(MODES.map((mode) => connect(t, mode)));
    for (const s of sockets) await join(s, room);
    const received = sockets.map((s) => waitFor(s, "broadcast-back"));
    sockets[1].emit("broadcast", room, "to all", 3);
    for (const got of await Promise.all(received)) assert.deepEqual(got, ["to all", 3]);
  });
});
