import { describe, expect, it } from "vitest";
import { json, onRequest } from "../testing/strict-fetch";
import { DEFAULT_CLIENT_CONFIG, loadClientConfig, parseClientConfig, typingExpiryMs } from "./config";

const answer = {
  max_upload_bytes: 5 * 1024 * 1024,
  max_image_side: 4000,
  max_image_pixels: 16_000_000,
  max_message_chars: 500,
  typing_ttl_ms: 5000,
  typing_fanout_ms: 8000,
};

describe("parseClientConfig", () => {
  it("reads every field, ignoring unknown ones", () => {
    expect(parseClientConfig({ ...answer, future_field: true })).toEqual({
      maxUploadBytes: 5 * 1024 * 1024,
      maxImageSide: 4000,
      maxImagePixels: 16_000_000,
      maxMessageChars: 500,
      typingTtlMs: 5000,
      typingFanoutMs: 8000,
    });
  });

  it.each([
    ["not an object", "nope", /not a JSON object/],
    ["null", null, /not a JSON object/],
    ["a missing field", { ...answer, max_image_side: undefined }, /max_image_side is undefined/],
    ["a string", { ...answer, max_upload_bytes: "10" }, /max_upload_bytes is "10"/],
    ["zero", { ...answer, max_message_chars: 0 }, /max_message_chars is 0/],
    ["a fraction", { ...answer, typing_ttl_ms: 1.5 }, /typing_ttl_ms is 1.5/],
  ])("refuses %s", (_name, body, message) => {
    expect(() => parseClientConfig(body)).toThrow(message);
  });
});

describe("loadClientConfig", () => {
  it("gives the server's configuration", async () => {
    onRequest("GET /api/config", () => json(200, answer));
    const { config, error } = await loadClientConfig();
    expect(error).toBeNull();
    expect(config.maxImageSide).toBe(4000);
  });

  it.each([
    ["a 500", () => json(500, { error: "internal_error", message: "something went wrong" })],
    ["a bad body", () => json(200, { max_upload_bytes: -1 })],
  ])("falls back to the documented defaults, with the reason, after %s", async (_name, handler) => {
    onRequest("GET /api/config", handler);
    const { config, error } = await loadClientConfig();
    expect(config).toEqual(DEFAULT_CLIENT_CONFIG);
    expect(error).toBeInstanceOf(Error);
  });
});

describe("typingExpiryMs", () => {
  it.each([
    [{ typingTtlMs: 5000, typingFanoutMs: 3000 }, 6000],
    [{ typingTtlMs: 5000, typingFanoutMs: 8000 }, 9000],
  ])("%o gives %i", (typing, want) => {
    expect(typingExpiryMs({ ...DEFAULT_CLIENT_CONFIG, ...typing })).toBe(want);
  });
});
