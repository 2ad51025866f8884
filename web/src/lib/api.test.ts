import { describe, expect, it } from "vitest";
import { json, noContent, onRequest, recordedRequests } from "../testing/strict-fetch";
import { ApiError, NETWORK_ERROR, apiRequest } from "./api";

describe("apiRequest", () => {
  it("sends JSON with the token and decodes the answer", async () => {
    onRequest("POST /api/rooms", () => json(201, { id: "r1" }));
    await expect(apiRequest("/api/rooms", { method: "POST", token: "tok", body: { name: "Lobby" } })).resolves.toEqual({
      id: "r1",
    });
    const [request] = recordedRequests();
    expect(request?.headers.get("Authorization")).toBe("Bearer tok");
    expect(request?.headers.get("Content-Type")).toBe("application/json");
    expect(request?.body).toEqual({ name: "Lobby" });
  });

  it("sends no Authorization header without a token", async () => {
    onRequest("GET /api/rooms", () => json(200, []));
    await apiRequest("/api/rooms");
    expect(recordedRequests()[0]?.headers.has("Authorization")).toBe(false);
  });

  it("resolves 204 with undefined", async () => {
    onRequest("DELETE /api/users/me", () => noContent());
    await expect(apiRequest("/api/users/me", { method: "DELETE", token: "t" })).resolves.toBeUndefined();
  });

  it("rejects with the server's {error, message}", async () => {
    onRequest("POST /api/users", () => json(409, { error: "username_taken", message: 'the nickname "Anna" is taken' }));
    const err = await apiRequest("/api/users", { method: "POST", body: { username: "Anna" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, error: "username_taken", message: 'the nickname "Anna" is taken' });
  });

  it("gives an answer that is not an API error a code by its status", async () => {
    onRequest("GET /api/rooms", () => new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    await expect(apiRequest("/api/rooms")).rejects.toMatchObject({ status: 502, error: "unavailable" });
  });

  it("turns a failed request into a network_error", async () => {
    onRequest("GET /api/rooms", () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(apiRequest("/api/rooms")).rejects.toMatchObject({ status: 0, error: NETWORK_ERROR });
  });
});
