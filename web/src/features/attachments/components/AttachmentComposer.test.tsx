import { act, createEvent, fireEvent, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { lastXhr, xhrRequests } from "../../../testing/fake-xhr";
import { at, attachmentOf, imageFile, imageMessage, peter, sent, upload } from "../../../testing/fixtures";
import { renderChat } from "../../../testing/render-chat";

const conversation = () => screen.getByRole("main", { name: "Conversation" });
const log = () => screen.getByRole("log");
const messageBox = () => screen.getByRole("textbox", { name: "Message" });
const sendButton = () => screen.getByRole("button", { name: "Send" });
const fileInput = () => screen.getByLabelText<HTMLInputElement>("Attach image", { selector: "input" });
const preview = () => screen.getByRole("img", { name: "Image to send" });

function connected() {
  const chat = renderChat();
  chat.connect();
  return chat;
}

/** Answers the pending upload with 201 and the Upload. */
async function finishUpload(id = "a1", width = 1600, height = 1200) {
  await act(async () => {
    lastXhr().respond(201, upload(id, width, height));
  });
}

describe("attaching an image", () => {
  it("the paperclip opens the file picker of a hidden input that accepts the four image types", async () => {
    const chat = connected();
    const click = vi.spyOn(HTMLInputElement.prototype, "click");
    await chat.user.click(screen.getByRole("button", { name: "Attach image" }));
    expect(click).toHaveBeenCalledTimes(1);
    expect(click.mock.contexts[0]).toBe(fileInput());
    expect(fileInput()).toHaveAttribute("type", "file");
    expect(fileInput()).toHaveAttribute("accept", "image/png,image/jpeg,image/gif,image/webp");
    expect(fileInput()).not.toBeVisible();
    expect(xhrRequests()).toHaveLength(0);
  });

  it("uploads a chosen file at once with progress, then shows the preview; Send sends attachment_id and alt", async () => {
    const chat = connected();
    await chat.user.upload(fileInput(), imageFile("cat.png"));

    const xhr = lastXhr();
    expect(xhr.headers.authorization).toBe("Bearer tok");
    expect(xhr.file()?.name).toBe("cat.png");
    const bar = screen.getByRole("progressbar", { name: "Uploading image" });
    expect(bar).toHaveAttribute("aria-valuenow", "0");
    expect(screen.getByText("Uploading cat.png…")).toBeInTheDocument();
    act(() => xhr.progress(512, 1024));
    expect(bar).toHaveAttribute("aria-valuenow", "50");
    expect(sendButton()).toBeDisabled();

    await finishUpload("a1");
    expect(screen.queryByRole("progressbar")).not.toBeInTheDocument();
    expect(preview()).toHaveAttribute("src", "/api/attachments/a1/thumbnail");
    expect(screen.getByRole("button", { name: "Remove attachment" })).toBeInTheDocument();
    // An image alone may be sent.
    expect(sendButton()).toBeEnabled();

    await chat.user.type(screen.getByRole("textbox", { name: "Image description" }), "my cat");
    expect(screen.getByRole("img", { name: "my cat" })).toHaveAttribute("src", "/api/attachments/a1/thumbnail");
    await chat.user.click(sendButton());

    expect(chat.fake.calls("send_message").map((c) => c.payload)).toEqual([sent({ attachment_id: "a1", alt: "my cat" })]);
    // The composer is empty again (the image is in the log now).
    expect(screen.queryByRole("button", { name: "Remove attachment" })).not.toBeInTheDocument();
    expect(screen.queryByRole("textbox", { name: "Image description" })).not.toBeInTheDocument();
    expect(screen.getByRole("img", { name: "my cat" }).closest("[role=log]")).toBe(log());
    expect(sendButton()).toBeDisabled();
    // Shown at once, with its thumbnail, while on its way.
    const own = within(log()).getByRole("article", { name: /^Peter at/ });
    expect(within(own).getByRole("button", { name: "Open image: my cat" })).toBeInTheDocument();
    expect(own).toHaveTextContent("Sending…");
  });

  it("sends the text with the image, and no alt when the description is blank", async () => {
    const chat = connected();
    await chat.user.upload(fileInput(), imageFile());
    await finishUpload("a2");
    await chat.user.type(screen.getByRole("textbox", { name: "Image description" }), "   ");
    await chat.user.type(messageBox(), "  look at this {Enter}");
    expect(chat.fake.calls("send_message").map((c) => c.payload)).toEqual([sent({ content: "look at this", attachment_id: "a2" })]);
    expect(messageBox()).toHaveValue("");
  });

  it("Enter in the description field sends", async () => {
    const chat = connected();
    await chat.user.upload(fileInput(), imageFile());
    await finishUpload("a3");
    await chat.user.type(screen.getByRole("textbox", { name: "Image description" }), "a sunset{Enter}");
    expect(chat.fake.calls("send_message").map((c) => c.payload)).toEqual([sent({ attachment_id: "a3", alt: "a sunset" })]);
  });

  it("sends nothing while the upload is under way, not even the text", async () => {
    const chat = connected();
    await chat.user.upload(fileInput(), imageFile());
    await chat.user.type(messageBox(), "caption{Enter}");
    expect(sendButton()).toBeDisabled();
    expect(chat.fake.calls("send_message")).toHaveLength(0);
    await finishUpload("a4");
    await chat.user.keyboard("{Enter}");
    expect(chat.fake.calls("send_message").map((c) => c.payload)).toEqual([sent({ content: "caption", attachment_id: "a4" })]);
  });

  it("attaches a pasted image (clipboardData.files) and leaves pasted text alone", async () => {
    const chat = connected();
    const box = messageBox();
    const textPaste = createEvent.paste(box, { clipboardData: { files: [], items: [], types: ["text/plain"] } });
    fireEvent(box, textPaste);
    expect(textPaste.defaultPrevented).toBe(false);
    expect(xhrRequests()).toHaveLength(0);

    const imagePaste = createEvent.paste(box, {
      clipboardData: { files: [imageFile("image.png")], items: [], types: ["Files"] },
    });
    fireEvent(box, imagePaste);
    expect(imagePaste.defaultPrevented).toBe(true);
    expect(lastXhr().file()?.name).toBe("image.png");
    await finishUpload("a5");
    expect(preview()).toHaveAttribute("src", "/api/attachments/a5/thumbnail");
    await chat.user.click(sendButton());
    expect(chat.fake.calls("send_message").map((c) => c.payload)).toEqual([sent({ attachment_id: "a5" })]);
  });

  it("attaches a pasted image given only as a clipboard item of kind file", async () => {
    connected();
    const file = imageFile("screenshot.png");
    fireEvent.paste(messageBox(), {
      clipboardData: {
        files: [],
        items: [
          { kind: "string", type: "text/html", getAsFile: () => null },
          { kind: "file", type: "image/png", getAsFile: () => file },
        ],
        types: ["text/html", "Files"],
      },
    });
    expect(lastXhr().file()).toBe(file);
    await finishUpload("a6");
    expect(preview()).toBeInTheDocument();
  });

  it("shows a hint while files are dragged over the conversation and uploads the one dropped", async () => {
    connected();
    const main = conversation();
    const dragging = { types: ["Files"], files: [], dropEffect: "none" };
    fireEvent.dragEnter(main, { dataTransfer: dragging });
    expect(screen.getByText("Drop the image to attach it")).toBeInTheDocument();
    // Moving over a child enters it before leaving the parent.
    fireEvent.dragEnter(messageBox(), { dataTransfer: dragging });
    fireEvent.dragLeave(main, { dataTransfer: dragging });
    expect(screen.getByText("Drop the image to attach it")).toBeInTheDocument();
    fireEvent.dragLeave(messageBox(), { dataTransfer: dragging });
    expect(screen.queryByText("Drop the image to attach it")).not.toBeInTheDocument();

    // Dragged text is not ours to take.
    fireEvent.dragEnter(main, { dataTransfer: { types: ["text/plain"], files: [] } });
    expect(screen.queryByText("Drop the image to attach it")).not.toBeInTheDocument();

    fireEvent.dragEnter(main, { dataTransfer: dragging });
    const over = createEvent.dragOver(main, { dataTransfer: dragging });
    fireEvent(main, over);
    expect(over.defaultPrevented).toBe(true);
    const drop = createEvent.drop(main, {
      dataTransfer: { types: ["Files"], files: [new File(["notes"], "notes.txt", { type: "text/plain" }), imageFile("dropped.png")] },
    });
    fireEvent(main, drop);
    expect(drop.defaultPrevented).toBe(true);
    expect(screen.queryByText("Drop the image to attach it")).not.toBeInTheDocument();
    expect(lastXhr().file()?.name).toBe("dropped.png");
    await finishUpload("a7");
    expect(preview()).toHaveAttribute("src", "/api/attachments/a7/thumbnail");
  });

  it("keeps a file dropped beside the conversation from replacing the page", () => {
    connected();
    const drop = new Event("drop", { bubbles: true, cancelable: true });
    Object.defineProperty(drop, "dataTransfer", { value: { types: ["Files"], files: [imageFile()] } });
    document.body.dispatchEvent(drop);
    expect(drop.defaultPrevented).toBe(true);
    expect(xhrRequests()).toHaveLength(0);
  });

  it("Remove attachment cancels an upload under way, or drops the ready image", async () => {
    const chat = connected();
    await chat.user.upload(fileInput(), imageFile());
    const first = lastXhr();
    await chat.user.click(screen.getByRole("button", { name: "Remove attachment" }));
    expect(first.state).toBe("aborted");
    expect(screen.queryByRole("progressbar")).not.toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();

    await chat.user.upload(fileInput(), imageFile());
    await finishUpload("a8");
    await chat.user.click(screen.getByRole("button", { name: "Remove attachment" }));
    expect(screen.queryByRole("img", { name: "Image to send" })).not.toBeInTheDocument();
    expect(sendButton()).toBeDisabled();
    await chat.user.type(messageBox(), "text only{Enter}");
    expect(chat.fake.calls("send_message").map((c) => c.payload)).toEqual([sent({ content: "text only" })]);
  });

  it("a newer file replaces one still uploading", async () => {
    const chat = connected();
    await chat.user.upload(fileInput(), imageFile("first.png"));
    const first = lastXhr();
    await chat.user.upload(fileInput(), imageFile("second.png"));
    expect(first.state).toBe("aborted");
    expect(lastXhr().file()?.name).toBe("second.png");
    await finishUpload("a9");
    expect(screen.getByText("second.png · 1600 × 1200")).toBeInTheDocument();
  });

  it("refuses another type before uploading, in words; nothing is sent", async () => {
    const chat = connected();
    const user = userEvent.setup({ applyAccept: false });
    await user.upload(fileInput(), new File(["<svg xmlns='http://www.w3.org/2000/svg'/>"], "logo.svg", { type: "image/svg+xml" }));
    expect(screen.getByRole("alert")).toHaveTextContent("Only PNG, JPEG, GIF and WebP images can be sent");
    expect(xhrRequests()).toHaveLength(0);
    expect(sendButton()).toBeDisabled();
    await chat.user.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    expect(chat.fake.calls("send_message")).toHaveLength(0);
  });

  it.each([
    [413, "too_large", "That file is too large (max 10 MB)"],
    [415, "unsupported_type", "Only PNG, JPEG, GIF and WebP images can be sent"],
    [422, "invalid_image", "That image could not be read (it may be damaged, or over 8,000 px a side)"],
    [429, "rate_limited", "Too many images at once: wait a moment and try again"],
  ])("shows the server's %i %s in words; a message can still be sent without the image", async (status, error, words) => {
    const chat = connected();
    await chat.user.upload(fileInput(), imageFile());
    await act(async () => {
      lastXhr().respond(status, { error, message: "server words" });
    });
    expect(screen.getByRole("alert")).toHaveTextContent(words);
    expect(screen.queryByRole("img", { name: "Image to send" })).not.toBeInTheDocument();
    await chat.user.type(messageBox(), "without it{Enter}");
    expect(chat.fake.calls("send_message").map((c) => c.payload)).toEqual([sent({ content: "without it" })]);
    expect(chat.onSessionEnd).not.toHaveBeenCalled();
  });

  it("an upload refused with 401 ends the session like any other 401", async () => {
    const chat = connected();
    await chat.user.upload(fileInput(), imageFile());
    await act(async () => {
      lastXhr().respond(401, { error: "unauthorized", message: "missing or invalid token" });
    });
    expect(chat.onSessionEnd).toHaveBeenCalledWith("invalid_token");
  });

  it("shows our image once when the server confirms it (broadcast first), and retries with the same attachment", async () => {
    const chat = connected();
    await chat.user.upload(fileInput(), imageFile());
    await finishUpload("a10", 800, 600);
    await chat.user.click(sendButton());
    const confirmed = imageMessage(peter, attachmentOf(upload("a10", 800, 600)), undefined, { timestamp: at(12, 0) });
    chat.emit("chat_message", confirmed);
    await act(async () => {
      chat.fake.calls("send_message")[0]?.ack({ ok: true, message: confirmed });
    });
    const articles = within(log()).getAllByRole("article");
    expect(articles).toHaveLength(1);
    expect(articles[0]).toHaveAccessibleName("Peter at 12:00");
    expect(articles[0]).not.toHaveTextContent("Sending…");

    // A second one is refused, then retried as it was: same image, same client_id.
    await chat.user.upload(fileInput(), imageFile());
    await finishUpload("a11");
    await chat.user.type(messageBox(), "again{Enter}");
    await act(async () => {
      chat.fake.calls("send_message")[1]?.ack({ error: "unavailable", message: "the service is temporarily unavailable" });
    });
    await chat.user.click(within(log()).getByRole("button", { name: "Retry" }));
    const [, first, again] = chat.fake.calls("send_message").map((c) => c.payload);
    expect(again).toEqual(sent({ content: "again", attachment_id: "a11" }));
    expect(again).toEqual(first);
  });
});
