// Server -> client ack timeout: when the client never acks
// "server-ack-request", the server reports {"error":"timeout"} in
// "server-ack-result" after its 5 s ack timeout. The three transport modes run
// concurrently so the file takes ~5 s, not ~15 s.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MODES, connect, expectNothing, waitFor } from "./helpers.mjs";

const SERVER_ACK_TIMEOUT = 5_000;

describe("server ack timeout", { concurrency: true }, () => {
  for (const mode of MODES) {
    it(`reports {"error":"timeout"} when the client does not ack (${mode.name})`, { timeout: 15_000 }, async (t) => {
      const socket = await connect(t, mode);
      const request = waitFor(socket, "server-ack-request");
      socket.emit("server-ack", "never acked");
      const args = await request;
      assert.equal(typeof args.at(-1), "function", "server-ack-request carries no ack id");
      assert.deepEqual(args.slice(0, -1), ["never acked"]);
      const started = Date.now();
      // Nothing before the server's timeout (minus scheduling slack) ...
      await expectNothing(socket, "server-ack-result", SERVER_ACK_TIMEOUT - 1_000);
      // ... then the timeout result, while the connection stays up.
      const result = await waitFor(socket, "server-ack-result", 3_000);
      assert.deepEqual(result, [{ error: "timeout" }]);
      assert.ok(Date.now() - started < SERVER_ACK_TIMEOUT + 2_000);
      assert.ok(socket.connected, "the ack timeout must not disconnect the socket");
    });
  }
});
