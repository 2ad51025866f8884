import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach, beforeEach, vi } from "vitest";
import { installFakeXhr, pendingXhrs } from "./fake-xhr";
import { installStrictFetch, unhandledRequests } from "./strict-fetch";

// No test may reach a real server: the socket is always a fake, and a real
// io() call fails the test; fetch and XMLHttpRequest answer only what a
// test declared or answered itself.
vi.mock("socket.io-client", () => ({
  io: vi.fn(() => {
    throw new Error("a test opened a real Socket.IO connection; pass a fake socket");
  }),
}));

// findBy*/waitFor wait for a condition, not for a speed: the bound only
// tells a hang from a busy machine (the default 1 s fails beside a CPU hog).
configure({ asyncUtilTimeout: 10_000 });

beforeEach(() => {
  installStrictFetch();
  installFakeXhr();
  localStorage.clear();
  sessionStorage.clear();
  document.title = "ChatRooms";
});

afterEach(() => {
  // Read before unmounting: an unmounted uploader aborts what is pending.
  const neverAnswered = pendingXhrs();
  cleanup();
  const unexpected = [...unhandledRequests(), ...neverAnswered];
  if (unexpected.length > 0) {
    throw new Error(`unexpected network requests:\n${unexpected.join("\n")}`);
  }
});
