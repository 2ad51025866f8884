// The user and room lists of a delta client (docs/protocol.md, "lists"),
// as a pure reducer: no socket, no timers. The service feeds it the
// server's events and carries out what it asks for (a get_lists call).
//
// Each list has a version V. A delta of version <= V is old news and is
// ignored; V+1 is applied and becomes V; anything greater is a gap: the
// client asks for the full lists (get_lists), holds the deltas that come
// meanwhile, and handles them after the answer by the same rule.
import type { ListDelta, ListsSnapshot, Room, User } from "../types/events";

export type ListName = "users" | "rooms";

/** A delta as it arrived, for which list. */
export type HeldDelta = { list: "users"; delta: ListDelta<User> } | { list: "rooms"; delta: ListDelta<Room> };

export interface ListsState {
  /** Sorted by name (plain string comparison), then id. */
  users: User[];
  /** Persistent rooms first, then by age, as the server orders them. */
  rooms: Room[];
  /** null until the first full lists: deltas before them are ignored. */
  usersVersion: number | null;
  roomsVersion: number | null;
  /** The number of the latest get_lists call; 0 before the first. */
  request: number;
  /** A get_lists call is outstanding (or waits to be retried). */
  syncing: boolean;
  /** The deltas that came while syncing, oldest first. */
  held: HeldDelta[];
}

export type ListsAction =
  /** The lists event: everything is replaced, versions too. */
  | { type: "lists"; lists: ListsSnapshot }
  | { type: "user_delta"; delta: ListDelta<User> }
  | { type: "room_delta"; delta: ListDelta<Room> }
  /** The ok answer of get_lists call number request. */
  | { type: "synced"; request: number; lists: ListsSnapshot }
  /** get_lists call number request failed (error or timeout). */
  | { type: "sync_failed"; request: number }
  /** Time to ask again after a failure. */
  | { type: "retry" }
  /** The connection is gone: what it was syncing no longer matters. */
  | { type: "disconnected" }
  /** A server without deltas: user_list_changed / room_list_changed. */
  | { type: "users_replaced"; users: User[] }
  | { type: "rooms_replaced"; rooms: Room[] };

/**
 * What the caller must do: call get_lists with this request number, or
 * retry later (a failed call), or nothing.
 */
export type ListsEffect = { type: "get_lists"; request: number } | { type: "retry_later" } | null;

export interface ListsStep {
  state: ListsState;
  effect: ListsEffect;
}

/** Deltas held at most while syncing; older ones go (the answer covers them, or a gap shows again). */
export const MAX_HELD = 1000;

export const initialListsState: ListsState = {
  users: [],
  rooms: [],
  usersVersion: null,
  roomsVersion: null,
  request: 0,
  syncing: false,
  held: [],
};

/** Plain string order of names (as the server sorts them), ties by id. */
export function compareUsers(a: User, b: User): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

export function sortUsersByName(users: readonly User[]): User[] {
  return [...users].sort(compareUsers);
}

/** The last upsert of each id, and whether an id is removed. */
function changes<T extends { id: string }>(upsert: readonly T[], remove: readonly string[]) {
  const upserts = new Map<string, T>();
  for (const item of upsert) upserts.set(item.id, item);
  const removed = new Set(remove);
  // A delta that both upserts and removes an id removes it.
  for (const id of removed) upserts.delete(id);
  return { upserts, removed };
}

/**
 * Users: removes and upserts applied, the result sorted by name. Linear in
 * the list plus k log k for k upserts: the upserts are sorted and merged.
 */
export function applyUserChanges(users: readonly User[], upsert: readonly User[], remove: readonly string[]): User[] {
  const { upserts, removed } = changes(upsert, remove);
  const kept = users.filter((u) => !removed.has(u.id) && !upserts.has(u.id));
  const added = [...upserts.values()].sort(compareUsers);
  const out: User[] = [];
  let i = 0;
  let j = 0;
  while (i < kept.length || j < added.length) {
    const a = kept[i];
    const b = added[j];
    if (b === undefined || (a !== undefined && compareUsers(a, b) <= 0)) {
      out.push(a as User);
      i++;
    } else {
      out.push(b);
      j++;
    }
  }
  return out;
}

