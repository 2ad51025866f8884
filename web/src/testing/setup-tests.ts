import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach, beforeEach, vi } from "vitest";
import { installStrictFetch, unhandledRequests } from "./strict-fetch";

// No test may reach a real server: the socket is always a fake, and a real
// io() call fails the test.
vi.mock("socket.io-client", () => ({
  io: vi.fn(() => {
    throw new Error("a test opened a real Socket.IO connection; pass a fake socket");
  }),
}));

beforeEach(() => {
  installStrictFetch();
  localStorage.clear();
  document.title = "ChatRooms";
});

afterEach(() => {
  cleanup();
  const unexpected = unhandledRequests();
  if (unexpected.length > 0) {
    throw new Error(`unexpected network requests:\n${unexpected.join("\n")}`);
  }
});
