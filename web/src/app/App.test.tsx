import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { TOKEN_KEY, USER_KEY } from "../features/auth/api/storage";
import { DRAFT_KEY, OUTBOX_KEY, VIEW_KEY } from "../features/messages/api/storage";
import type { ResumeSource } from "../lib/socket";
import { FakeSocket } from "../testing/fake-socket";
import { anna, defaultRoom, listsOf, notice, peter, textMessage } from "../testing/fixtures";
import { json, noContent, onRequest, recordedRequests } from "../testing/strict-fetch";
import { App } from "./App";

function renderApp() {
  const sockets: { token: string; fake: FakeSocket; resume: ResumeSource }[] = [];
  render(
    <App
      createSocket={(token, resume) => {
        const fake = new FakeSocket();
        sockets.push({ token, fake, resume });
        return fake.asSocket();
      }}
    />,
  );
  const last = () => {
    const s = sockets[sockets.length - 1];
    if (!s) throw new Error("no socket was opened");
    return s;
  };
  // The chat screen shows before its effects have run (subscribed to the
  // socket and called connect()): the server answers only once they have.
  const serverConnects = async () => {
    const { fake } = last();
    await waitFor(() => expect(fake.connect).toHaveBeenCalled());
    act(() => {
      fake.serverConnect();
      fake.serverEmit("lists", listsOf([anna, peter], [defaultRoom]));
      fake.serverEmit("current_room_changed", defaultRoom);
    });
  };
  return { sockets, last, serverConnects };
}

function storeSession(token = "stored-token") {
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.setItem(USER_KEY, JSON.stringify(peter));
}

const nickname = () => screen.getByRole("textbox", { name: "Nickname" });
const conversation = () => screen.queryByRole("main", { name: "Conversation" });
/** The chat screen is up (its conversation shows once the server put us in a room). */
const chatScreen = () => screen.findByRole("navigation", { name: "Rooms" });

/**
 * The app started with a stored session the server knows, on its chat
 * screen, its socket opened (the screen shows before its effects have
 * subscribed to the socket and called connect(): the server can answer,
 * or refuse, only after that).
 */
async function storedSessionApp() {
  storeSession();
  onRequest("GET /api/users/me", () => json(200, peter));
  const app = renderApp();
  await chatScreen();
  await waitFor(() => expect(app.last().fake.connect).toHaveBeenCalled());
  return app;
}

