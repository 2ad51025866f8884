// Events both ways ("message" -> "message-back"), JSON and binary, with the
// official socket.io-client in each transport mode.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { MODES, TEST_TIMEOUT, WAIT, bytes, connect, isBinary, waitFor } from "./helpers.mjs";

// Arguments covering every JSON type, unicode and nesting.
const MIXED = [
  1,
  "2",
  { 3: [true] },
  null,
  -7.25,
  0,
  "",
  "ünïcødé ✓ 😀 \"quoted\" \\ / \n\t",
  [],
  {},
  { a: { b: [1, { c: "d" }, [false, null]] } },
  true,
  false,
  Number.MAX_SAFE_INTEGER,
];

for (const mode of MODES) {
  describe(`events (${mode.name})`, () => {
    it("echoes mixed JSON arguments in message-back", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const back = waitFor(socket, "message-back");
      socket.emit("message", ...MIXED);
      assert.deepEqual(await back, MIXED);
    });

    it("echoes an event without arguments", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const back = waitFor(socket, "message-back");
      socket.emit("message");
      assert.deepEqual(await back, []);
    });

    it("echoes a 300 kB string", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const big = "x".repeat(300_000) + "é";
      const back = waitFor(socket, "message-back");
      socket.emit("message", big);
      const [got] = await back;
      assert.equal(got.length, big.length);
      assert.ok(got === big, "300 kB string differs");
    });

    it("delivers 100 back-to-back events once each and in order", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const N = 100;
      const got = [];
      const done = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${got.length}/${N} message-back events`)), WAIT);
        socket.on("message-back", (i, s) => {
          got.push([i, s]);
          if (got.length === N) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      for (let i = 0; i < N; i++) socket.emit("message", i, `m${i}`);
      await done;
      assert.deepEqual(
        got,
        Array.from({ length: N }, (_, i) => [i, `m${i}`]),
      );
    });
  });

  describe(`binary events (${mode.name})`, () => {
    it("echoes Buffer and Uint8Array arguments as binary", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const back = waitFor(socket, "message-back");
      socket.emit("message", Buffer.from([1, 2, 3]), new Uint8Array([4, 5, 6]));
      const args = await back;
      assert.equal(args.length, 2);
      assert.ok(isBinary(args[0]) && isBinary(args[1]), `not binary: ${JSON.stringify(args)}`);
      assert.deepEqual(bytes(args[0]), Buffer.from([1, 2, 3]));
      assert.deepEqual(bytes(args[1]), Buffer.from([4, 5, 6]));
    });

    it("echoes binary mixed with JSON, nested in objects and arrays", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const back = waitFor(socket, "message-back");
      socket.emit(
        "message",
        "text first",
        { file: Buffer.from("hello"), meta: { name: "a.txt", size: 5 } },
        [Buffer.from([0xff, 0x00, 0x7f]), "after", { deep: [new Uint8Array([9])] }],
        42,
      );
      const [text, obj, arr, num] = await back;
      assert.equal(text, "text first");
      assert.deepEqual(bytes(obj.file), Buffer.from("hello"));
      assert.deepEqual(obj.meta, { name: "a.txt", size: 5 });
      assert.deepEqual(bytes(arr[0]), Buffer.from([0xff, 0x00, 0x7f]));
      assert.equal(arr[1], "after");
      assert.deepEqual(bytes(arr[2].deep[0]), Buffer.from([9]));
      assert.equal(num, 42);
    });

    it("echoes an empty buffer and a 64 KiB random buffer byte for byte", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const big = randomBytes(64 * 1024);
      const back = waitFor(socket, "message-back");
      socket.emit("message", Buffer.alloc(0), big);
      const [empty, got] = await back;
      assert.equal(bytes(empty).length, 0);
      assert.ok(bytes(got).equals(big), "64 KiB buffer differs");
    });

    it("keeps binary and text events in order", { timeout: TEST_TIMEOUT }, async (t) => {
      const socket = await connect(t, mode);
      const N = 30;
      const got = [];
      const done = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${got.length}/${N} message-back events`)), WAIT);
        socket.on("message-back", (i, payload) => {
          got.push([i, isBinary(payload) ? [...bytes(payload)] : payload]);
          if (got.length === N) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const expected = [];
      for (let i = 0; i < N; i++) {
        const payload = i % 2 ? Buffer.from([i, i + 1]) : `text ${i}`;
        expected.push([i, i % 2 ? [i, i + 1] : payload]);
        socket.emit("message", i, payload);
      }
      await done;
      assert.deepEqual(got, expected);
    });
  });
}
