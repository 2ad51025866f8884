import { describe, expect, it } from "vitest";
import { anna, boris, defaultRoom, delta, listsOf, lobby, peter, user } from "../testing/fixtures";
import type { Room, User } from "../types/events";
import {
  MAX_HELD,
  applyRoomChanges,
  applyUserChanges,
  initialListsState,
  judgeDelta,
  reduceLists,
  sortUsersByName,
  type ListsAction,
  type ListsState,
} from "./lists";

const room = (id: string, name = id): Room => ({ ...lobby, id, name });
const gophers = room("r2", "Gophers");
const rust = room("r3", "Rust");
const names = (users: User[]) => users.map((u) => u.name);
const ids = (rooms: Room[]) => rooms.map((r) => r.id);

/** Runs actions from a state; the effects, in order. */
function run(state: ListsState, actions: ListsAction[]) {
  const effects: unknown[] = [];
  let s = state;
  for (const action of actions) {
    const step = reduceLists(s, action);
    s = step.state;
    if (step.effect) effects.push(step.effect);
  }
  return { state: s, effects };
}

/** Users [Anna, Peter] at version 5, rooms [default, lobby] at version 7. */
const ready = run(initialListsState, [{ type: "lists", lists: listsOf([peter, anna], [defaultRoom, lobby], 5, 7) }]).state;

describe("judgeDelta", () => {
  it.each([
    [5, 3, "stale"],
    [5, 5, "stale"],
    [5, 6, "apply"],
    [5, 7, "gap"],
    [5, 100, "gap"],
    [0, 1, "apply"],
    [null, 1, "stale"],
  ] as const)("at V=%s a delta of version %s is %s", (v, version, verdict) => {
    expect(judgeDelta(v, version)).toBe(verdict);
  });
});

describe("applyUserChanges: sorted by name in plain string order", () => {
  const carl = user("Carl");
  const lower = user("alice");
  it.each<[string, User[], User[], string[], string[]]>([
    ["adds in order", [anna, peter], [boris], [], ["Anna", "Boris", "Peter"]],
    ["adds at both ends", [boris], [anna, peter], [], ["Anna", "Boris", "Peter"]],
    ["adds several unsorted", [anna], [peter, carl, boris], [], ["Anna", "Boris", "Carl", "Peter"]],
    ["removes by id", [anna, boris, peter], [], [boris.id], ["Anna", "Peter"]],
    ["ignores an unknown remove", [anna], [], ["nobody"], ["Anna"]],
    ["replaces by id", [anna, peter], [{ ...anna, online: false }], [], ["Anna", "Peter"]],
    ["moves a renamed user", [anna, boris, peter], [{ ...anna, name: "Zoe" }], [], ["Boris", "Peter", "Zoe"]],
    ["plain order: capitals before lower case", [anna, peter], [lower], [], ["Anna", "Peter", "alice"]],
    ["remove wins over an upsert of the same id", [anna, peter], [boris], [boris.id], ["Anna", "Peter"]],
    ["the last upsert of an id wins", [anna], [carl, { ...carl, online: false }], [], ["Anna", "Carl"]],
  ])("%s", (_, users, upsert, remove, want) => {
    const out = applyUserChanges(users, upsert, remove);
    expect(names(out)).toEqual(want);
    expect(new Set(out.map((u) => u.id)).size).toBe(out.length);
  });

  it("keeps the upserted object", () => {
    const away = { ...anna, online: false };
    expect(applyUserChanges([anna, peter], [away], [])[0]).toBe(away);
    expect(applyUserChanges([anna, boris], [{ ...boris, name: "Carl" }], []).map((u) => u.id)).toEqual([anna.id, boris.id]);
  });

  it("sorts a full list, ties by id", () => {
    const twin = user("Anna", { id: "u-a0" });
    expect(sortUsersByName([peter, anna, twin, boris]).map((u) => u.id)).toEqual([twin.id, anna.id, boris.id, peter.id]);
  });
});

describe("applyRoomChanges: known ids in place, new ones at the end", () => {
  it.each<[string, Room[], Room[], string[], string[]]>([
    ["appends a new room", [defaultRoom, lobby], [gophers], [], ["_default", "r1", "r2"]],
    ["appends several in upsert order", [defaultRoom], [rust, gophers], [], ["_default", "r3", "r2"]],
    ["replaces in place", [defaultRoom, lobby, gophers], [{ ...lobby, member_count: 9 }], [], ["_default", "r1", "r2"]],
    ["removes", [defaultRoom, lobby, gophers], [], [lobby.id], ["_default", "r2"]],
    ["replaces, removes and appends at once", [defaultRoom, lobby], [rust, { ...defaultRoom, member_count: 3 }], [lobby.id], ["_default", "r3"]],
    ["remove wins over an upsert", [defaultRoom], [gophers], [gophers.id], ["_default"]],
  ])("%s", (_, rooms, upsert, remove, want) => {
    expect(ids(applyRoomChanges(rooms, upsert, remove))).toEqual(want);
  });

  it("keeps the new details of a replaced room", () => {
    const busy = { ...lobby, member_count: 9 };
    expect(applyRoomChanges([defaultRoom, lobby], [busy], [])[1]).toBe(busy);
  });
});

