import {
  Avatar,
  ChatContainer,
  ConversationHeader,
  Message,
  MessageGroup,
  MessageInput,
  MessageList,
  MessageSeparator,
  TypingIndicator,
} from "@chatscope/chat-ui-kit-react";
import { useCallback, useId, useMemo, useRef, useState, type ReactNode } from "react";
import { MessageType, type Attachment, type Room, type User } from "../../../types/events";
import { AttachmentThumbnail } from "../../attachments/components/AttachmentThumbnail";
import { Lightbox } from "../../attachments/components/Lightbox";
import {
  useAttachmentDraft,
  type ReadyAttachment,
  type Uploader,
} from "../../attachments/hooks/useAttachmentDraft";
import { useFileDrop } from "../../attachments/hooks/useFileDrop";
import type { BannerState } from "../hooks/useConnectionBanner";
import { useDraft } from "../hooks/useDraft";
import { GAP_TEXT, type Entry } from "../hooks/useMessages";
import { useStickToBottom } from "../hooks/useStickToBottom";
import { typingText } from "../hooks/useTypingUsers";
import { formatTime } from "../time";
import { Composer } from "./Composer";
import { ConnectionBanner } from "./ConnectionBanner";
import { MessageText } from "./MessageText";

export interface ConversationPaneProps {
  room: Room | null;
  me: User;
  entries: Entry[];
  typingUsers: User[];
  onSend(content: string, attachment?: ReadyAttachment): void;
  /** Uploads an image for the next message (POST /api/attachments). */
  uploadAttachment: Uploader;
  /** Sends a refused message again, as it was. */
  onRetry(key: string): void;
  /** Takes a refused message off the log and returns its text for the composer. */
  onEdit?(key: string): string | null;
  onDraftChange?(draft: string): void;
  /** The connection banner; while offline our messages wait for the connection. */
  banner?: BannerState;
  /** Controls placed at the start and end of the header (the phone layout's toggles). */
  headerStart?: ReactNode;
  headerEnd?: ReactNode;
}

/** Consecutive messages of one sender, less than this apart, share a group. */
const GROUP_GAP_MS = 5 * 60_000;

type TextEntry = {
  key: string;
  content: string;
  attachment?: Attachment;
  timestamp: number;
  status?: "pending" | "failed";
  error?: string;
};

type Item =
  | { kind: "notice"; key: string; text: string; gap?: boolean }
  | { kind: "group"; key: string; sender: User; own: boolean; messages: TextEntry[] };

/** Turns the entries into notices and runs of messages by one sender. */
export function groupEntries(entries: Entry[], me: User): Item[] {
  const items: Item[] = [];
  let group: Extract<Item, { kind: "group" }> | null = null;
  for (const entry of entries) {
    let sender: User;
    let text: TextEntry;
    if (entry.kind === "gap") {
      items.push({ kind: "notice", key: entry.key, text: GAP_TEXT, gap: true });
      group = null;
      continue;
    }
    if (entry.kind === "local") {
      sender = me;
      text = {
        key: entry.key,
        content: entry.content,
        ...(entry.attachment ? { attachment: entry.attachment } : {}),
        timestamp: entry.timestamp,
        status: entry.status,
        ...(entry.error !== undefined ? { error: entry.error } : {}),
      };
    } else if (entry.message.type === MessageType.Text) {
      sender = entry.message.sender;
      const { content = "", attachment, timestamp } = entry.message;
      text = { key: entry.key, content, ...(attachment ? { attachment } : {}), timestamp };
    } else {
      const m = entry.message;
      const verb = m.type === MessageType.Joined ? "joined" : "left";
      items.push({ kind: "notice", key: entry.key, text: `${m.user.name} has ${verb} the room at ${formatTime(m.timestamp)}` });
      group = null;
      continue;
    }
    const previous = group?.messages[group.messages.length - 1];
    if (group && group.sender.id === sender.id && previous && text.timestamp - previous.timestamp < GROUP_GAP_MS) {
      group.messages.push(text);
    } else {
      group = { kind: "group", key: entry.key, sender, own: sender.id === me.id, messages: [text] };
      items.push(group);
    }
  }
  return items;
}

