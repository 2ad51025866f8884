// Acknowledgements both ways: client -> server ("message-with-ack") and
// server -> client ("server-ack" asks the server to emit "server-ack-request"
// with an ack; the acked values come back in "server-ack-result").
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MODES, TEST_TIMEOUT, WAIT, bytes, connect, isBinary, waitFor } from "./helpers.mjs";

// emitWithAckAll emits with an ack callback and resolves with ALL the acked
// values (emitWithAck only returns the first one).
function emitWithAckAll(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(WAIT).emit(event, ...args, (err, ...values) => {
      if (err) reject(new Error(`no ack for "${event}" within ${WAIT} ms: ${err.message}`));
      else resolve(values);
    });
  });
}

// answerServerAcks makes the client ack every "server-ack-request" with
// `values`, and records the request arguments (without the ack function).
function answerServerAcks(socket, ...values) {
  const requests = [];
  socket.on("server-ack-request", (...args) => {
    const ack = args.pop();
    assert.equal(typeof ack, "function", "server-ack-request carries no ack id");
    requests.push(args);
    ack(...values);
  });
  return requests;
}

for (const mode of MODES) {
  describe(`acks client->server (${mode.name})`, () => {
    it("emitWithAck returns the acked value", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const value = { a: 1, b: ["x", null, false] };
      assert.deepEqual(await socket.timeout(WAIT).emitWithAck("message-with-ack", value), value);
    });

    it("acks with all the mixed JSON arguments", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const args = [1, "2", { 3: [false] }, null, "é😀", [[]], {}];
      assert.deepEqual(await emitWithAckAll(socket, "message-with-ack", ...args), args);
    });

    it("acks an event without arguments with no values", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      assert.deepEqual(await emitWithAckAll(socket, "message-with-ack"), []);
    });

    it("matches 50 concurrent acks to their events", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const inputs = Array.from({ length: 50 }, (_, i) => ({ i, s: `v${i}` }));
      const results = await Promise.all(
        inputs.map((v) => socket.timeout(WAIT).emitWithAck("message-with-ack", v)),
      );
      assert.deepEqual(results, inputs);
    });

    it("acks binary arguments as binary", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const got = await socket.timeout(WAIT).emitWithAck("message-with-ack", Buffer.from([1, 2, 3]));
      assert.ok(isBinary(got), `not binary: ${JSON.stringify(got)}`);
      assert.deepEqual(bytes(got), Buffer.from([1, 2, 3]));

      const values = await emitWithAckAll(
        socket,
        "message-with-ack",
        new Uint8Array([4, 5, 6]),
        { nested: Buffer.from("nested"), n: 1 },
        "text",
      );
      assert.equal(values.length, 3);
      assert.deepEqual(bytes(values[0]), Buffer.from([4, 5, 6]));
      assert.deepEqual(bytes(values[1].nested), Buffer.from("nested"));
      assert.equal(values[1].n, 1);
      assert.equal(values[2], "text");
    });
  });

  describe(`acks server->client (${mode.name})`, () => {
    it("server-ack: the server gets exactly the values the client acked", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const acked = ["ok", 42, { nested: [true, null] }];
      const requests = answerServerAcks(socket, ...acked);
      const result = waitFor(socket, "server-ack-result");
      const sent = ["a", 1, { b: [null] }];
      socket.emit("server-ack", ...sent);
      assert.deepEqual(await result, acked);
      assert.deepEqual(requests, [sent]);
    });

    it("server-ack with binary: request and ack values stay binary", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const requests = answerServerAcks(socket, Buffer.from([7, 8, 9]), { blob: new Uint8Array([10]) }, "s");
      const result = waitFor(socket, "server-ack-result");
      socket.emit("server-ack", Buffer.from([1, 2]), "text");
      const [bin, obj, s] = await result;
      assert.deepEqual(bytes(bin), Buffer.from([7, 8, 9]));
      assert.deepEqual(bytes(obj.blob), Buffer.from([10]));
      assert.equal(s, "s");
      assert.equal(requests.length, 1);
      assert.deepEqual(bytes(requests[0][0]), Buffer.from([1, 2]));
      assert.equal(requests[0][1], "text");
    });

    it("server-ack: several requests in flight are acked independently", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      // Ack each request with its own first argument doubled.
      socket.on("server-ack-request", (n, ack) => ack(n * 2));
      const results = [];
      const all = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${results.length}/10 results`)), WAIT);
        socket.on("server-ack-result", (v) => {
          results.push(v);
          if (results.length === 10) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      for (let n = 0; n < 10; n++) socket.emit("server-ack", n);
      await all;
      // Results may come back in any order; each must be one of the doubles.
      assert.deepEqual(
        results.sort((a, b) => a - b),
        Array.from({ length: 10 }, (_, n) => n * 2),
      );
    });
  });
}
