import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { act } from "@testing-library/react";
import { lastXhr } from "../../../testing/fake-xhr";
import { anna, at, attachmentOf, imageFile, imageMessage, peter, upload } from "../../../testing/fixtures";
import { renderChat } from "../../../testing/render-chat";
import type { Message } from "../../../types/events";
import { thumbnailBox } from "./AttachmentThumbnail";

const log = () => screen.getByRole("log");

function withMessages(...messages: Message[]) {
  const chat = renderChat();
  chat.connect();
  for (const m of messages) chat.emit("chat_message", m);
  return chat;
}

describe("an image in the conversation", () => {
  it("is a button with the thumbnail, its box reserved from the image's size, the text below as text", () => {
    withMessages(
      imageMessage(anna, attachmentOf(upload("a1", 1600, 1200), "my cat"), "look <b>here</b>", { timestamp: at(9, 30) }),
    );
    const article = within(log()).getByRole("article", { name: "Anna at 09:30" });
    const button = within(article).getByRole("button", { name: "Open image: my cat" });
    const img = within(button).getByRole("img", { name: "my cat" });
    expect(img).toHaveAttribute("src", "/api/attachments/a1/thumbnail");
    expect(img).toHaveAttribute("width", "320");
    expect(img).toHaveAttribute("height", "240");
    expect(button.style.width).toBe("320px");
    expect(button.style.aspectRatio).toBe("1600 / 1200");
    // The text follows the image, as text.
    expect(article).toHaveTextContent("look <b>here</b>");
    expect(article.querySelector("b")).toBeNull();
    expect(button.compareDocumentPosition(within(article).getByText("look <b>here</b>"))).toBe(
      Node.DOCUMENT_POSITION_FOLLOWING,
    );
  });

  it("without a description is named by the sender; small images are not enlarged; no empty text", () => {
    withMessages(
      imageMessage(anna, attachmentOf(upload("a2", 600, 900)), undefined, { timestamp: at(9, 31) }),
      imageMessage(anna, attachmentOf(upload("a3", 100, 50)), undefined, { timestamp: at(9, 32) }),
    );
    const [portrait, small] = within(log()).getAllByRole("button", { name: "Open image: image" });
    expect(within(portrait!).getByRole("img", { name: "Image from Anna" })).toHaveAttribute("src", "/api/attachments/a2/thumbnail");
    expect(portrait!.style.width).toBe("213px");
    expect(portrait!.style.aspectRatio).toBe("600 / 900");
    expect(small!.style.width).toBe("100px");
    expect(small!.style.aspectRatio).toBe("100 / 50");
    expect(log().querySelector(".message-text")).toBeNull();
  });

  it("keeps a clickable box for extreme shapes", () => {
    expect(thumbnailBox(4000, 10)).toEqual({ width: 320, height: 32, ratio: "320 / 32" });
    expect(thumbnailBox(3200, 2400)).toEqual({ width: 320, height: 240, ratio: "3200 / 2400" });
  });

  it("opens in a lightbox with the full image; Escape closes it and the focus returns to the thumbnail", async () => {
    const chat = withMessages(imageMessage(anna, attachmentOf(upload("a4", 1600, 1200), "my cat"), "look"));
    const thumb = within(log()).getByRole("button", { name: "Open image: my cat" });
    await chat.user.click(thumb);

    const dialog = screen.getByRole("dialog", { name: "Image" });
    expect(dialog).toHaveAttribute("aria-modal", "true");
    const full = within(dialog).getByRole("img", { name: "my cat" });
    expect(full).toHaveAttribute("src", "/api/attachments/a4");
    expect(full).toHaveAttribute("width", "1600");
    expect(full).toHaveAttribute("height", "1200");
    const close = within(dialog).getByRole("button", { name: "Close" });
    expect(close).toHaveFocus();
    await chat.user.tab();
    expect(close).toHaveFocus();

    await chat.user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(thumb).toHaveFocus();
  });

  it("closes with Close and with a click on the backdrop, not with a click on the image", async () => {
    const chat = withMessages(imageMessage(anna, attachmentOf(upload("a5"))));
    const thumb = within(log()).getByRole("button", { name: "Open image: image" });

    await chat.user.click(thumb);
    await chat.user.click(screen.getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(thumb).toHaveFocus();

    await chat.user.click(thumb);
    const dialog = screen.getByRole("dialog", { name: "Image" });
    await chat.user.click(within(dialog).getByRole("img", { name: "Image from Anna" }));
    expect(screen.getByRole("dialog", { name: "Image" })).toBeInTheDocument();
    const backdrop = dialog.parentElement;
    if (!backdrop) throw new Error("the dialog has no backdrop");
    await chat.user.click(backdrop);
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(thumb).toHaveFocus();
  });

  it("returns the focus to our own image's thumbnail even when its message was confirmed meanwhile", async () => {
    const chat = withMessages();
    await chat.user.upload(screen.getByLabelText<HTMLInputElement>("Attach image", { selector: "input" }), imageFile());
    await act(async () => {
      lastXhr().respond(201, upload("a6", 640, 480));
    });
    await chat.user.click(screen.getByRole("button", { name: "Send" }));
    const sending = within(log()).getByRole("button", { name: "Open image: image" });
    await chat.user.click(sending);
    expect(screen.getByRole("dialog", { name: "Image" })).toBeInTheDocument();

    // The ack replaces the message shown while sending with the server's.
    await act(async () => {
      chat.fake.calls("send_message")[0]?.ack({ ok: true, message: imageMessage(peter, attachmentOf(upload("a6", 640, 480))) });
    });
    expect(sending).not.toBeInTheDocument();
    await chat.user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(within(log()).getByRole("button", { name: "Open image: image" })).toHaveFocus();
  });
});
