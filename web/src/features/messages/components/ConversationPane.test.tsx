import { act, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { anna, at, boris, defaultRoom, lobby, notice, peter, sent, textMessage } from "../../../testing/fixtures";
import { renderChat } from "../../../testing/render-chat";

const log = () => screen.getByRole("log");
const conversation = () => screen.getByRole("main", { name: "Conversation" });

describe("the conversation", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("shows the room's header and where the conversation starts", () => {
    const chat = renderChat();
    chat.connect();
    expect(within(conversation()).getByRole("heading", { level: 2 })).toHaveTextContent(/^Default Room$/);
    expect(within(conversation()).getByText("You join here by default")).toBeInTheDocument();
    expect(within(log()).getByText("Your conversation starts here")).toBeInTheDocument();
  });

  it("shows each text message as an article named by sender and time, and notices as text", () => {
    const chat = renderChat();
    chat.connect();
    chat.emit("chat_message", notice("joined", anna, { timestamp: at(9, 7) }));
    chat.emit("chat_message", textMessage(anna, "Hello Peter", { timestamp: at(9, 8) }));
    chat.emit("chat_message", textMessage(anna, "Are you there?", { timestamp: at(9, 9) }));
    chat.emit("chat_message", notice("left", boris, { timestamp: at(14, 30) }));

    expect(within(log()).getByText("Anna has joined the room at 09:07")).toBeInTheDocument();
    expect(within(log()).getByText("Boris has left the room at 14:30")).toBeInTheDocument();
    const first = within(log()).getByRole("article", { name: "Anna at 09:08" });
    expect(first).toHaveTextContent("Hello Peter");
    expect(first).not.toHaveAttribute("data-own");
    expect(within(log()).getByRole("article", { name: "Anna at 09:09" })).toHaveTextContent("Are you there?");
    // One group: the name and avatar once for both messages.
    expect(within(log()).getAllByText("Anna", { exact: true })).toHaveLength(1);
  });

  it("renders markup in a message as text", () => {
    const chat = renderChat();
    chat.connect();
    chat.emit("chat_message", textMessage(anna, "<img src=x onerror=alert(1)><b>bold</b>"));
    const article = within(log()).getByRole("article");
    expect(article).toHaveTextContent("<img src=x onerror=alert(1)><b>bold</b>");
    expect(article.querySelector("img[src='x'], b")).toBeNull();
  });

  it("ignores messages of another room", () => {
    const chat = renderChat();
    chat.connect();
    chat.emit("chat_message", textMessage(anna, "elsewhere", { room_id: lobby.id }));
    expect(within(log()).queryByRole("article")).not.toBeInTheDocument();
  });

  it("starts empty in a new room, keeping our own join notice that came just before", () => {
    const chat = renderChat();
    chat.connect();
    chat.emit("chat_message", textMessage(anna, "old room"));
    chat.emit("chat_message", notice("joined", peter, { room_id: lobby.id, timestamp: at(10, 0) }));
    chat.emit("current_room_changed", lobby);
    expect(within(conversation()).getByRole("heading", { level: 2 })).toHaveTextContent("Lobby");
    expect(within(log()).queryByText("old room")).not.toBeInTheDocument();
    expect(within(log()).getByText("Peter has joined the room at 10:00")).toBeInTheDocument();
  });

  it("keeps the messages when a reconnect names the same room", () => {
    const chat = renderChat();
    chat.connect();
    chat.emit("chat_message", textMessage(anna, "still here"));
    act(() => chat.fake.serverDisconnect("transport close"));
    chat.connect();
    expect(within(log()).getByText("still here")).toBeInTheDocument();
  });

  it("sends with Enter, makes a new line with Shift+Enter, and shows our message at once", async () => {
    const chat = renderChat();
    chat.connect();
    const box = screen.getByRole("textbox", { name: "Message" });
    await chat.user.type(box, "first line{Shift>}{Enter}{/Shift}second line");
    expect(chat.fake.calls("send_message")).toHaveLength(0);
    await chat.user.keyboard("{Enter}");
    expect(chat.fake.calls("send_message")[0]?.payload).toEqual(sent({ content: "first line\nsecond line" }));
    expect(box).toHaveValue("");
    const own = within(log()).getByRole("article", { name: /^Peter at \d{2}:\d{2}$/ });
    expect(own).toHaveAttribute("data-own", "true");
    expect(own).toHaveTextContent("first line second line");
    expect(own).toHaveTextContent("Sending…");
  });

  it("the Send button sends; nothing is sent for blank text", async () => {
    const chat = renderChat();
    chat.connect();
    const send = screen.getByRole("button", { name: "Send" });
    expect(send).toBeDisabled();
    await chat.user.type(screen.getByRole("textbox", { name: "Message" }), "   ");
    expect(send).toBeDisabled();
    await chat.user.type(screen.getByRole("textbox", { name: "Message" }), "hi");
    await chat.user.click(send);
    expect(chat.fake.calls("send_message")[0]?.payload).toEqual(sent({ content: "hi" }));
  });

  it.each(["broadcast first", "ack first"])("shows our message once when it is confirmed (%s)", async (order) => {
    const chat = renderChat();
    chat.connect();
    await chat.user.type(screen.getByRole("textbox", { name: "Message" }), "hello all{Enter}");
    const [call] = chat.fake.calls("send_message");
    const clientId = (call?.payload as { client_id: string }).client_id;
    const message = textMessage(peter, "hello all", { timestamp: at(11, 11), client_id: clientId });
    const ack = () =>
      act(async () => {
        call?.ack({ ok: true, message });
      });
    if (order === "ack first") await ack();
    chat.emit("chat_message", message);
    if (order === "broadcast first") await ack();
    const articles = within(log()).getAllByRole("article");
    expect(articles).toHaveLength(1);
    expect(articles[0]).toHaveAccessibleName("Peter at 11:11");
    expect(articles[0]).toHaveAttribute("data-own", "true");
    expect(articles[0]).not.toHaveTextContent("Sending…");
  });

  it("keeps a refused message in the log with the reason, Retry (same client_id) and Edit", async () => {
    const chat = renderChat();
    chat.connect();
    const box = screen.getByRole("textbox", { name: "Message" });
    await chat.user.type(box, "bad{Enter}");
    await act(async () => {
      chat.fake.calls("send_message")[0]?.ack({ error: "invalid_message", message: "must not contain control characters" });
    });
    const article = within(log()).getByRole("article", { name: /^Peter at/ });
    expect(within(article).getByText("Not sent: must not contain control characters")).toBeInTheDocument();

    await chat.user.click(within(article).getByRole("button", { name: "Retry" }));
    const [first, second] = chat.fake.calls("send_message");
    expect(second?.payload).toEqual(first?.payload);
    expect(within(log()).getByText("Sending…")).toBeInTheDocument();
    await act(async () => {
      second?.ack({ error: "invalid_message", message: "must not contain control characters" });
    });

    // Edit puts the text back in the composer, after what is there, and takes the message off.
    await chat.user.type(box, "draft");
    await chat.user.click(within(log()).getByRole("button", { name: "Edit" }));
    expect(box).toHaveValue("draft\nbad");
    expect(within(log()).queryByRole("article")).not.toBeInTheDocument();
  });

  it("sends a rate-limited message again by itself once the server's wait is over", async () => {
    const chat = renderChat();
    chat.connect();
    await chat.user.type(screen.getByRole("textbox", { name: "Message" }), "again{Enter}");
    const asked = Date.now();
    await act(async () => {
      chat.fake.calls("send_message")[0]?.ack({ error: "rate_limited", message: "too fast", retry_after_ms: 60 });
    });
    expect(within(log()).queryByText(/Not sent/)).not.toBeInTheDocument();
    expect(within(log()).getByText("Sending…")).toBeInTheDocument();
    expect(chat.fake.calls("send_message")).toHaveLength(1);
    await waitFor(() => expect(chat.fake.calls("send_message")).toHaveLength(2));
    expect(Date.now() - asked).toBeGreaterThanOrEqual(50); // not before the wait (timers may round)
    const [first, second] = chat.fake.calls("send_message");
    expect(second?.payload).toEqual(first?.payload);
  });

  it("shows who is typing and forgets them after 6 s without news", () => {
    vi.useFakeTimers();
    const chat = renderChat({ fakeTimers: true });
    chat.connect();
    chat.emit("typing", { user: anna, typing: true });
    expect(screen.getByText("Anna is typing…")).toBeInTheDocument();
    chat.emit("typing", { user: boris, typing: true });
    expect(screen.getByText("Anna and Boris are typing…")).toBeInTheDocument();
    chat.emit("typing", { user: boris, typing: false });
    expect(screen.getByText("Anna is typing…")).toBeInTheDocument();
    act(() => vi.advanceTimersByTime(5_000));
    chat.emit("typing", { user: anna, typing: true }); // refreshed
    act(() => vi.advanceTimersByTime(5_000));
    expect(screen.getByText("Anna is typing…")).toBeInTheDocument();
    act(() => vi.advanceTimersByTime(1_000));
    expect(screen.queryByText(/is typing/)).not.toBeInTheDocument();
  });

  it("stops showing someone typing when their message arrives; never shows ourselves", () => {
    const chat = renderChat();
    chat.connect();
    chat.emit("typing", { user: peter, typing: true });
    expect(screen.queryByText(/typing…/)).not.toBeInTheDocument();
    chat.emit("typing", { user: anna, typing: true });
    chat.emit("chat_message", textMessage(anna, "done"));
    expect(screen.queryByText(/typing…/)).not.toBeInTheDocument();
  });

  it("tells the room we type at most every 2 s, and that we stopped when we send", async () => {
    let now = 1_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => now);
    const chat = renderChat();
    chat.connect();
    const box = screen.getByRole("textbox", { name: "Message" });
    const typing = () => chat.fake.calls("typing").map((c) => c.payload);
    await chat.user.type(box, "hel");
    expect(typing()).toEqual([{ typing: true }]);
    now += 1_999;
    await chat.user.type(box, "l");
    expect(typing()).toEqual([{ typing: true }]);
    now += 1;
    await chat.user.type(box, "o");
    expect(typing()).toEqual([{ typing: true }, { typing: true }]);
    await chat.user.keyboard("{Enter}");
    expect(typing()).toEqual([{ typing: true }, { typing: true }, { typing: false }]);
  });

  it("says we stopped typing when the draft is cleared", async () => {
    const chat = renderChat();
    chat.connect();
    const box = screen.getByRole("textbox", { name: "Message" });
    await chat.user.type(box, "x");
    await chat.user.clear(box);
    expect(chat.fake.calls("typing").map((c) => c.payload)).toEqual([{ typing: true }, { typing: false }]);
  });

  /** A scroll container 500 px high over 2000 px of messages, at the bottom. */
  function fakeScroll() {
    const scroller = log().querySelector<HTMLElement>("[data-cs-message-list]");
    if (!scroller) throw new Error("no scroll container");
    const at = { scrollTop: 1500 };
    Object.defineProperty(scroller, "scrollHeight", { configurable: true, get: () => 2000 });
    Object.defineProperty(scroller, "clientHeight", { configurable: true, get: () => 500 });
    Object.defineProperty(scroller, "scrollTop", {
      configurable: true,
      get: () => at.scrollTop,
      set: (v: number) => {
        at.scrollTop = Math.min(v, 1500);
      },
    });
    const scrollUp = () =>
      act(() => {
        at.scrollTop = 200;
        scroller.dispatchEvent(new Event("scroll"));
      });
    return { at, scrollUp };
  }

  it("counts what arrives above a message of ours that waits at the end", async () => {
    const chat = renderChat();
    chat.connect();
    const { at, scrollUp } = fakeScroll();
    await chat.user.type(screen.getByRole("textbox", { name: "Message" }), "mine{Enter}");
    await act(async () => chat.fake.calls("send_message")[0]?.ack({ error: "invalid_message", message: "no" }));
    scrollUp();
    chat.emit("chat_message", textMessage(anna, "new one"));
    expect(at.scrollTop).toBe(200);
    expect(screen.getByRole("button", { name: /^Jump to latest/ })).toHaveTextContent("1");
  });

  it("offers Jump to latest only after the reader scrolled up and something arrived", async () => {
    const chat = renderChat();
    chat.connect();
    const { at, scrollUp } = fakeScroll();
    chat.emit("chat_message", textMessage(anna, "at the bottom"));
    expect(screen.queryByRole("button", { name: /Jump to latest/ })).not.toBeInTheDocument();

    // The reader scrolls up; a message arrives and does not move them.
    scrollUp();
    expect(screen.queryByRole("button", { name: /Jump to latest/ })).not.toBeInTheDocument();
    chat.emit("chat_message", textMessage(anna, "while you read"));
    expect(at.scrollTop).toBe(200);
    const jump = screen.getByRole("button", { name: /^Jump to latest/ });
    await chat.user.click(jump);
    expect(at.scrollTop).toBe(1500);
    expect(screen.queryByRole("button", { name: /Jump to latest/ })).not.toBeInTheDocument();
  });

  it("counts messages in the tab title while the tab is hidden", () => {
    const chat = renderChat();
    chat.connect();
    let hidden = true;
    vi.spyOn(document, "hidden", "get").mockImplementation(() => hidden);
    chat.emit("chat_message", textMessage(anna, "one"));
    chat.emit("chat_message", textMessage(boris, "two"));
    chat.emit("chat_message", textMessage(peter, "mine"));
    expect(document.title).toBe("(2) ChatRooms");
    hidden = false;
    act(() => {
      document.dispatchEvent(new Event("visibilitychange"));
    });
    expect(document.title).toBe("ChatRooms");
  });

  it("passes the room's avatar as a decorative image", () => {
    const chat = renderChat();
    chat.connect({ room: defaultRoom });
    const img = conversation().querySelector(`img[src="${defaultRoom.avatar_url}"]`);
    expect(img).toHaveAttribute("alt", "");
  });
});
