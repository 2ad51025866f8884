// Reconnection check, driven by interop_test.go (TestInterop/reconnect).
//
// Connects the official socket.io-client to SERVER_URL with automatic
// reconnection on, and prints one line per step on stdout:
//
//   connected <transport>        first namespace CONNECT accepted
//   disconnected <reason>        the server went away
//   reconnected <transport>      connected again to the restarted server
//
// After reconnecting it checks one message round trip and exits 0. It exits 1
// if that does not happen within RECONNECT_TIMEOUT_MS (default 30000).
//
// Env: SERVER_URL (required), TRANSPORTS = "websocket" | "polling" | "default"
// (polling, then upgrade; the default), RECONNECT_TIMEOUT_MS.
import { io } from "socket.io-client";

const url = process.env.SERVER_URL;
if (!url) {
  console.error("reconnect.mjs: SERVER_URL is not set");
  process.exit(1);
}
const mode = process.env.TRANSPORTS || "default";
const transports = { websocket: ["websocket"], polling: ["polling"], default: undefined }[mode];
if (!(mode in { websocket: 1, polling: 1, default: 1 })) {
  console.error(`reconnect.mjs: unknown TRANSPORTS ${JSON.stringify(mode)}`);
  process.exit(1);
}
const limit = Number(process.env.RECONNECT_TIMEOUT_MS || 30_000);

const timer = setTimeout(() => {
  console.error(`reconnect.mjs: no reconnection within ${limit} ms`);
  process.exit(1);
}, limit);

const socket = io(url, {
  ...(transports ? { transports } : {}),
  forceNew: true,
  reconnection: true,
  reconnectionDelay: 100,
  reconnectionDelayMax: 500,
  timeout: 2_000,
});

let connects = 0;
socket.on("connect", () => {
  connects++;
  const transport = socket.io.engine.transport.name;
  if (connects === 1) {
    console.log(`connected ${transport}`);
    return;
  }
  console.log(`reconnected ${transport}`);
  const roundTrip = setTimeout(() => {
    console.error("reconnect.mjs: no message-back after reconnecting");
    process.exit(1);
  }, 5_000);
  socket.once("message-back", (v) => {
    clearTimeout(roundTrip);
    clearTimeout(timer);
    if (v !== "after reconnect") {
      console.error(`reconnect.mjs: unexpected message-back ${JSON.stringify(v)}`);
      process.exit(1);
    }
    socket.disconnect();
    process.exit(0);
  });
  socket.emit("message", "after reconnect");
});

socket.on("disconnect", (reason) => {
  console.log(`disconnected ${reason}`);
  // "io server disconnect" (a Socket.IO DISCONNECT packet from the server)
  // turns automatic reconnection off in the client: report it plainly.
  if (reason === "io server disconnect") {
    console.error(
      "reconnect.mjs: the server sent a Socket.IO DISCONNECT; the client will not reconnect automatically",
    );
  }
});

socket.on("connect_error", (err) => {
  // Expected while the server is down; the Manager keeps retrying.
  console.error(`connect_error ${err.message}`);
});