describe("App", () => {
  it("logs in, keeps the token, and connects with it", async () => {
    onRequest("POST /api/users", () => json(201, { user: peter, token: "new-token" }));
    const app = renderApp();
    await userEvent.type(nickname(), "Peter{Enter}");
    await chatScreen();
    // No conversation until the server has put this connection in a room.
    expect(conversation()).not.toBeInTheDocument();
    expect(screen.getByText("Connecting…", { selector: ".conversation__waiting" })).toBeInTheDocument();
    expect(recordedRequests()[0]?.body).toEqual({ username: "Peter" });
    expect(localStorage.getItem(TOKEN_KEY)).toBe("new-token");
    expect(app.last().token).toBe("new-token");
    expect(app.last().fake.connect).toHaveBeenCalledOnce();
    await app.serverConnects();
    expect(conversation()).toBeInTheDocument();
    expect(screen.getByRole("heading", { level: 2 })).toHaveTextContent("Default Room");
    expect(screen.getByRole("complementary", { name: "Info" })).toHaveTextContent("You are logged in as Peter");
  });

  it("a stored token the server knows goes straight to the chat", async () => {
    const app = await storedSessionApp();
    expect(recordedRequests()[0]?.headers.get("Authorization")).toBe("Bearer stored-token");
    expect(app.last().token).toBe("stored-token");
  });

  it("a stored token the server refuses goes back to login", async () => {
    storeSession();
    onRequest("GET /api/users/me", () => json(401, { error: "unauthorized", message: "invalid token" }));
    renderApp();
    expect(await screen.findByRole("textbox", { name: "Nickname" })).toHaveValue("Peter");
    expect(screen.getByRole("status")).toHaveTextContent("Your session has ended");
    expect(localStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it("an unreachable server does not log out a stored session", async () => {
    storeSession();
    onRequest("GET /api/users/me", () => {
      throw new TypeError("Failed to fetch");
    });
    renderApp();
    await chatScreen();
    expect(localStorage.getItem(TOKEN_KEY)).toBe("stored-token");
  });

  it("a socket refused for its token sends the user to login and forgets the token", async () => {
    const app = await storedSessionApp();
    act(() => app.last().fake.connectError("invalid_token"));
    expect(await screen.findByRole("textbox", { name: "Nickname" })).toBeInTheDocument();
    expect(localStorage.getItem(TOKEN_KEY)).toBeNull();
    expect(conversation()).not.toBeInTheDocument();
  });

  it("a logout in another tab (server disconnect) logs this tab out", async () => {
    const app = await storedSessionApp();
    await app.serverConnects();
    act(() => app.last().fake.serverDisconnect("io server disconnect"));
    expect(await screen.findByRole("textbox", { name: "Nickname" })).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("You have been logged out.");
  });

  it("Logout deletes the session on the server, disconnects and forgets the token", async () => {
    onRequest("DELETE /api/users/me", () => noContent());
    const app = await storedSessionApp();
    await app.serverConnects();
    await userEvent.click(screen.getByRole("button", { name: "Logout" }));
    expect(await screen.findByRole("textbox", { name: "Nickname" })).toBeInTheDocument();
    const del = recordedRequests().find((r) => r.method === "DELETE");
    expect(del?.headers.get("Authorization")).toBe("Bearer stored-token");
    expect(app.last().fake.disconnect).toHaveBeenCalled();
    expect(localStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it("resumes every connect from the last seq seen in the room", async () => {
    const app = await storedSessionApp();
    expect(app.last().resume()).toBeNull(); // nothing seen yet: the first connect does not resume
    await app.serverConnects();
    expect(app.last().resume()).toEqual({ room_id: defaultRoom.id, after_seq: 0 });
    const hello = textMessage(anna, "hello");
    act(() => app.last().fake.serverEmit("chat_message", hello));
    expect(app.last().resume()).toEqual({ room_id: defaultRoom.id, after_seq: hello.seq });
  });

  it("a session gone after a long absence says why, offers the nickname, and keeps what was written", async () => {
    const app = await storedSessionApp();
    await app.serverConnects();
    act(() => app.last().fake.serverEmit("chat_message", notice("joined", peter)));
    const now = vi.spyOn(Date, "now").mockReturnValue(1_000_000);
    act(() => app.last().fake.serverDisconnect("transport close"));
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "sent while away{Enter}");
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "still typing");
    now.mockReturnValue(1_075_400);
    act(() => app.last().fake.connectError("invalid_token"));
    now.mockRestore();

    expect(await screen.findByRole("textbox", { name: "Nickname" })).toHaveValue("Peter");
    expect(screen.getByRole("status")).toHaveTextContent(
      "You were away for 75 s, longer than the server keeps a session, so yours has ended.",
    );
    expect(sessionStorage.getItem(VIEW_KEY)).toBeNull();
    expect(sessionStorage.getItem(OUTBOX_KEY)).toContain("sent while away");
    expect(sessionStorage.getItem(DRAFT_KEY)).toContain("still typing");

    // Joining again: the draft is back, the message written away waits for the user's word.
    onRequest("POST /api/users", () => json(201, { user: { ...peter, id: "u-peter-2" }, token: "new-token" }));
    await userEvent.click(screen.getByRole("button", { name: "Enter" }));
    await chatScreen();
    await app.serverConnects();
    expect(screen.getByRole("textbox", { name: "Message" })).toHaveValue("still typing");
    const log = screen.getByRole("log");
    expect(log).toHaveTextContent("sent while away");
    expect(log).toHaveTextContent("Not sent: your session ended before it was sent");
    expect(app.last().fake.calls("send_message")).toHaveLength(0);
  });

  it("Logout forgets the conversation kept in the tab", async () => {
    onRequest("DELETE /api/users/me", () => noContent());
    const app = await storedSessionApp();
    await app.serverConnects();
    act(() => app.last().fake.serverEmit("chat_message", textMessage(anna, "private")));
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "draft");
    await userEvent.click(screen.getByRole("button", { name: "Logout" }));
    expect(await screen.findByRole("textbox", { name: "Nickname" })).toHaveValue("");
    expect([VIEW_KEY, OUTBOX_KEY, DRAFT_KEY].map((k) => sessionStorage.getItem(k))).toEqual([null, null, null]);
  });

  it("follows a login and a logout in another tab", async () => {
    renderApp();
    expect(nickname()).toBeInTheDocument();
    storeSession("other-tab-token");
    act(() => {
      window.dispatchEvent(new StorageEvent("storage", { key: TOKEN_KEY, newValue: "other-tab-token" }));
    });
    await chatScreen();
    localStorage.clear();
    act(() => {
      window.dispatchEvent(new StorageEvent("storage", { key: TOKEN_KEY, newValue: null }));
    });
    expect(await screen.findByRole("textbox", { name: "Nickname" })).toBeInTheDocument();
  });
});
