import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { defaultRoom, delta, peter, user } from "../../../testing/fixtures";
import { renderChat } from "../../../testing/render-chat";
import type { User } from "../../../types/events";
import { OVERSCAN, ROW_HEIGHT, UserList } from "./UserList";

/** n users in the current room, named so that their order is their number. */
function manyUsers(n: number): User[] {
  return Array.from({ length: n }, (_, i) => user(`User ${String(i).padStart(5, "0")}`));
}

const HEIGHT = 420; // 10 rows of ROW_HEIGHT
const items = () => within(screen.getByRole("list", { name: "Active users" })).getAllByRole("listitem");
const shownNames = () => items().map((li) => li.querySelector(".user__name")?.textContent);

/** Scrolls the list's scroll container to top (px), as a user would. */
function scrollTo(top: number) {
  const scroller = screen.getByRole("list", { name: "Active users" }).parentElement as HTMLElement;
  act(() => {
    scroller.scrollTop = top;
    fireEvent.scroll(scroller);
  });
}

describe("UserList (virtualised)", () => {
  it("renders only the rows in view of 5,000 users, and later ones on scrolling", () => {
    const users = manyUsers(5_000);
    render(<UserList users={users} currentRoomId={defaultRoom.id} fallbackHeight={HEIGHT} />);
    const visible = HEIGHT / ROW_HEIGHT;
    expect(items().length).toBeGreaterThanOrEqual(visible);
    expect(items().length).toBeLessThanOrEqual(visible + 2 * OVERSCAN + 1);
    expect(shownNames()[0]).toBe("User 00000");
    expect(screen.queryByText("User 04999")).not.toBeInTheDocument();
    // The list is as tall as all rows, so the scrollbar is true to size.
    expect(screen.getByRole("list", { name: "Active users" }).style.height).toBe(`${5_000 * ROW_HEIGHT + 16}px`);
    // Each row says where it is in the whole list.
    expect(items()[0]).toHaveAttribute("aria-setsize", "5000");
    expect(items()[0]).toHaveAttribute("aria-posinset", "1");

    scrollTo(2_500 * ROW_HEIGHT);
    expect(items().length).toBeLessThanOrEqual(visible + 2 * OVERSCAN + 1);
    expect(screen.getByText("User 02500")).toBeInTheDocument();
    expect(screen.queryByText("User 00000")).not.toBeInTheDocument();
    const middle = items().find((li) => li.textContent?.includes("User 02500"));
    expect(middle).toHaveAttribute("aria-posinset", "2501");

    scrollTo(5_000 * ROW_HEIGHT - HEIGHT);
    expect(screen.getByText("User 04999")).toBeInTheDocument();
    expect(screen.queryByText("User 02500")).not.toBeInTheDocument();
  });

  it("keeps every row's status for the rows it shows", () => {
    const away = user("Zed", { current_room: { id: "r1", name: "Lobby" } });
    render(<UserList users={[peter, away]} currentRoomId={defaultRoom.id} fallbackHeight={HEIGHT} />);
    const [mine, other] = items();
    expect(within(mine!).getByTitle("In your room")).toBeInTheDocument();
    expect(within(other!).getByTitle("In room: Lobby")).toHaveTextContent("In room: Lobby");
    expect(within(other!).getByText("Lobby")).toHaveClass("user__where");
  });
});

describe("thousands of users in the chat screen", () => {
  it("shows a few rows of 5,000 and follows the deltas", () => {
    const chat = renderChat();
    const users = [peter, ...manyUsers(5_000)];
    chat.connect({ users, usersVersion: 10 });
    const count = items().length;
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(100);
    expect(screen.getByText("5001 online")).toBeInTheDocument();
    // You first, then by name.
    expect(shownNames().slice(0, 3)).toEqual(["Peter", "User 00000", "User 00001"]);

    chat.emit("user_list_delta", delta(11, [user("Aaron")], [users[1]!.id]));
    expect(shownNames().slice(0, 3)).toEqual(["Peter", "Aaron", "User 00001"]);
    expect(screen.getByText("5001 online")).toBeInTheDocument();
    expect(items().length).toBe(count);
  });
});
