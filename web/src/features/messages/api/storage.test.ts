import { describe, expect, it } from "vitest";
import { anna, defaultRoom, textMessage } from "../../../testing/fixtures";
import type { LogEntry, OutboxItem } from "../../../lib/conversation";
import {
  DRAFT_KEY,
  OUTBOX_KEY,
  SESSION_ENDED_ERROR,
  VIEW_KEY,
  clearConversation,
  clearView,
  loadDraft,
  loadResumePoint,
  persistOutbox,
  persistView,
  restoreConversation,
  storeDraft,
} from "./storage";

const hello = textMessage(anna, "hello", { seq: 41 });
const log: LogEntry[] = [{ kind: "message", key: hello.id, message: hello }, { kind: "gap", key: "g1" }];
const item = (clientId: string, status: OutboxItem["status"], error?: string): OutboxItem => ({
  clientId,
  content: `text of ${clientId}`,
  timestamp: 7,
  status,
  ...(error ? { error } : {}),
});

describe("the conversation in sessionStorage", () => {
  it("restores this user's view: room, log with its dividers, last seq", () => {
    persistView({ room: defaultRoom, log, lastSeq: 41 }, "u-peter");
    const state = restoreConversation("u-peter");
    expect(state.room).toEqual(defaultRoom);
    expect(state.log).toEqual(log);
    expect(state.lastSeq).toBe(41);
    expect(restoreConversation("u-someone-else")).toMatchObject({ room: null, log: [], lastSeq: null });
  });

  it("writes no view before there is a room", () => {
    persistView({ room: null, log: [], lastSeq: null }, "u-peter");
    expect(sessionStorage.getItem(VIEW_KEY)).toBeNull();
  });

  it("resumes from the last seq seen, or from 0 (our join) before any; nothing without a view", () => {
    expect(loadResumePoint("u-peter")).toBeNull();
    persistView({ room: defaultRoom, log: [], lastSeq: null }, "u-peter");
    expect(loadResumePoint("u-peter")).toEqual({ room_id: "_default", after_seq: 0 });
    persistView({ room: defaultRoom, log, lastSeq: 41 }, "u-peter");
    expect(loadResumePoint("u-peter")).toEqual({ room_id: "_default", after_seq: 41 });
    expect(loadResumePoint("u-anna")).toBeNull();
  });

  it("restores the outbox in order: what was on its way goes again, failed stays failed", () => {
    persistOutbox([item("c1", "sending"), item("c2", "pending"), item("c3", "failed", "too long")], "u-peter");
    expect(restoreConversation("u-peter").outbox).toEqual([
      item("c1", "pending"),
      item("c2", "pending"),
      item("c3", "failed", "too long"),
    ]);
  });

  it("keeps another session's unsent messages as not sent, for the user to retry or edit", () => {
    persistOutbox([item("c1", "pending"), item("c2", "failed", "too long")], "u-old");
    expect(restoreConversation("u-new").outbox).toEqual([
      item("c1", "failed", SESSION_ENDED_ERROR),
      item("c2", "failed", "too long"),
    ]);
  });

  it("removes the outbox key once it is empty", () => {
    persistOutbox([item("c1", "pending")], "u-peter");
    expect(sessionStorage.getItem(OUTBOX_KEY)).not.toBeNull();
    persistOutbox([], "u-peter");
    expect(sessionStorage.getItem(OUTBOX_KEY)).toBeNull();
  });

  it("ignores what it cannot read", () => {
    sessionStorage.setItem(VIEW_KEY, "{not json");
    sessionStorage.setItem(OUTBOX_KEY, JSON.stringify({ userId: "u-peter", items: [{ clientId: 3 }, item("c1", "pending")] }));
    const state = restoreConversation("u-peter");
    expect(state.room).toBeNull();
    expect(state.outbox).toEqual([item("c1", "pending")]);
    sessionStorage.setItem(VIEW_KEY, JSON.stringify({ userId: "u-peter", room: defaultRoom, lastSeq: "7", log: [] }));
    expect(restoreConversation("u-peter").room).toBeNull();
  });

  it("an expired session drops the view and keeps what the user wrote; a logout drops everything", () => {
    persistView({ room: defaultRoom, log, lastSeq: 41 }, "u-peter");
    persistOutbox([item("c1", "pending")], "u-peter");
    storeDraft("half a thought");
    clearView();
    expect(sessionStorage.getItem(VIEW_KEY)).toBeNull();
    expect(loadDraft()).toBe("half a thought");
    expect(restoreConversation("u-peter").outbox).toHaveLength(1);
    clearConversation();
    expect([VIEW_KEY, OUTBOX_KEY, DRAFT_KEY].map((k) => sessionStorage.getItem(k))).toEqual([null, null, null]);
  });
});
