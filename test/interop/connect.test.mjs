// Connection, namespaces, transports, upgrade and heartbeat, with the
// official socket.io-client in each transport mode.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { io } from "socket.io-client";
import {
  MODES,
  SERVER_URL,
  TEST_TIMEOUT,
  WAIT,
  connect,
  connectError,
  connected,
  manager,
  waitFor,
} from "./helpers.mjs";

for (const mode of MODES) {
  describe(`connect (${mode.name})`, () => {
    it("connects to the main namespace and receives the auth event", { timeout: TEST_TIMEOUT }, async (t) => {
      let auth;
      const socket = await connect(t, mode, { before: (s) => (auth = waitFor(s, "auth")) });
      assert.equal(typeof socket.id, "string");
      assert.ok(socket.id.length > 0, "socket.id is empty");
      assert.deepEqual(await auth, [{}]);
    });

    it("echoes the CONNECT auth payload in the auth event", { timeout: TEST_TIMEOUT }, async (t) => {
      const payload = { token: "123", list: [1, "two", null], nested: { ok: true } };
      let auth;
      await connect(t, mode, { auth: payload, before: (s) => (auth = waitFor(s, "auth")) });
      assert.deepEqual(await auth, [payload]);
    });

    it("connects to the /custom namespace with auth", { timeout: TEST_TIMEOUT }, async (t) => {
      let auth;
      const socket = await connect(t, mode, {
        nsp: "/custom",
        auth: { token: "abc" },
        before: (s) => (auth = waitFor(s, "auth")),
      });
      assert.equal(typeof socket.id, "string");
      assert.deepEqual(await auth, [{ token: "abc" }]);
    });

    it("refuses an unknown namespace with connect_error", { timeout: TEST_TIMEOUT }, async (t) => {
      const { err } = await connectError(t, mode, { nsp: "/random" });
      assert.equal(err.message, "Invalid namespace");
    });

    it("multiplexes / and /custom over one Engine.IO connection", { timeout: TEST_TIMEOUT }, async (t) => {
      const m = manager(t, mode);
      const main = m.socket("/");
      const custom = m.socket("/custom");
      const mainAuth = waitFor(main, "auth");
      const customAuth = waitFor(custom, "auth");
      main.connect();
      custom.connect();
      await Promise.all([connected(main), connected(custom)]);
      assert.deepEqual(await mainAuth, [{}]);
      assert.deepEqual(await customAuth, [{}]);
      assert.notEqual(main.id, custom.id, "each namespace gets its own socket id");

      // Leaving /custom must not close the shared connection nor affect "/".
      custom.disconnect();
      const back = waitFor(main, "message-back");
      main.emit("message", "still here");
      assert.deepEqual(await back, ["still here"]);
      assert.ok(main.connected);
    });

    it("stays connected across several heartbeats while idle", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      let reason = null;
      socket.on("disconnect", (r) => (reason = r));
      // pingInterval is 300 ms and pingTimeout 200 ms in protocol-test mode:
      // 1.6 s covers five ping/pong cycles.
      await sleep(1600);
      assert.equal(reason, null, `disconnected while idle: ${reason}`);
      assert.ok(socket.connected);
      const back = waitFor(socket, "message-back");
      socket.emit("message", "after idle");
      assert.deepEqual(await back, ["after idle"]);
      assert.equal(socket.io.engine.transport.name, mode.final);
    });

    it("accepts a fresh session right after a client disconnect", { timeout: TEST_TIMEOUT }, async (t) => {
      const first = await connect(t, mode);
      const firstId = first.id;
      first.disconnect();
      assert.equal(first.connected, false);
      const second = await connect(t, mode);
      assert.notEqual(second.id, firstId);
    });
  });
}

describe("transport selection", () => {
  it("websocket-only never uses HTTP long-polling", { timeout: TEST_TIMEOUT }, async (t) => {
    const socket = io(SERVER_URL, { forceNew: true, reconnection: false, timeout: WAIT, transports: ["websocket"] });
    t.after(() => socket.disconnect());
    const opened = waitFor(socket.io, "open");
    await connected(socket);
    await opened;
    assert.equal(socket.io.engine.transport.name, "websocket");
    const back = waitFor(socket, "message-back");
    socket.emit("message", "ws");
    assert.deepEqual(await back, ["ws"]);
    assert.equal(socket.io.engine.transport.name, "websocket");
  });

  it("polling-only stays on HTTP long-polling", { timeout: TEST_TIMEOUT }, async (t) => {
    const socket = io(SERVER_URL, { forceNew: true, reconnection: false, timeout: WAIT, transports: ["polling"] });
    t.after(() => socket.disconnect());
    let upgrading = false;
    socket.io.engine.on("upgrading", () => (upgrading = true));
    await connected(socket);
    await sleep(700);
    const back = waitFor(socket, "message-back");
    socket.emit("message", "polling");
    assert.deepEqual(await back, ["polling"]);
    assert.equal(socket.io.engine.transport.name, "polling");
    assert.equal(upgrading, false, "client tried to upgrade although transports is polling-only");
  });

  it("default mode starts on polling and upgrades to websocket", { timeout: TEST_TIMEOUT }, async (t) => {
    const socket = io(SERVER_URL, { forceNew: true, reconnection: false, timeout: WAIT });
    t.after(() => socket.disconnect());
    const engine = socket.io.engine;
    const opened = waitFor(engine, "open");
    const upgrade = waitFor(engine, "upgrade");
    await opened;
    assert.equal(engine.transport.name, "polling", "first transport");
    await connected(socket);
    const [transport] = await upgrade;
    assert.equal(transport.name, "websocket", "transport passed to the upgrade event");
    assert.equal(socket.io.engine.transport.name, "websocket", "transport after the upgrade event");
    const back = waitFor(socket, "message-back");
    socket.emit("message", "upgraded");
    assert.deepEqual(await back, ["upgraded"]);
    assert.equal(socket.io.engine.transport.name, "websocket");
  });

  it("messages sent before, during and after the upgrade arrive once and in order", { timeout: TEST_TIMEOUT }, async (t) => {
    const socket = io(SERVER_URL, { forceNew: true, reconnection: false, timeout: WAIT, autoConnect: false });
    t.after(() => socket.disconnect());
    const got = [];
    const N = 60;
    const all = new Promise((resolve) => {
      socket.on("message-back", (i) => {
        got.push(i);
        if (got.length === N) resolve();
      });
    });
    socket.connect();
    const upgrade = waitFor(socket.io.engine, "upgrade");
    await connected(socket);
    let i = 0;
    // Before the upgrade starts (still polling) ...
    for (; i < 20; i++) socket.emit("message", i);
    // ... while the probe is in flight (the client buffers) ...
    socket.io.engine.once("upgrading", () => {
      for (; i < 40; i++) socket.emit("message", i);
    });
    await upgrade;
    // ... and after it, over the WebSocket.
    for (; i < N; i++) socket.emit("message", i);
    await Promise.race([all, sleep(WAIT).then(() => assert.fail(`got ${got.length}/${N}: ${got.join(",")}`))]);
    assert.deepEqual(got, Array.from({ length: N }, (_, k) => k));
    assert.equal(socket.io.engine.transport.name, "websocket");
  });
});
