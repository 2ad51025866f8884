// Shared helpers for the interop tests: the official socket.io-client against
// the ChatRooms test-mode server (`chatrooms --protocol-test`).
//
// The server URL comes from SERVER_URL (e.g. http://127.0.0.1:3000); there is
// no default, so a missing variable fails every test instead of silently
// testing something else. interop_test.go sets it.
import assert from "node:assert/strict";
import { io, Manager } from "socket.io-client";

export const SERVER_URL = process.env.SERVER_URL ?? "";
if (!/^https?:\/\//.test(SERVER_URL)) {
  throw new Error(
    `SERVER_URL must be set to the test-mode server (e.g. http://127.0.0.1:3000), got ${JSON.stringify(SERVER_URL)}`,
  );
}

// Per-test timeout for node:test; every wait inside a test has its own,
// shorter bound so a failure names what it was waiting for.
export const TEST_TIMEOUT = 15_000;
export const WAIT = 5_000;

// The three ways the official client reaches a server.
export const MODES = [
  // WebSocket from the first request (no HTTP long-polling at all).
  { name: "websocket-only", opts: { transports: ["websocket"] }, first: "websocket", final: "websocket" },
  // HTTP long-polling only; the client never tries to upgrade.
  { name: "polling-only", opts: { transports: ["polling"] }, first: "polling", final: "polling" },
  // Default: open with polling, then upgrade to WebSocket.
  { name: "polling-upgrade", opts: {}, first: "polling", final: "websocket" },
];

// Options common to every test socket: a private Manager (no multiplexing
// across tests), no automatic reconnection (a drop must fail the test, not be
// papered over), and a bounded connection timeout.
const BASE_OPTS = { forceNew: true, reconnection: false, timeout: WAIT };

// waitFor resolves with the argument list of the next `event` emitted by
// `emitter` (a Socket, Manager or engine Socket), or rejects after `ms`.
export function waitFor(emitter, event, ms = WAIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"${disconnectNote(emitter)}`));
    }, ms);
    function handler(...args) {
      clearTimeout(timer);
      resolve(args);
    }
    emitter.once(event, handler);
  });
}

// Disconnect reasons of the sockets made by connect(), so that a timeout
// says whether the connection dropped meanwhile.
const lastDisconnect = new WeakMap();

function disconnectNote(emitter) {
  const reason = lastDisconnect.get(emitter);
  return reason ? ` (the socket was disconnected: ${reason})` : "";
}

// expectNothing resolves if `event` is NOT emitted within `ms`.
export function expectNothing(emitter, event, ms) {
  return new Promise((resolve, reject) => {
    const handler = (...args) => {
      clearTimeout(timer);
      reject(new Error(`unexpected "${event}": ${JSON.stringify(args)}`));
    };
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      resolve();
    }, ms);
    emitter.once(event, handler);
  });
}

// connect opens a socket on namespace `nsp` in the given transport mode and
// resolves once the namespace CONNECT has been accepted (and, in the
// polling-upgrade mode, once the transport has been upgraded, so that tests
// run over the final transport). `before(socket)` runs before the connection
// starts, to register listeners for events the server sends on connect.
// The socket is closed when the test ends.
export async function connect(t, mode, { nsp = "/", auth, before, waitUpgrade = true } = {}) {
  const socket = io(SERVER_URL + nsp, { ...BASE_OPTS, ...mode.opts, autoConnect: false, auth });
  t.after(() => socket.disconnect());
  socket.on("disconnect", (reason) => lastDisconnect.set(socket, reason));
  if (before) before(socket);
  socket.connect();
  const upgraded =
    mode.final !== mode.first && waitUpgrade ? waitFor(socket.io.engine, "upgrade") : null;
  await connected(socket);
  if (upgraded) await upgraded;
  if (upgraded || mode.final === mode.first) {
    assert.equal(socket.io.engine.transport.name, mode.final, "transport in use");
  }
  return socket;
}

// connected resolves on "connect" and rejects on "connect_error" (or timeout).
export function connected(socket, ms = WAIT) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms waiting for "connect"`));
    }, ms);
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const onError = (err) => {
      cleanup();
      reject(new Error(`connect_error: ${err.message} ${JSON.stringify(err.data ?? null)}`));
    };
    function cleanup() {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    }
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

// connectError resolves with the Error of the next "connect_error".
export async function connectError(t, mode, { nsp = "/", auth } = {}) {
  const socket = io(SERVER_URL + nsp, { ...BASE_OPTS, ...mode.opts, autoConnect: false, auth });
  t.after(() => socket.disconnect());
  const failed = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "connect_error"`)), WAIT);
    socket.once("connect", () => {
      clearTimeout(timer);
      reject(new Error(`connected to ${nsp} although the server should have refused`));
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
  socket.connect();
  return { socket, err: await failed };
}

// manager returns a Manager (one Engine.IO connection) in the given mode, for
// multiplexing several namespaces; it is closed when the test ends.
export function manager(t, mode) {
  const m = new Manager(SERVER_URL, { ...BASE_OPTS, ...mode.opts, autoConnect: false });
  t.after(() => m.disconnect());
  return m;
}

// isBinary reports whether v arrived as binary (Buffer, typed array or
// ArrayBuffer) rather than, say, a placeholder object or a number array.
export function isBinary(v) {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

// bytes returns the bytes of a binary value as a Buffer, for comparisons.
export function bytes(v) {
  assert.ok(isBinary(v), `expected binary, got ${JSON.stringify(v)}`);
  return v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

// uniqueName returns a name unused by any other test (files run in parallel).
export function uniqueName(prefix) {
  return `${prefix}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
}
