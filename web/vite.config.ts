/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { themeableChatUiKit } from "./build/chat-ui-kit-theme.ts";
import { keepGitkeep } from "./build/keep-gitkeep.ts";

// The Go server the dev server forwards /api and /socket.io to.
const devTarget = process.env.CHATROOMS_DEV_TARGET ?? "http://127.0.0.1:8080";

// The strictest policy the built app runs under (web/README.md): the
// preview server sends it too, so `npm run preview` shows CSP violations.
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export default defineConfig({
  plugins: [themeableChatUiKit(), react(), keepGitkeep()],
  server: {
    proxy: {
      "/api": { target: devTarget, changeOrigin: false },
      "/socket.io": { target: devTarget, ws: true, changeOrigin: false },
    },
  },
  preview: {
    headers: { "Content-Security-Policy": contentSecurityPolicy },
    proxy: {
      "/api": { target: devTarget, changeOrigin: false },
      "/socket.io": { target: devTarget, ws: true, changeOrigin: false },
    },
  },
  build: {
    outDir: "dist",
    // Old hashed files go; keepGitkeep puts back dist/.gitkeep.
    emptyOutDir: true,
    assetsDir: "assets",
    // No inline script anywhere: the polyfill would be injected inline.
    modulePreload: { polyfill: false },
    // Never inline assets as data: URLs (img-src 'self' only).
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/testing/setup-tests.ts"],
    css: false,
    restoreMocks: true,
    unstubGlobals: true,
    // A test's bound detects a hang; on a busy 2-core machine jsdom renders slowly.
    testTimeout: 60_000,
  },
});
