// The official socket.io-client through the load balancer, driven by
// lb_test.go (TestCluster/nginx/official-client). It uses the copy that
// test/interop installs (npm ci --prefix test/interop).
//
// Connects to SERVER_URL, namespace /chat, with auth {token: TOKEN}, waits
// for the final transport (TRANSPORTS=polling: long-polling only;
// default: polling, then the upgrade to WebSocket), sends ROUNDS typing
// events with acks, and prints
//
//   ok transport=<name> sid=<engine.io session id> acks=<n>
//
// It exits 1 on any error, or after 45 s.
import { createRequire } from "node:module";

const require = createRequire(new URL("../interop/package.json", import.meta.url));
const { io } = require("socket.io-client");

const url = process.env.SERVER_URL;
const token = process.env.TOKEN;
const mode = process.env.TRANSPORTS || "default";
const rounds = Number(process.env.ROUNDS || 20);
if (!url || !token || !["polling", "default"].includes(mode)) {
  console.error("official_client.mjs: SERVER_URL, TOKEN and TRANSPORTS=polling|default are required");
  process.exit(1);
}

const timer = setTimeout(() => {
  console.error("official_client.mjs: not done within 45 s");
  process.exit(1);
}, 45_000);

const socket = io(url + "/chat", {
  auth: { token },
  transports: mode === "polling" ? ["polling"] : ["polling", "websocket"],
  upgrade: mode !== "polling",
  reconnection: false,
  forceNew: true,
});

function fail(what) {
  console.error("official_client.mjs:", what);
  process.exit(1);
}

socket.on("connect_error", (err) => fail(`connect_error ${err.message}`));
socket.on("disconnect", (reason) => {
  if (!done) fail(`disconnected: ${reason}`);
});

let done = false;

function transportReady() {
  const engine = socket.io.engine;
  if (mode === "polling") return Promise.resolve(engine.transport.name);
  if (engine.transport.name === "websocket") return Promise.resolve("websocket");
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no upgrade within 10 s")), 10_000);
    engine.once("upgrade", (tr) => {
      clearTimeout(t);
      resolve(tr.name);
    });
  });
}

socket.on("connect", async () => {
  try {
    const sid = socket.io.engine.id;
    const transport = await transportReady();
    let acks = 0;
    for (let i = 0; i < rounds; i++) {
      const ack = await socket.timeout(10_000).emitWithAck("typing", { typing: i % 2 === 0 });
      if (!ack || ack.ok !== true) fail(`ack ${JSON.stringify(ack)}`);
      acks++;
    }
    // The transport may have changed under the acks; report the last one.
    console.log(`ok transport=${socket.io.engine.transport.name} sid=${sid} acks=${acks}`);
    if (transport !== socket.io.engine.transport.name) fail(`transport changed from ${transport}`);
    done = true;
    clearTimeout(timer);
    socket.disconnect();
  } catch (err) {
    fail(err.message);
  }
});