/** Rooms: a known id is replaced in place, a new one appended (in upsert order); removes dropped. */
export function applyRoomChanges(rooms: readonly Room[], upsert: readonly Room[], remove: readonly string[]): Room[] {
  const { upserts, removed } = changes(upsert, remove);
  const out: Room[] = [];
  for (const room of rooms) {
    if (removed.has(room.id)) continue;
    const next = upserts.get(room.id);
    if (next) {
      out.push(next);
      upserts.delete(room.id);
    } else {
      out.push(room);
    }
  }
  for (const room of upserts.values()) out.push(room);
  return out;
}

export type DeltaVerdict = "stale" | "apply" | "gap";

/** The rule: <= V is stale, V+1 applies, more is a gap; no V yet (no full lists) is stale. */
export function judgeDelta(version: number | null, deltaVersion: number): DeltaVerdict {
  if (version === null || deltaVersion <= version) return "stale";
  return deltaVersion === version + 1 ? "apply" : "gap";
}

function replaceAll(state: ListsState, lists: ListsSnapshot): ListsState {
  return {
    ...state,
    users: sortUsersByName(lists.users),
    rooms: [...lists.rooms],
    usersVersion: lists.users_version,
    roomsVersion: lists.rooms_version,
    syncing: false,
    held: [],
  };
}

function hold(held: HeldDelta[], delta: HeldDelta): HeldDelta[] {
  const next = [...held, delta];
  return next.length > MAX_HELD ? next.slice(next.length - MAX_HELD) : next;
}

/** Starts a get_lists call, holding the deltas from the gap on. */
function startSync(state: ListsState, held: HeldDelta[]): ListsStep {
  const request = state.request + 1;
  return { state: { ...state, request, syncing: true, held }, effect: { type: "get_lists", request } };
}

/** Handles deltas in order by the rule; a gap starts a sync holding it and the rest. */
function handle(state: ListsState, deltas: HeldDelta[]): ListsStep {
  let s = state;
  for (let i = 0; i < deltas.length; i++) {
    const d = deltas[i] as HeldDelta;
    if (d.list === "users") {
      const verdict = judgeDelta(s.usersVersion, d.delta.version);
      if (verdict === "gap") return startSync(s, deltas.slice(i));
      if (verdict === "apply") {
        s = { ...s, users: applyUserChanges(s.users, d.delta.upsert, d.delta.remove), usersVersion: d.delta.version };
      }
    } else {
      const verdict = judgeDelta(s.roomsVersion, d.delta.version);
      if (verdict === "gap") return startSync(s, deltas.slice(i));
      if (verdict === "apply") {
        s = { ...s, rooms: applyRoomChanges(s.rooms, d.delta.upsert, d.delta.remove), roomsVersion: d.delta.version };
      }
    }
  }
  return { state: s, effect: null };
}

/** One step: the next state, and what the caller must do. Never mutates. */
export function reduceLists(state: ListsState, action: ListsAction): ListsStep {
  switch (action.type) {
    case "lists":
      return { state: replaceAll(state, action.lists), effect: null };
    case "user_delta":
    case "room_delta": {
      const held: HeldDelta =
        action.type === "user_delta" ? { list: "users", delta: action.delta } : { list: "rooms", delta: action.delta };
      if (state.syncing) return { state: { ...state, held: hold(state.held, held) }, effect: null };
      return handle(state, [held]);
    }
    case "synced":
      // An answer to an older call, or one a lists event or a disconnect overtook.
      if (!state.syncing || action.request !== state.request) return { state, effect: null };
      return handle(replaceAll(state, action.lists), state.held);
    case "sync_failed":
      if (!state.syncing || action.request !== state.request) return { state, effect: null };
      // Still syncing: deltas keep being held until a retry is answered.
      return { state, effect: { type: "retry_later" } };
    case "retry":
      if (!state.syncing) return { state, effect: null };
      return startSync(state, state.held);
    case "disconnected":
      // The next connect's lists event replaces everything anyway.
      return { state: { ...state, syncing: false, held: [] }, effect: null };
    case "users_replaced":
      return { state: { ...state, users: sortUsersByName(action.users) }, effect: null };
    case "rooms_replaced":
      return { state: { ...state, rooms: [...action.rooms] }, effect: null };
  }
}
