import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { anna, boris, defaultRoom, delta, lobby, peter, user } from "../../../testing/fixtures";
import { renderChat } from "../../../testing/render-chat";
import { InfoPanel } from "./InfoPanel";

describe("InfoPanel", () => {
  it("says who you are, lists who is present with their status, and logs out", async () => {
    const onLogout = vi.fn();
    const carl = user("Carl", { online: false });
    const dora = user("Dora", { current_room: null });
    render(
      <InfoPanel
        me={peter}
        users={[carl, anna, dora, { ...boris, current_room: { id: lobby.id, name: lobby.name } }, peter]}
        currentRoomId={defaultRoom.id}
        connection="connected"
        onLogout={onLogout}
      />,
    );
    const aside = screen.getByRole("complementary", { name: "Info" });
    expect(aside).toHaveTextContent("You are logged in as Peter");
    expect(within(aside).getByRole("status")).toHaveTextContent("Connected");

    const items = within(screen.getByRole("list", { name: "Active users" })).getAllByRole("listitem");
    // You first, then your room, other rooms, offline.
    expect(items.map((li) => li.querySelector(".user__name")?.textContent)).toEqual(["Peter", "Anna", "Boris", "Dora", "Carl"]);
    const status = (li: HTMLElement | undefined) => li?.querySelector("[title]");
    expect(status(items[1])).toHaveAttribute("title", "In your room");
    expect(within(items[1]!).getByText("In your room")).toBeInTheDocument();
    expect(status(items[2])).toHaveAttribute("title", "In room: Lobby");
    expect(within(items[2]!).getByText("In room: Lobby")).toBeInTheDocument();
    expect(status(items[4])).toHaveAttribute("title", "Offline");

    await userEvent.click(within(aside).getByRole("button", { name: "Logout" }));
    expect(onLogout).toHaveBeenCalledOnce();
  });

  it.each([
    ["connecting", "Connecting…"],
    ["reconnecting", "Reconnecting…"],
    ["disconnected", "Disconnected"],
  ] as const)("shows the connection state %s", (state, text) => {
    render(<InfoPanel me={peter} users={[]} currentRoomId={null} connection={state} onLogout={vi.fn()} />);
    expect(screen.getByRole("status")).toHaveTextContent(text);
  });
});

describe("users in the chat screen", () => {
  it("updates the list and the connection state live", () => {
    const chat = renderChat();
    chat.connect({ users: [peter] });
    const list = () => screen.getByRole("list", { name: "Active users" });
    expect(within(list()).getAllByRole("listitem")).toHaveLength(1);
    chat.emit("user_list_delta", delta(2, [anna]));
    expect(within(list()).getAllByRole("listitem")).toHaveLength(2);
    // The Info sidebar's status (the conversation's banner is another).
    const status = () => within(screen.getByRole("complementary", { name: "Info" })).getByRole("status");
    expect(status()).toHaveTextContent("Connected");
    act(() => chat.fake.serverDisconnect("transport close"));
    expect(status()).toHaveTextContent("Reconnecting…");
  });

  it("logs out through the session", async () => {
    const chat = renderChat();
    chat.connect();
    await chat.user.click(screen.getByRole("button", { name: "Logout" }));
    expect(chat.onLogout).toHaveBeenCalledOnce();
    // The server's disconnect that follows our own logout is no surprise.
    act(() => chat.fake.serverDisconnect("io server disconnect"));
    expect(chat.onSessionEnd).not.toHaveBeenCalled();
  });

  it("ends the session when the server disconnects us for a logout elsewhere", () => {
    const chat = renderChat();
    chat.connect();
    act(() => chat.fake.serverDisconnect("io server disconnect"));
    expect(chat.onSessionEnd).toHaveBeenCalledWith("logged_out");
  });
});
