// The server's limits, as GET /api/config answers them (docs/protocol.md,
// "Client configuration"). The client checks them before sending, for an
// error in words without a round trip, and times the typing indicators by
// them; the server enforces every one whatever the client does.
//
// Read once at start (main.tsx). When the answer cannot be had, the
// client goes on with DEFAULT_CLIENT_CONFIG, the values docs/protocol.md
// gives for a server with the default flags, and says so in the console:
// a precheck that is off only moves the error to the server's answer.
import { createContext, useContext } from "react";
import { apiRequest } from "./api";

export interface ClientConfig {
  /** The largest image upload, in bytes. */
  maxUploadBytes: number;
  /** The largest width or height of an image, in pixels. */
  maxImageSide: number;
  /** The largest width × height of an image. */
  maxImagePixels: number;
  /** The most characters a message may have. */
  maxMessageChars: number;
  /** The server ends a typing indicator this long after its last start. */
  typingTtlMs: number;
  /** The least time between two typing starts of a user passed on to the room. */
  typingFanoutMs: number;
}

/** The answer of a server started with the default flags (docs/protocol.md). */
export const DEFAULT_CLIENT_CONFIG: ClientConfig = Object.freeze({
  maxUploadBytes: 10 * 1024 * 1024,
  maxImageSide: 8000,
  maxImagePixels: 50_000_000,
  maxMessageChars: 2000,
  typingTtlMs: 5000,
  typingFanoutMs: 3000,
});

/** The JSON field of each setting. */
const FIELDS: Record<keyof ClientConfig, string> = {
  maxUploadBytes: "max_upload_bytes",
  maxImageSide: "max_image_side",
  maxImagePixels: "max_image_pixels",
  maxMessageChars: "max_message_chars",
  typingTtlMs: "typing_ttl_ms",
  typingFanoutMs: "typing_fanout_ms",
};

/**
 * The configuration in an answer of GET /api/config: every field a
 * positive integer (unknown fields are ignored), else an Error naming the
 * first one that is not.
 */
export function parseClientConfig(body: unknown): ClientConfig {
  if (typeof body !== "object" || body === null) throw new Error("GET /api/config: not a JSON object");
  const record = body as Record<string, unknown>;
  const config = { ...DEFAULT_CLIENT_CONFIG };
  for (const [key, field] of Object.entries(FIELDS) as [keyof ClientConfig, string][]) {
    const value = record[field];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`GET /api/config: ${field} is ${JSON.stringify(value)}, want a positive integer`);
    }
    config[key] = value;
  }
  return config;
}

/** What loadClientConfig found: the server's configuration, or the defaults and why. */
export interface ConfigLoad {
  config: ClientConfig;
  /** Why the defaults are used; null when the server answered. */
  error: Error | null;
}

/** Asks the server once; never rejects (see the top of this file). */
export async function loadClientConfig(): Promise<ConfigLoad> {
  try {
    return { config: parseClientConfig(await apiRequest<unknown>("/api/config")), error: null };
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    return { config: DEFAULT_CLIENT_CONFIG, error };
  }
}

/** The configuration components read; the defaults unless a provider gives the server's. */
export const ClientConfigContext = createContext<ClientConfig>(DEFAULT_CLIENT_CONFIG);

export function useClientConfig(): ClientConfig {
  return useContext(ClientConfigContext);
}

/**
 * How long an indicator not renewed stays: the server re-sends a start at
 * most every fan-out interval and ends it after its TTL, so past the
 * longer of the two (and a margin for the network) a stop was lost.
 */
export function typingExpiryMs(config: ClientConfig): number {
  return Math.max(config.typingTtlMs, config.typingFanoutMs) + 1000;
}
