// The HTTP side of the chat contract, shared by the chat scenarios: the
// server is SERVER_URL.
import assert from "node:assert/strict";

export const URL = process.env.SERVER_URL ?? "";
if (!/^https?:\/\//.test(URL)) throw new Error("SERVER_URL must be set");

// api calls the REST API and returns the status and the parsed body.
export async function api(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(URL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// register creates a user and returns {user, token}.
export async function register(name) {
  const res = await api("POST", "/api/users", { body: { username: name } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}
