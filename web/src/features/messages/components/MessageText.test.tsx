import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { MessageText, splitLinks } from "./MessageText";

describe("splitLinks", () => {
  it.each([
    ["no link here", [{ kind: "text", text: "no link here" }]],
    [
      "see https://example.com/a?b=1, thanks",
      [
        { kind: "text", text: "see " },
        { kind: "link", text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
        { kind: "text", text: ", thanks" },
      ],
    ],
    [
      "(http://example.com/x_(y))",
      [
        { kind: "text", text: "(" },
        { kind: "link", text: "http://example.com/x_(y)", href: "http://example.com/x_(y)" },
        { kind: "text", text: ")" },
      ],
    ],
    ["javascript:alert(1)", [{ kind: "text", text: "javascript:alert(1)" }]],
    ["https://", [{ kind: "text", text: "https://" }]],
  ])("%s", (input, want) => {
    expect(splitLinks(input)).toEqual(want);
  });
});

describe("MessageText", () => {
  it("renders markup as text and links with noopener noreferrer", () => {
    const { container } = render(<MessageText text={'<img src=x onerror="alert(1)"> go to https://example.com.'} />);
    expect(container.querySelector("img")).toBeNull();
    expect(container).toHaveTextContent('<img src=x onerror="alert(1)"> go to https://example.com.');
    const link = screen.getByRole("link", { name: "https://example.com" });
    expect(link).toHaveAttribute("href", "https://example.com/");
    expect(link).toHaveAttribute("target", "_blank");
    expect(link).toHaveAttribute("rel", "noopener noreferrer");
  });
});
