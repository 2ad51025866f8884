import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderChat } from "../testing/render-chat";

describe("ChatScreen", () => {
  it("has the three landmarks of docs/web-ui.md", () => {
    const chat = renderChat();
    chat.connect();
    expect(screen.getByRole("navigation", { name: "Rooms" })).toBeInTheDocument();
    expect(screen.getByRole("main", { name: "Conversation" })).toBeInTheDocument();
    expect(screen.getByRole("complementary", { name: "Info" })).toBeInTheDocument();
  });

  it("subscribes before it connects, so the initial state is not missed", () => {
    const chat = renderChat();
    expect(chat.fake.connect).toHaveBeenCalledOnce();
    for (const event of ["lists", "user_list_delta", "room_list_delta", "current_room_changed", "chat_message", "typing"]) {
      expect(chat.fake.listenerCount(event)).toBeGreaterThan(0);
    }
  });

  it("toggles the sidebars with Show rooms / Show users; Escape closes", async () => {
    const chat = renderChat();
    chat.connect();
    const app = document.querySelector(".app");
    const rooms = screen.getByRole("button", { name: "Show rooms" });
    const users = screen.getByRole("button", { name: "Show users" });
    expect(rooms).toHaveAttribute("aria-expanded", "false");
    await chat.user.click(rooms);
    expect(rooms).toHaveAttribute("aria-expanded", "true");
    expect(app).toHaveClass("app--rooms-open");
    expect(screen.getByRole("button", { name: /^Default Room/ })).toHaveFocus();
    await chat.user.keyboard("{Escape}");
    expect(rooms).toHaveAttribute("aria-expanded", "false");
    expect(rooms).toHaveFocus();
    await chat.user.click(users);
    expect(app).toHaveClass("app--users-open");
    expect(screen.getByRole("button", { name: "Logout" })).toHaveFocus();
    await chat.user.click(users);
    expect(app).not.toHaveClass("app--users-open");
  });

  it("closes the rooms drawer when a room is chosen", async () => {
    const chat = renderChat();
    chat.connect();
    await chat.user.click(screen.getByRole("button", { name: "Show rooms" }));
    await chat.user.click(screen.getByRole("button", { name: /^Lobby/ }));
    expect(document.querySelector(".app")).not.toHaveClass("app--rooms-open");
    expect(chat.fake.calls("switch_room")).toHaveLength(1);
  });

  it("disconnects when it goes away", () => {
    const chat = renderChat();
    chat.connect();
    chat.unmount();
    expect(chat.fake.disconnect).toHaveBeenCalled();
  });
});