describe("reduceLists", () => {
  it("the lists event replaces everything, versions too, users sorted", () => {
    expect(names(ready.users)).toEqual(["Anna", "Peter"]);
    expect(ids(ready.rooms)).toEqual(["_default", "r1"]);
    expect([ready.usersVersion, ready.roomsVersion]).toEqual([5, 7]);
    // Another node after a reconnect: lower versions are taken as they are.
    const { state } = reduceLists(ready, { type: "lists", lists: listsOf([boris], [defaultRoom], 2, 1) });
    expect(names(state.users)).toEqual(["Boris"]);
    expect([state.usersVersion, state.roomsVersion]).toEqual([2, 1]);
  });

  it.each<[string, ListsAction[], string[], string[], [number, number]]>([
    ["applies V+1", [{ type: "user_delta", delta: delta(6, [boris]) }], ["Anna", "Boris", "Peter"], ["_default", "r1"], [6, 7]],
    ["ignores V", [{ type: "user_delta", delta: delta(5, [boris]) }], ["Anna", "Peter"], ["_default", "r1"], [5, 7]],
    ["ignores below V", [{ type: "room_delta", delta: delta(3, [gophers]) }], ["Anna", "Peter"], ["_default", "r1"], [5, 7]],
    [
      "applies a run, each list by its own version",
      [
        { type: "room_delta", delta: delta(8, [gophers]) },
        { type: "user_delta", delta: delta(6, [boris]) },
        { type: "user_delta", delta: delta(7, [], [anna.id]) },
        { type: "room_delta", delta: delta(9, [], [lobby.id]) },
      ],
      ["Boris", "Peter"],
      ["_default", "r2"],
      [7, 9],
    ],
    [
      "ignores a repeat",
      [
        { type: "user_delta", delta: delta(6, [boris]) },
        { type: "user_delta", delta: delta(6, [], [boris.id]) },
      ],
      ["Anna", "Boris", "Peter"],
      ["_default", "r1"],
      [6, 7],
    ],
  ])("%s", (_, actions, users, rooms, versions) => {
    const { state, effects } = run(ready, actions);
    expect(effects).toEqual([]);
    expect(names(state.users)).toEqual(users);
    expect(ids(state.rooms)).toEqual(rooms);
    expect([state.usersVersion, state.roomsVersion]).toEqual(versions);
  });

  it("keeps a list's array when nothing changed (stale delta, the other list's delta)", () => {
    const stale = reduceLists(ready, { type: "user_delta", delta: delta(5, [boris]) }).state;
    expect(stale.users).toBe(ready.users);
    const rooms = reduceLists(ready, { type: "room_delta", delta: delta(8, [gophers]) }).state;
    expect(rooms.users).toBe(ready.users);
    expect(rooms.rooms).not.toBe(ready.rooms);
  });

  it("ignores deltas before the first lists", () => {
    const { state, effects } = run(initialListsState, [{ type: "user_delta", delta: delta(1, [anna]) }]);
    expect(effects).toEqual([]);
    expect(state.users).toEqual([]);
  });

  it("a gap asks for the lists, holds what comes meanwhile and replays it after the answer", () => {
    const { state, effects } = run(ready, [
      { type: "user_delta", delta: delta(8, [boris]) }, // gap (V=5)
      { type: "room_delta", delta: delta(8, [gophers]) }, // held although V+1
      { type: "user_delta", delta: delta(9, [user("Carl")]) },
    ]);
    expect(effects).toEqual([{ type: "get_lists", request: 1 }]);
    expect(state.syncing).toBe(true);
    expect(state.held).toHaveLength(3);
    expect(names(state.users)).toEqual(["Anna", "Peter"]);
    expect(ids(state.rooms)).toEqual(["_default", "r1"]);

    // The answer is at users 8 (Boris in), rooms 7: then rooms 8 and users 9 apply.
    const after = run(state, [{ type: "synced", request: 1, lists: listsOf([anna, boris, peter], [defaultRoom, lobby], 8, 7) }]);
    expect(after.effects).toEqual([]);
    expect(after.state.syncing).toBe(false);
    expect(after.state.held).toEqual([]);
    expect(names(after.state.users)).toEqual(["Anna", "Boris", "Carl", "Peter"]);
    expect(ids(after.state.rooms)).toEqual(["_default", "r1", "r2"]);
    expect([after.state.usersVersion, after.state.roomsVersion]).toEqual([9, 8]);
  });

  it("a gap in the held deltas after the answer asks again, holding the rest", () => {
    const { state } = run(ready, [
      { type: "room_delta", delta: delta(9, [gophers]) },
      { type: "room_delta", delta: delta(12, [rust]) },
    ]);
    const after = run(state, [{ type: "synced", request: 1, lists: listsOf([anna], [defaultRoom], 6, 9) }]);
    expect(after.effects).toEqual([{ type: "get_lists", request: 2 }]);
    expect(after.state.syncing).toBe(true);
    expect(after.state.held.map((h) => h.delta.version)).toEqual([12]);
    expect(names(after.state.users)).toEqual(["Anna"]);
    expect([after.state.usersVersion, after.state.roomsVersion]).toEqual([6, 9]);
  });

  it("a failed get_lists keeps holding and asks to retry; the retry is a new call", () => {
    const gap = run(ready, [{ type: "user_delta", delta: delta(9, [boris]) }]).state;
    const failed = run(gap, [
      { type: "sync_failed", request: 1 },
      { type: "user_delta", delta: delta(10, [user("Carl")]) },
    ]);
    expect(failed.effects).toEqual([{ type: "retry_later" }]);
    expect(failed.state.syncing).toBe(true);
    expect(failed.state.held).toHaveLength(2);
    const retried = run(failed.state, [{ type: "retry" }]);
    expect(retried.effects).toEqual([{ type: "get_lists", request: 2 }]);
    // The first call's late answer counts for nothing.
    const late = run(retried.state, [{ type: "synced", request: 1, lists: listsOf([], [], 1, 1) }]);
    expect(late.state).toBe(retried.state);
    const done = run(retried.state, [{ type: "synced", request: 2, lists: listsOf([anna, boris], [defaultRoom], 9, 7) }]);
    expect(names(done.state.users)).toEqual(["Anna", "Boris", "Carl"]);
    expect(done.state.usersVersion).toBe(10);
  });

  it("a lists event while syncing replaces everything and drops what was held", () => {
    const gap = run(ready, [{ type: "user_delta", delta: delta(9, [boris]) }]).state;
    const fresh = run(gap, [
      { type: "lists", lists: listsOf([peter], [defaultRoom], 1, 1) },
      { type: "synced", request: 1, lists: listsOf([anna, boris], [defaultRoom, lobby], 9, 7) },
    ]);
    expect(fresh.effects).toEqual([]);
    expect(fresh.state.syncing).toBe(false);
    expect(names(fresh.state.users)).toEqual(["Peter"]);
    expect([fresh.state.usersVersion, fresh.state.roomsVersion]).toEqual([1, 1]);
  });

  it("a disconnect ends the sync; its answer and retry are ignored", () => {
    const gap = run(ready, [{ type: "user_delta", delta: delta(9, [boris]) }]).state;
    const { state, effects } = run(gap, [
      { type: "disconnected" },
      { type: "sync_failed", request: 1 },
      { type: "retry" },
      { type: "synced", request: 1, lists: listsOf([], [], 9, 7) },
    ]);
    expect(effects).toEqual([]);
    expect(state.syncing).toBe(false);
    expect(state.held).toEqual([]);
    expect(names(state.users)).toEqual(["Anna", "Peter"]);
  });

  it("holds at most MAX_HELD deltas, dropping the oldest", () => {
    let state = run(ready, [{ type: "user_delta", delta: delta(100, []) }]).state;
    for (let v = 101; v < 101 + MAX_HELD; v++) state = reduceLists(state, { type: "user_delta", delta: delta(v, []) }).state;
    expect(state.held).toHaveLength(MAX_HELD);
    expect(state.held[0]?.delta.version).toBe(101);
  });

  it("whole lists from a server without deltas replace the items, not the versions", () => {
    const { state } = run(ready, [
      { type: "users_replaced", users: [peter, boris] },
      { type: "rooms_replaced", rooms: [lobby] },
    ]);
    expect(names(state.users)).toEqual(["Boris", "Peter"]);
    expect(ids(state.rooms)).toEqual(["r1"]);
    expect([state.usersVersion, state.roomsVersion]).toEqual([5, 7]);
  });

  it("never mutates the state it is given", () => {
    const frozen = structuredClone(ready);
    run(ready, [
      { type: "user_delta", delta: delta(6, [boris], [anna.id]) },
      { type: "room_delta", delta: delta(8, [gophers], [lobby.id]) },
      { type: "user_delta", delta: delta(20, []) },
    ]);
    expect(ready).toEqual(frozen);
  });
});
