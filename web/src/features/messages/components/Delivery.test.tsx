// Delivery as the user sees it, through the chat screen on a fake socket:
// the outbox while offline, reconciliation, the view kept across a reload,
// resume dividers, the connection banner, the composer's limit.
import { act, fireEvent, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { anna, defaultRoom, lobby, notice, peter, sent, textMessage } from "../../../testing/fixtures";
import { renderChat, type ChatHarness } from "../../../testing/render-chat";
import type { TextMessage } from "../../../types/events";
import { VIEW_KEY } from "../api/storage";
import { GAP_TEXT } from "../hooks/useMessages";

const log = () => screen.getByRole("log");
const box = () => screen.getByRole("textbox", { name: "Message" });
const banner = () => within(screen.getByRole("main", { name: "Conversation" })).getByRole("status");
const own = (text: string) =>
  within(log())
    .getAllByRole("article", { name: /^Peter at/ })
    .filter((a) => a.textContent?.includes(text));
const sends = (chat: ChatHarness) => chat.fake.calls("send_message");
const clientIdOf = (chat: ChatHarness, i: number) => (sends(chat)[i]?.payload as { client_id: string }).client_id;
const drop = (chat: ChatHarness) => act(() => chat.fake.serverDisconnect("transport close"));
/** The server's answer to send i, and its broadcast back to us. */
async function confirm(chat: ChatHarness, i: number, overrides: Partial<TextMessage> = {}) {
  const payload = sends(chat)[i]?.payload as { content: string; client_id: string };
  const message = textMessage(peter, payload.content, { client_id: payload.client_id, ...overrides });
  await act(async () => sends(chat)[i]?.ack({ ok: true, message }));
  chat.emit("chat_message", message);
  return message;
}

describe("delivery", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a message written offline waits, shown at once, and goes with its client_id on reconnect", async () => {
    const chat = renderChat();
    chat.connect();
    drop(chat);
    expect(banner()).toHaveTextContent("Offline — reconnecting…");
    await chat.user.type(box(), "while away{Enter}");
    expect(box()).toHaveValue("");
    expect(own("while away")[0]).toHaveTextContent("Waiting for connection");
    expect(sends(chat)).toHaveLength(0);

    chat.connect();
    expect(banner()).toHaveTextContent("Back online");
    expect(sends(chat).map((c) => c.payload)).toEqual([sent({ content: "while away" })]);
    expect(own("while away")[0]).toHaveTextContent("Sending…");
    await confirm(chat, 0);
    expect(own("while away")).toHaveLength(1);
    expect(own("while away")[0]).not.toHaveTextContent(/Sending|Waiting/);
  });

  it("sends what waited one at a time, in the order written", async () => {
    const chat = renderChat();
    chat.connect();
    drop(chat);
    for (const text of ["one", "two", "three"]) await chat.user.type(box(), `${text}{Enter}`);
    chat.connect();
    expect(sends(chat).map((c) => c.payload)).toEqual([sent({ content: "one" })]);
    await confirm(chat, 0);
    expect(sends(chat).map((c) => c.payload)).toEqual([sent({ content: "one" }), sent({ content: "two" })]);
    await confirm(chat, 1);
    await confirm(chat, 2);
    const articles = within(log()).getAllByRole("article");
    expect(articles.map((a) => a.textContent?.match(/one|two|three/)?.[0])).toEqual(["one", "two", "three"]);
    expect(new Set([0, 1, 2].map((i) => clientIdOf(chat, i))).size).toBe(3);
  });

  it("a message on its way when the connection drops goes again with the same client_id, and shows once", async () => {
    const chat = renderChat();
    chat.connect();
    await chat.user.type(box(), "in flight{Enter}");
    const first = sends(chat)[0];
    drop(chat);
    await act(async () => first?.timeout()); // socket.io fails the pending ack on disconnect
    expect(own("in flight")[0]).toHaveTextContent("Waiting for connection");
    expect(within(log()).queryByText(/Not sent/)).not.toBeInTheDocument();

    chat.connect();
    expect(sends(chat)).toHaveLength(2);
    expect(clientIdOf(chat, 1)).toBe(clientIdOf(chat, 0));
    // The first attempt had arrived: the server answers the repeat with the original.
    const payload = sends(chat)[1]?.payload as { client_id: string };
    const original = textMessage(peter, "in flight", { client_id: payload.client_id });
    chat.emit("chat_message", original); // replayed by the resume
    await act(async () => sends(chat)[1]?.ack({ ok: true, message: original, duplicate: true }));
    expect(own("in flight")).toHaveLength(1);
    expect(own("in flight")[0]).not.toHaveTextContent(/Sending|Waiting/);
  });

  it("a message that got no answer while connected stays as not sent, with Retry", async () => {
    const chat = renderChat();
    chat.connect();
    await chat.user.type(box(), "lost{Enter}");
    await act(async () => sends(chat)[0]?.timeout());
    const [article] = own("lost");
    expect(article).toHaveTextContent("Not sent: No answer from the server");
    await chat.user.click(within(article as HTMLElement).getByRole("button", { name: "Retry" }));
    expect(clientIdOf(chat, 1)).toBe(clientIdOf(chat, 0));
  });

  it("a reload shows the conversation since the join and the unsent messages, then sends them", async () => {
    const first = renderChat();
    first.connect();
    first.emit("chat_message", notice("joined", peter));
    first.emit("chat_message", textMessage(anna, "before the reload"));
    drop(first);
    await first.user.type(box(), "unsent{Enter}");
    await first.user.type(box(), "half written");
    first.unmount();

    const chat = renderChat();
    // Before the server says anything, the stored view is on screen.
    expect(screen.getByRole("heading", { level: 2 })).toHaveTextContent("Default Room");
    expect(within(log()).getByText(/Peter has joined the room/)).toBeInTheDocument();
    expect(within(log()).getByText("before the reload")).toBeInTheDocument();
    expect(own("unsent")[0]).toHaveTextContent("Sending…");
    expect(box()).toHaveValue("half written");
    chat.connect();
    expect(sends(chat).map((c) => c.payload)).toEqual([sent({ content: "unsent" })]);
    // The resume replays what came after the last seq; what is here already is not shown twice.
    chat.emit("recovery", { room_id: defaultRoom.id, recovered: true });
    chat.emit("chat_message", textMessage(anna, "while reloading"));
    expect(within(log()).getAllByText("before the reload")).toHaveLength(1);
    expect(within(log()).getByText("while reloading")).toBeInTheDocument();
    expect(within(log()).queryByText(GAP_TEXT)).not.toBeInTheDocument();
  });

  it("says so when the server cannot replay what was missed", () => {
    const chat = renderChat();
    chat.connect();
    chat.emit("chat_message", textMessage(anna, "seen"));
    drop(chat);
    chat.connect();
    chat.emit("recovery", { room_id: defaultRoom.id, recovered: false, reason: "window_passed" });
    chat.emit("chat_message", textMessage(anna, "after"));
    const texts = within(log())
      .getAllByText(/seen|after|You may have missed/)
      .map((e) => e.textContent);
    expect(texts).toEqual(["seen", GAP_TEXT, "after"]);
  });

  it("switching rooms clears the view and the stored view", () => {
    const chat = renderChat();
    chat.connect();
    chat.emit("chat_message", textMessage(anna, "old room"));
    expect(sessionStorage.getItem(VIEW_KEY)).toContain("old room");
    chat.emit("chat_message", notice("joined", peter, { room_id: lobby.id }));
    chat.emit("current_room_changed", lobby);
    expect(within(log()).queryByText("old room")).not.toBeInTheDocument();
    const stored = sessionStorage.getItem(VIEW_KEY) ?? "";
    expect(stored).not.toContain("old room");
    expect(JSON.parse(stored)).toMatchObject({ room: { id: lobby.id } });
  });

  it("shows Back online for a moment after a reconnect, and nothing on the first connect", () => {
    vi.useFakeTimers();
    const chat = renderChat({ fakeTimers: true });
    chat.connect();
    expect(banner()).toBeEmptyDOMElement();
    drop(chat);
    expect(banner()).toHaveTextContent("Offline — reconnecting…");
    chat.connect();
    expect(banner()).toHaveTextContent("Back online");
    act(() => vi.advanceTimersByTime(3_000));
    expect(banner()).toBeEmptyDOMElement();
  });

  it("counts characters near the limit and keeps a message over it in the composer, unsent", async () => {
    const chat = renderChat();
    chat.connect();
    const send = screen.getByRole("button", { name: "Send" });
    fireEvent.change(box(), { target: { value: "a".repeat(1799) } });
    expect(screen.queryByText(/characters? (left|over)/)).not.toBeInTheDocument();
    fireEvent.change(box(), { target: { value: "a".repeat(1999) } });
    expect(screen.getByText("1 character left")).toBeInTheDocument();
    fireEvent.change(box(), { target: { value: "😀".repeat(2001) } }); // characters, not UTF-16 units
    expect(screen.getByText("1 character over the limit")).toBeInTheDocument();
    expect(send).toBeDisabled();
    await chat.user.type(box(), "{Enter}");
    expect(sends(chat)).toHaveLength(0);
    expect(box()).toHaveValue("😀".repeat(2001));
    expect(within(log()).queryByRole("article")).not.toBeInTheDocument();
  });
});