/**
 * The header and the connection banner under it. chat-ui-kit's
 * ChatContainer keeps only children it knows, each in its place; this one
 * takes the header's (as the Composer takes the input's).
 */
function HeaderSlot({ children }: { children: ReactNode; as?: unknown }) {
  return <>{children}</>;
}

function position(index: number, count: number): "single" | "first" | "normal" | "last" {
  if (count === 1) return "single";
  if (index === 0) return "first";
  return index === count - 1 ? "last" : "normal";
}

/** The middle column: the room's header, the conversation, the composer. */
export function ConversationPane({
  room,
  me,
  entries,
  typingUsers,
  onSend,
  uploadAttachment,
  onRetry,
  onEdit,
  onDraftChange,
  banner = null,
  headerStart,
  headerEnd,
}: ConversationPaneProps) {
  const items = useMemo(() => groupEntries(entries, me), [entries, me]);
  const labelPrefix = useId();
  const paneRef = useRef<HTMLElement>(null);
  const outgoing = entries.filter((e) => e.kind === "local").length;
  const { unseen, jumpToLatest } = useStickToBottom(paneRef, {
    roomId: room?.id ?? null,
    count: entries.length,
    lastKey: entries[entries.length - outgoing - 1]?.key ?? null,
    outgoing,
  });
  const typing = typingText(typingUsers);
  const attachment = useAttachmentDraft(uploadAttachment);

  const [draft, setDraft] = useDraft(onDraftChange);
  const offline = banner === "offline";

  // A refused message goes back into the composer, after what is there.
  const edit = (key: string) => {
    const text = onEdit?.(key);
    if (text == null) return;
    setDraft(draft.trim() === "" ? text : `${draft}\n${text}`);
  };

  const send = (content: string, image?: ReadyAttachment) => {
    onSend(content, image);
    jumpToLatest();
  };

  // Files dragged over the conversation: a hint while over it, an upload on drop.
  const drop = useFileDrop(attachment.add);

  // The opened image; closing returns the focus to its thumbnail.
  const [opened, setOpened] = useState<{ attachment: Attachment; sender: string; button: HTMLButtonElement } | null>(
    null,
  );
  const closeLightbox = useCallback(() => {
    if (!opened) return;
    setOpened(null);
    // The thumbnail may have been re-rendered meanwhile (our message confirmed).
    const button = opened.button.isConnected
      ? opened.button
      : Array.from(paneRef.current?.querySelectorAll<HTMLButtonElement>("button[data-attachment-id]") ?? []).find(
          (b) => b.dataset.attachmentId === opened.attachment.id,
        );
    button?.focus();
  }, [opened]);

  return (
    <main
      aria-label="Conversation"
      className="conversation"
      ref={paneRef}
      {...drop.handlers}
    >
      <ChatContainer>
        <HeaderSlot as={ConversationHeader}>
          <ConversationHeader>
            {headerStart ? <ConversationHeader.Back>{headerStart}</ConversationHeader.Back> : null}
            {room ? <Avatar src={room.avatar_url} /> : null}
            <ConversationHeader.Content>
              <h2 className="cs-conversation-header__user-name conversation__title">{room?.name ?? "Connecting…"}</h2>
              {room?.description ? (
                <p className="cs-conversation-header__info conversation__description">{room.description}</p>
              ) : null}
            </ConversationHeader.Content>
            {headerEnd ? <ConversationHeader.Actions>{headerEnd}</ConversationHeader.Actions> : null}
          </ConversationHeader>
          <ConnectionBanner state={banner} />
        </HeaderSlot>
        <MessageList
          role="log"
          aria-label="Messages"
          className="conversation__log"
          autoScrollToBottom={false}
          autoScrollToBottomOnMount={true}
          scrollBehavior="auto"
          loading={false}
          loadingMore={false}
          typingIndicator={
            <div className="conversation__overlay" aria-live="off">
              {typing ? <TypingIndicator content={typing} /> : null}
              {unseen > 0 ? (
                <button type="button" className="jump" onClick={jumpToLatest}>
                  Jump to latest
                  <span className="jump__count" aria-hidden="true">
                    {unseen}
                  </span>
                </button>
              ) : null}
            </div>
          }
        >
          <MessageSeparator className="conversation__start">Your conversation starts here</MessageSeparator>
          {items.map((item) =>
            item.kind === "notice" ? (
              <MessageSeparator key={item.key} className={item.gap ? "notice notice--gap" : "notice"}>
                {item.text}
              </MessageSeparator>
            ) : (
              <MessageGroup
                key={item.key}
                direction={item.own ? "outgoing" : "incoming"}
                className={item.own ? "group group--own" : "group"}
              >
                {item.own ? null : <Avatar src={item.sender.avatar_url} size="sm" />}
                <MessageGroup.Header>
                  {item.own ? null : <span className="group__sender">{item.sender.name}</span>}
                  <span className="group__time">{formatTime(item.messages[0]?.timestamp ?? 0)}</span>
                </MessageGroup.Header>
                <MessageGroup.Messages>
                  {item.messages.map((m, i) => {
                    const labelId = `${labelPrefix}-${m.key}`;
                    return (
                      <Message
                        key={m.key}
                        role="article"
                        aria-labelledby={labelId}
                        data-own={item.own ? "true" : undefined}
                        data-status={m.status}
                        title={formatTime(m.timestamp)}
                        className={m.status ? `message message--${m.status}` : "message"}
                        model={{ direction: item.own ? "outgoing" : "incoming", position: position(i, item.messages.length) }}
                      >
                        <Message.CustomContent>
                          <span id={labelId} className="visually-hidden">
                            {item.sender.name} at {formatTime(m.timestamp)}
                          </span>
                          {m.attachment ? (
                            <AttachmentThumbnail
                              attachment={m.attachment}
                              senderName={item.sender.name}
                              onOpen={(a, button) => setOpened({ attachment: a, sender: item.sender.name, button })}
                            />
                          ) : null}
                          {m.content !== "" ? <MessageText text={m.content} /> : null}
                        </Message.CustomContent>
                        {m.status ? (
                          <Message.Footer>
                            {m.status === "pending" ? (
                              <span className="message__state">{offline ? "Waiting for connection" : "Sending…"}</span>
                            ) : (
                              <span className="message__state message__state--failed">
                                <span>Not sent: {m.error}</span>{" "}
                                <button type="button" className="link-button" onClick={() => onRetry(m.key)}>
                                  Retry
                                </button>
                                {onEdit && !m.attachment ? (
                                  <>
                                    {" "}
                                    <button type="button" className="link-button" onClick={() => edit(m.key)}>
                                      Edit
                                    </button>
                                  </>
                                ) : null}
                              </span>
                            )}
                          </Message.Footer>
                        ) : null}
                      </Message>
                    );
                  })}
                </MessageGroup.Messages>
              </MessageGroup>
            ),
          )}
        </MessageList>
        <Composer
          as={MessageInput}
          onSend={send}
          attachment={attachment}
          draft={draft}
          onDraftChange={setDraft}
          disabled={!room}
        />
      </ChatContainer>
      {drop.dragging ? (
        <div className="dropzone" aria-hidden="true">
          <p className="dropzone__text">Drop the image to attach it</p>
        </div>
      ) : null}
      {opened ? <Lightbox attachment={opened.attachment} senderName={opened.sender} onClose={closeLightbox} /> : null}
    </main>
  );
}
