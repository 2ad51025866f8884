import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../../lib/api";
import { defaultRoom, delta, lobby } from "../../../testing/fixtures";
import { renderChat } from "../../../testing/render-chat";
import { json, onRequest, recordedRequests } from "../../../testing/strict-fetch";
import type { Room } from "../../../types/events";
import { RoomList } from "./RoomList";

const nav = () => screen.getByRole("navigation", { name: "Rooms" });

function renderList(props: Partial<Parameters<typeof RoomList>[0]> = {}) {
  const onSelect = vi.fn();
  const createRoom = vi.fn(async (): Promise<Room> => lobby);
  render(
    <RoomList rooms={[defaultRoom, lobby]} currentRoomId={defaultRoom.id} onSelect={onSelect} createRoom={createRoom} {...props} />,
  );
  return { onSelect, createRoom };
}

describe("RoomList", () => {
  it("shows each room as a button named by the room, with avatar, description and members", () => {
    renderList();
    const current = within(nav()).getByRole("button", { name: /^Default Room/ });
    expect(current).toHaveAttribute("aria-current", "true");
    expect(within(current).getByText("You join here by default")).toBeInTheDocument();
    expect(within(current).getByText("2 members")).toBeInTheDocument();
    expect(current.querySelector("img")).toHaveAttribute("alt", "");
    expect(current.querySelector("img")).toHaveAttribute("src", defaultRoom.avatar_url);
    const other = within(nav()).getByRole("button", { name: /^Lobby/ });
    expect(other).not.toHaveAttribute("aria-current");
    expect(within(other).getByText("1 member")).toBeInTheDocument();
  });

  it("selects a room by click, Enter or Space", async () => {
    const { onSelect } = renderList();
    const lobbyButton = within(nav()).getByRole("button", { name: /^Lobby/ });
    await userEvent.click(lobbyButton);
    lobbyButton.focus();
    await userEvent.keyboard("{Enter}");
    await userEvent.keyboard(" ");
    expect(onSelect.mock.calls).toEqual([[lobby.id], [lobby.id], [lobby.id]]);
  });

  it("adds a room through the dialog, which closes on success", async () => {
    const { createRoom } = renderList();
    const add = screen.getByRole("button", { name: "Add new room" });
    await userEvent.click(add);
    const dialog = screen.getByRole("dialog", { name: "Add new room" });
    expect(within(dialog).getByRole("textbox", { name: "Room name" })).toHaveFocus();
    await userEvent.type(within(dialog).getByRole("textbox", { name: "Room name" }), "Gophers");
    await userEvent.type(within(dialog).getByRole("textbox", { name: "Description" }), "All things Go");
    await userEvent.click(within(dialog).getByRole("button", { name: "Create" }));
    expect(createRoom).toHaveBeenCalledWith("Gophers", "All things Go");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(add).toHaveFocus();
  });

  it("shows the server's error inside the dialog", async () => {
    renderList({
      createRoom: vi.fn(async () => {
        throw new ApiError(409, { error: "room_name_taken", message: 'a room called "Lobby" exists' });
      }),
    });
    await userEvent.click(screen.getByRole("button", { name: "Add new room" }));
    const dialog = screen.getByRole("dialog", { name: "Add new room" });
    await userEvent.type(within(dialog).getByRole("textbox", { name: "Room name" }), "Lobby{Enter}");
    expect(await within(dialog).findByRole("alert")).toHaveTextContent('a room called "Lobby" exists');
    expect(screen.getByRole("dialog")).toBeInTheDocument();
  });

  it("closes the dialog with Cancel or Escape", async () => {
    const { createRoom } = renderList();
    await userEvent.click(screen.getByRole("button", { name: "Add new room" }));
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Add new room" }));
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(createRoom).not.toHaveBeenCalled();
  });

  it("keeps focus inside the dialog", async () => {
    renderList();
    await userEvent.click(screen.getByRole("button", { name: "Add new room" }));
    await userEvent.tab(); // Description
    await userEvent.tab(); // Cancel
    await userEvent.tab(); // Create
    expect(screen.getByRole("button", { name: "Create" })).toHaveFocus();
    await userEvent.tab();
    expect(screen.getByRole("textbox", { name: "Room name" })).toHaveFocus();
  });
});

describe("rooms in the chat screen", () => {
  it("lists rooms live and switches rooms through the server", async () => {
    const chat = renderChat();
    chat.connect({ rooms: [defaultRoom] });
    expect(within(nav()).getAllByRole("button", { name: /members?$/ })).toHaveLength(1);
    chat.emit("room_list_delta", delta(2, [lobby]));
    await chat.user.click(within(nav()).getByRole("button", { name: /^Lobby/ }));
    expect(chat.fake.calls("switch_room")[0]?.payload).toEqual({ room_id: lobby.id });
    // Nothing changes until the server says so.
    expect(within(nav()).getByRole("button", { name: /^Default Room/ })).toHaveAttribute("aria-current", "true");
    chat.emit("current_room_changed", lobby);
    expect(within(nav()).getByRole("button", { name: /^Lobby/ })).toHaveAttribute("aria-current", "true");
    chat.emit("room_list_delta", delta(3, [], [lobby.id]));
    expect(within(nav()).queryByRole("button", { name: /^Lobby/ })).not.toBeInTheDocument();
  });

  it("shows a refused switch", async () => {
    const chat = renderChat();
    chat.connect();
    await chat.user.click(within(nav()).getByRole("button", { name: /^Lobby/ }));
    await act(async () => {
      chat.fake.calls("switch_room")[0]?.ack({ error: "room_not_found", message: "no such room" });
    });
    expect(within(nav()).getByRole("alert")).toHaveTextContent("no such room");
  });

  it("creates a room with the token; the server then moves us", async () => {
    const gophers: Room = { ...lobby, id: "r2", name: "Gophers", description: "All things Go" };
    onRequest("POST /api/rooms", () => json(201, gophers));
    const chat = renderChat();
    chat.connect();
    await chat.user.click(screen.getByRole("button", { name: "Add new room" }));
    await chat.user.type(screen.getByRole("textbox", { name: "Room name" }), "Gophers");
    await chat.user.click(screen.getByRole("button", { name: "Create" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    const [request] = recordedRequests();
    expect(request?.headers.get("Authorization")).toBe("Bearer tok");
    expect(request?.body).toEqual({ name: "Gophers", description: "" });
    chat.emit("room_list_delta", delta(2, [gophers]));
    chat.emit("current_room_changed", gophers);
    expect(screen.getByRole("heading", { level: 2 })).toHaveTextContent("Gophers");
  });
});
