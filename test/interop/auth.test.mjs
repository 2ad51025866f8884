// Namespace "/auth": the server refuses the connection unless the CONNECT
// payload is {"token":"secret"}; the client then gets connect_error with
// message "invalid_token" and data {"code":"invalid_token"}.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MODES, TEST_TIMEOUT, connect, connectError, connected, expectNothing, manager, waitFor } from "./helpers.mjs";

for (const mode of MODES) {
  describe(`auth (${mode.name})`, () => {
    for (const [label, auth] of [
      ["without auth", undefined],
      ["with a wrong token", { token: "wrong" }],
      ["with a non-string token", { token: 1 }],
    ]) {
      it(`refuses /auth ${label}: connect_error invalid_token`, { timeout: TEST_TIMEOUT }, async (t) => {
        const { socket, err } = await connectError(t, mode, { nsp: "/auth", auth });
        assert.equal(err.message, "invalid_token");
        assert.deepEqual(err.data, { code: "invalid_token" });
        assert.equal(socket.connected, false);
      });
    }

    it("accepts /auth with token secret", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode, { nsp: "/auth", auth: { token: "secret" } });
      assert.ok(socket.connected);
      assert.equal(typeof socket.id, "string");
      assert.ok(socket.id.length > 0);
      // Accepted means accepted: no late disconnect.
      await expectNothing(socket, "disconnect", 500);
      assert.ok(socket.connected);
    });

    it("a refused namespace leaves the shared connection usable", { timeout: TEST_TIMEOUT }, async (t) => {
      const m = manager(t, mode);
      const main = m.socket("/");
      main.connect();
      await connected(main);
      const engineId = m.engine.id;

      const guarded = m.socket("/auth", { auth: { token: "wrong" } });
      const failed = waitFor(guarded, "connect_error");
      guarded.connect();
      const [err] = await failed;
      assert.equal(err.message, "invalid_token");
      assert.deepEqual(err.data, { code: "invalid_token" });

      // "/" keeps working on the same Engine.IO session ...
      const back = waitFor(main, "message-back");
      main.emit("message", "main still works");
      assert.deepEqual(await back, ["main still works"]);
      assert.ok(main.connected);
      assert.equal(m.engine.id, engineId, "the Engine.IO session changed");

      // ... and retrying with the right token succeeds on it.
      guarded.auth = { token: "secret" };
      guarded.connect();
      await connected(guarded);
      assert.equal(m.engine.id, engineId, "the Engine.IO session changed");
    });
  });
}
