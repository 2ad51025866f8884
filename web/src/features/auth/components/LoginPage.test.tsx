import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../../lib/api";
import { LoginPage } from "./LoginPage";

describe("LoginPage", () => {
  it("has the heading, a labelled nickname field and an Enter button", () => {
    render(<LoginPage onLogin={vi.fn()} />);
    expect(screen.getByRole("heading", { level: 1, name: "ChatRooms" })).toBeInTheDocument();
    expect(screen.getByRole("textbox", { name: "Nickname" })).toHaveFocus();
    expect(screen.getByRole("button", { name: "Enter" })).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("submits with the Enter key", async () => {
    const onLogin = vi.fn(async () => {});
    render(<LoginPage onLogin={onLogin} />);
    await userEvent.type(screen.getByRole("textbox", { name: "Nickname" }), "Peter{Enter}");
    expect(onLogin).toHaveBeenCalledWith("Peter");
  });

  it("says a taken nickname in words", async () => {
    const onLogin = vi.fn(async () => {
      throw new ApiError(409, { error: "username_taken", message: 'the nickname "Anna" is taken' });
    });
    render(<LoginPage onLogin={onLogin} />);
    await userEvent.type(screen.getByRole("textbox", { name: "Nickname" }), "Anna");
    await userEvent.click(screen.getByRole("button", { name: "Enter" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(/^That nickname is taken$/);
    expect(screen.getByRole("textbox", { name: "Nickname" })).toHaveAttribute("aria-invalid", "true");
  });

  it("shows the server's message for an invalid nickname", async () => {
    const onLogin = vi.fn(async () => {
      throw new ApiError(400, { error: "invalid_username", message: "a nickname has 3 to 24 characters" });
    });
    render(<LoginPage onLogin={onLogin} />);
    await userEvent.type(screen.getByRole("textbox", { name: "Nickname" }), "ab{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent(/^a nickname has 3 to 24 characters$/);
  });

  it("shows why the user is back here", () => {
    render(<LoginPage onLogin={vi.fn()} notice="You have been logged out." />);
    expect(screen.getByRole("status")).toHaveTextContent("You have been logged out.");
  });
});
