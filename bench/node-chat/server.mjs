// An in-memory Node.js peer of the ChatRooms chat server, for measuring
// `chatload -scenario chat` against it side by side with the Go server
// (scripts/bench-chat.sh). It implements the part of docs/protocol.md that
// the chat scenario drives, with the Go server's rules and JSON shapes:
//
//   POST /api/users {username}          201 {user, token}; 400; 409; 415; 413
//   POST /api/rooms {name, description} 201 Room, the creator moved into it
//   GET  /api/users, /api/users/me, /api/rooms, /api/rooms/{id}, /api/health
//   DELETE /api/users/me                204, the user removed everywhere
//   Socket.IO namespace /chat, auth {token}:
//     on connect: room_list_changed, user_list_changed, current_room_changed
//     switch_room {room_id}                ack {ok, room}
//     send_message {content, client_id?}   ack {ok, message[, duplicate]}
//     chat_message to the room (text, join and leave notices, with seq)
//     room_list_changed / user_list_changed: whole lists, when their content
//     changed, at most one per 250 ms and within 64 KiB/s a client
//
// State lives in this process only (no persistence, no cluster); see
// README.md for what is left out. Everything runs on Node's one thread, so
// a handler's steps happen in order with nothing in between: where the Go
// server needs locks, holds and compare-and-set, this needs nothing.
//
// Usage: node server.mjs [--port N|PORT env] [--host 127.0.0.1]
//          [--presence-grace 60s] [--limit-messages 5/1s:20|off]
//          [--limit-room-switches 2/1s:10|off] [--list-interval 250ms]
//          [--list-budget 65536 (bytes/s; 0: none)]
// Port 0 picks a free one; the address is printed on stdout as
// "listening on http://HOST:PORT".

import crypto from 'node:crypto';
import http from 'node:http';
import process from 'node:process';
import { Server } from 'socket.io';

// ---------------------------------------------------------------- options

/** parseDuration reads a Go-style duration ("250ms", "10m", "1h30m") in ms. */
function parseDuration(s) {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let m;
  let end = 0;
  while ((m = re.exec(s)) !== null) {
    ms += Number(m[1]) * unit[m[2]];
    end = re.lastIndex;
  }
  if (end !== s.length || end === 0) throw new Error(`bad duration ${JSON.stringify(s)}`);
  return ms;
}

/** parseLimit reads "N/period:burst" (the Go server's flag syntax) or "off". */
function parseLimit(s) {
  if (s === 'off') return null;
  const m = /^(\d+)\/([0-9.a-z]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`bad limit ${JSON.stringify(s)}: want N/period:burst or off`);
  return { perMs: Number(m[1]) / parseDuration(m[2]), burst: Number(m[3]) };
}

function parseArgs(argv) {
  const o = {
    port: process.env.PORT ?? '8080',
    host: '127.0.0.1',
    'presence-grace': '60s',
    'limit-messages': '5/1s:20',
    'limit-room-switches': '2/1s:10',
    'list-interval': '250ms',
    'list-budget': '65536',
  };
  for (let i = 0; i < argv.length; i++) {
    let [k, v] = argv[i].replace(/^--?/, '').split(/=(.*)/s);
    if (!(k in o) || !argv[i].startsWith('-')) throw new Error(`unknown argument ${argv[i]}`);
    if (v === undefined) v = argv[++i];
    if (v === undefined) throw new Error(`--${k} needs a value`);
    o[k] = v;
  }
  return {
    port: Number(o.port),
    host: o.host,
    graceMs: parseDuration(o['presence-grace']),
    messageLimit: parseLimit(o['limit-messages']),
    switchLimit: parseLimit(o['limit-room-switches']),
    listIntervalMs: parseDuration(o['list-interval']),
    listBudget: Number(o['list-budget']), // bytes of whole lists a second a client; 0: no budget
  };
}

const cfg = parseArgs(process.argv.slice(2));

// ------------------------------------------------------------ small tools

/** ChatError is a client-visible error: {error: code, message}. */
class ChatError extends Error {
  constructor(code, message, status, retryAfterMs) {
    super(message);
    this.code = code;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  toJSON() {
    const o = { error: this.code, message: this.message };
    if (this.retryAfterMs) o.retry_after_ms = this.retryAfterMs;
    return o;
  }
}

const STATUS = {
  invalid_request: 400, invalid_username: 400, invalid_room: 400, username_taken: 409,
  room_name_taken: 409, room_not_found: 404, unauthorized: 401, unsupported_media_type: 415,
  too_large: 413, rate_limited: 429, not_found: 404, attachment_not_found: 404, invalid_message: 400,
};
const err = (code, message) => new ChatError(code, message, STATUS[code] ?? 500);

// Ids: a prefix and 80 random bits in the Go server's lowercase base32.
const B32 = '0123456789abcdefghjkmnpqrstvwxyz';
function newID(prefix) {
  const b = crypto.randomBytes(10);
  let out = prefix;
  for (let i = 0; i < 10; i += 5) { // 5 bytes = 40 bits = 8 characters
    let v = 0n;
    for (let j = 0; j < 5; j++) v = (v << 8n) | BigInt(b[i + j]);
    for (let j = 7; j >= 0; j--) out += B32[Number((v >> BigInt(5 * j)) & 31n)];
  }
  return out;
}

const hashToken = (t) => crypto.createHash('sha256').update(t).digest('hex');

/**
 * Buckets is a token bucket per key (the Go server's ratelimit.Keyed):
 * perMs tokens a millisecond, at most burst at once. take() answers
 * {ok, retryAfterMs, undo}; undo gives an accepted token back.
 */
class Buckets {
  constructor(limit) {
    this.limit = limit;
    this.m = new Map();
  }

  take(key, now = Date.now()) {
    if (!this.limit) return { ok: true, undo() {} };
    const { perMs, burst } = this.limit;
    let b = this.m.get(key);
    if (!b) {
      b = { tokens: burst, at: now };
      this.m.set(key, b);
    }
    b.tokens = Math.min(burst, b.tokens + (now - b.at) * perMs);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, undo() { b.tokens = Math.min(burst, b.tokens + 1); } };
    }
    return { ok: false, retryAfterMs: Math.max(1, Math.floor((1 - b.tokens) / perMs)) };
  }

  forget(key) { this.m.delete(key); }
}

// ------------------------------------------------------------ name rules
// The Go server's rules (internal/chat/names.go), but for the uniqueness
// key: it compares NFKC + lower case here, not the full TR39 confusable
// skeleton (see README.md).

const WS = /^[\s\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\s\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/gu;
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;
const BIDI = /[\u202a-\u202e\u2066-\u2069]/u;

/** normalizeLine: NFC, trimmed, runs of spaces made one space. */
function normalizeLine(raw) {
  if (typeof raw !== 'string' || !raw.isWellFormed()) return null;
  return raw.normalize('NFC').replace(WS, '').replace(/\p{Zs}+/gu, ' ');
}

function normalizeNickname(raw) {
  const s = normalizeLine(raw);
  const bad = (why) => err('invalid_username', `the nickname ${why}`);
  if (s === null) throw bad('must be valid UTF-8 text');
  const chars = [...s];
  if (chars.length < 3 || chars.length > 24) throw bad('must be 3 to 24 characters');
  let marks = 0;
  let prevLetter = false;
  let alnum = false;
  for (const c of chars) {
    if (INVISIBLE.test(c)) throw bad('must not contain control, format or invisible characters');
    if (/\p{L}/u.test(c)) { prevLetter = true; marks = 0; alnum = true; } else if (/\p{Nd}/u.test(c)) { prevLetter = false; marks = 0; alnum = true; } else if (c === ' ' || c === '_' || c === '-' || c === '.') { prevLetter = false; marks = 0; } else if (/[\p{Mn}\p{Mc}]/u.test(c)) {
      if (!prevLetter || ++marks > 4) throw bad('has combining marks without a letter, or too many');
    } else throw bad("may contain only letters, digits, spaces, '_', '-' and '.'");
  }
  if (!alnum) throw bad('must contain a letter or a digit');
  return s;
}

const nameKey = (s) => s.normalize('NFKC').toLowerCase().replace(/[\ufe0e\ufe0f]/gu, '');

function normalizeRoomText(raw, what, min, max) {
  const s = normalizeLine(raw ?? '');
  const bad = (why) => err('invalid_room', `room ${what}: ${why}`);
  if (s === null) throw bad('must be valid UTF-8 text');
  const n = [...s].length;
  if (n < min || n > max) throw bad(`must be ${min} to ${max} characters`);
  for (const c of s) {
    if (c !== '\u200d' && INVISIBLE.test(c)) throw bad('must be printable text on one line');
  }
  return s;
}

/** normalizeMessage is internal/chat NormalizeMessage. */
function normalizeMessage(raw) {
  const bad = (why) => err('invalid_message', `message: ${why}`);
  if (Buffer.byteLength(raw) > 4 * 2000 + 4096) throw bad('must be at most 2000 characters');
  if (!raw.isWellFormed()) throw bad('must be valid UTF-8 text');
  let s = raw.includes('\r') ? raw.replaceAll('\r\n', '\n').replaceAll('\r', '\n') : raw;
  s = s.replace(WS, '');
  let n = 0;
  let visible = false;
  for (const c of s) {
    n++;
    if (c === '\n' || c === '\t') continue;
    if (/\p{Cc}/u.test(c)) throw bad('must not contain control characters');
    if (BIDI.test(c)) throw bad('must not contain bidi embedding, override or isolate characters');
    if (!visible && !/[\s\p{Cf}\p{Variation_Selector}\p{Default_Ignorable_Code_Point}]/u.test(c)) visible = true;
  }
  if (n === 0 || !visible) throw bad('must not be empty');
  if (n > 2000) throw bad('must be at most 2000 characters');
  return s;
}

const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * strict checks a decoded JSON request like the Go server's strict
 * decoding: an object with only the known fields, each of its type
 * ("string", or "string?" where null is allowed too).
 */
function strict(v, fields) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw err('invalid_request', 'malformed request: expected an object');
  for (const [k, x] of Object.entries(v)) {
    const t = fields[k];
    if (!t) throw err('invalid_request', `malformed request: unknown field "${k}"`);
    if (!(typeof x === 'string' || (x === null && t.endsWith('?')))) throw err('invalid_request', `malformed request: ${k} must be a string`);
  }
  return v;
}

// ------------------------------------------------------------------ state
// users:  id → {id, name, key, tokenHash, createdAt, room, joinSeq,
//               sessions (open sockets), offlineSince (ms; 0 while online)}
// rooms:  id → {id, name, key, description, persistent, createdAt, members (Set of user ids)}
// The maps nicks, tokens and roomNames are the Go server's KV buckets of
// the same names; seq is its room log's sequence (one for all rooms, as
// the ROOMS stream's, so gaps within a room are normal).

const users = new Map();
const nicks = new Map();
const tokens = new Map();
const rooms = new Map();
const roomNames = new Map();
const sockets = new Map(); // user id → Set of that user's /chat sockets
let seq = 0;

// The duplicate window of send_message: "userID:clientID" → {msg, at},
// in insertion (= time) order, entries older than DUP_WINDOW_MS swept.
const DUP_WINDOW_MS = 2 * 60_000;
const sent = new Map();

const messageLimits = new Buckets(cfg.messageLimit);
const switchLimits = new Buckets(cfg.switchLimit);

const PERSISTENT = [
  { id: '_default', name: 'Default Room', description: 'You join here by default' },
  { id: '_test', name: 'Testing', description: 'A room for trying things out' },
];
const persistentOrder = new Map(PERSISTENT.map((r, i) => [r.id, i - PERSISTENT.length]));
for (const r of PERSISTENT) {
  rooms.set(r.id, { ...r, key: nameKey(r.name), persistent: true, createdAt: Date.now(), members: new Set() });
  roomNames.set(nameKey(r.name), r.id);
}

// -------------------------------------------------------------- views
// Field order as the Go server's JSON (User, Room and Message structs).

function roomRef(id) {
  const r = rooms.get(id);
  if (r) return { id: r.id, name: r.name };
  return id ? { id, name: '' } : null;
}

function userView(u, online = u.sessions > 0, currentRoom = roomRef(u.room)) {
  return { id: u.id, name: u.name, avatar_url: `/api/avatars/users/${u.id}.svg`, online, current_room: currentRoom, created_at: u.createdAt };
}

function roomView(r) {
  return { id: r.id, name: r.name, description: r.description, persistent: r.persistent, avatar_url: `/api/avatars/rooms/${r.id}.svg`, member_count: r.members.size };
}

/** userList: everyone present, by name (GET /api/users, user_list_changed). */
function userList() {
  const out = [];
  for (const u of users.values()) out.push(userView(u));
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** roomList: persistent rooms first, then by creation. */
function roomList() {
  return [...rooms.values()].sort((a, b) => (persistentOrder.get(a.id) ?? 0) - (persistentOrder.get(b.id) ?? 0) ||
    a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(roomView);
}

// ------------------------------------------------------------ list updates
// As the Go gateway's Run loop (internal/realtime/lists.go), for clients of
// whole lists (its "full" mode, the default and what chatload uses): a
// change marks its list; at most once per list interval (250 ms) the marked
// lists are recomputed, each item encoded and compared with the last
// snapshot; a list whose content changed (not merely its order) goes out
// whole to every /chat socket, the room list first. After a broadcast of B
// bytes the next one waits at least B / list budget (64 KiB/s a client), so
// a 400 KB user list goes about every 6 s. A change to a room also changes
// the user list (users show their room's name), as in the Go server.
// --list-budget 0 turns the budget off (then only the 250 ms apply).

/** snapshot is one list as last computed: its items encoded, by id, in order. */
function snapshot() {
  return { ids: [], items: new Map(), views: [] };
}

/** update makes list the snapshot; true if an item is new, changed or gone. */
function update(snap, list) {
  const ids = new Array(list.length);
  const items = new Map();
  let changed = false;
  for (let i = 0; i < list.length; i++) {
    const b = JSON.stringify(list[i]);
    ids[i] = list[i].id;
    items.set(ids[i], b);
    if (!changed && snap.items.get(ids[i]) !== b) changed = true;
  }
  if (!changed) for (const id of snap.ids) if (!items.has(id)) { changed = true; break; }
  snap.ids = ids;
  snap.items = items;
  snap.views = list;
  return changed;
}

const snaps = { users: snapshot(), rooms: snapshot() };
update(snaps.rooms, roomList()); // the baseline: the persistent rooms, no users
let usersDirty = false;
let roomsDirty = false;
let listsOwed = false; // a change is not diffed yet
let fullUsers = false; // a changed list is not broadcast yet
let fullRooms = false;
let diffAt = 0; // earliest next diff (ms)
let fullAt = 0; // earliest next broadcast (ms)
let listTimer = null;

const budgetWait = (bytes) => Math.max(cfg.listIntervalMs, cfg.listBudget > 0 ? (bytes * 1000) / cfg.listBudget : 0);

function listsChanged(usersToo, roomsToo) {
  usersDirty ||= usersToo;
  roomsDirty ||= roomsToo;
  listsOwed = true;
  if (!listTimer) scheduleLists();
}

function scheduleLists() {
  let next = Infinity;
  if (listsOwed) next = diffAt;
  if (fullUsers || fullRooms) next = Math.min(next, fullAt);
  if (next !== Infinity) listTimer = setTimeout(listTick, Math.max(0, next - Date.now()));
}

function listTick() {
  listTimer = null;
  const now = Date.now();
  if (listsOwed && now >= diffAt) {
    listsOwed = false;
    if (roomsDirty && update(snaps.rooms, roomList())) fullRooms = true;
    if (usersDirty && update(snaps.users, userList())) fullUsers = true;
    roomsDirty = usersDirty = false;
    diffAt = now + budgetWait(0); // (the Go server's delta clients would count here)
  }
  if ((fullUsers || fullRooms) && now >= fullAt) {
    let sent = 0;
    if (chat.sockets.size > 0) {
      // One broadcast each: Socket.IO encodes the packet once for all
      // sockets (the Go server reuses the snapshot's encoding instead).
      if (fullRooms) sent += broadcastList('room_list_changed', snaps.rooms);
      if (fullUsers) sent += broadcastList('user_list_changed', snaps.users);
    }
    fullUsers = fullRooms = false;
    fullAt = now + budgetWait(sent);
  }
  scheduleLists();
}

function broadcastList(event, snap) {
  chat.emit(event, snap.views);
  let n = 2 + Math.max(0, snap.ids.length - 1);
  for (const b of snap.items.values()) n += Buffer.byteLength(b);
  return n;
}

const usersChanged = () => listsChanged(true, false);
const roomsChanged = () => listsChanged(true, true);

// ------------------------------------------------------------- chat rules

const roomKey = (id) => `room:${id}`;

/**
 * append gives a room event its seq and delivers it (the Go server's
 * Append to the room log, then RoomEvent on every node). A join moves the
 * joiner's sockets into the room first (they see their own join, nothing
 * before it) and announces the room to them after it; a leave is
 * delivered before the leaver's sockets leave.
 */
function append(m) {
  m.seq = ++seq;
  const key = roomKey(m.room_id);
  let moved = null;
  if (m.type === 1) {
    moved = sockets.get(m.user.id);
    for (const s of moved ?? []) {
      for (const r of s.rooms) if (r !== key && r !== s.id) s.leave(r);
      s.join(key);
    }
  }
  chat.to(key).emit('chat_message', m);
  if (m.type === 2) for (const s of sockets.get(m.user.id) ?? []) s.leave(key);
  if (moved?.size) {
    const r = rooms.get(m.room_id);
    const view = r ? roomView(r) : { id: m.room_id, name: m.user.current_room?.name ?? '' };
    for (const s of moved) s.emit('current_room_changed', view);
  }
  return m.seq;
}

function notice(u, room, type) {
  const online = type === 1 || u.sessions > 0;
  const view = userView(u, online, type === 1 ? { id: room.id, name: room.name } : null);
  return append({ id: newID('m'), room_id: room.id, seq: 0, type, timestamp: Date.now(), user: view });
}

/** joinRoom adds u to room's members and appends the join notice. */
function joinRoom(u, room) {
  room.members.add(u.id);
  roomsChanged();
  const view = roomView(room);
  return { view, joinSeq: notice(u, room, 1) };
}

/** leaveRoom removes u from the room, deleting it if it was the last member. */
function leaveRoom(u, roomId) {
  const room = rooms.get(roomId);
  if (!room || !room.members.delete(u.id)) return;
  const gone = room.members.size === 0 && !room.persistent;
  if (gone) rooms.delete(roomId);
  roomsChanged();
  notice(u, room, 2);
  if (gone && roomNames.get(room.key) === roomId) roomNames.delete(room.key);
}

function register(raw) {
  const name = normalizeNickname(raw);
  const key = nameKey(name);
  if (nicks.has(key)) throw err('username_taken', `the nickname "${name}" is taken`);
  const id = newID('u');
  const token = crypto.randomBytes(32).toString('base64url');
  const now = Date.now();
  const u = { id, name, key, tokenHash: hashToken(token), createdAt: now, room: '', joinSeq: 0, sessions: 0, offlineSince: now };
  nicks.set(key, id);
  tokens.set(u.tokenHash, id);
  users.set(id, u);
  usersChanged();
  const { joinSeq } = joinRoom(u, rooms.get(PERSISTENT[0].id));
  u.room = PERSISTENT[0].id;
  u.joinSeq = joinSeq;
  usersChanged();
  return { user: userView(u), token };
}

function authenticate(token) {
  const id = typeof token === 'string' && token && token.length <= 128 ? tokens.get(hashToken(token)) : undefined;
  const u = id && users.get(id);
  if (!u) throw err('unauthorized', 'missing or invalid token');
  return u;
}

/** switchRoom joins the new room first, then points the user at it, then leaves the old one. */
function switchRoom(u, roomId) {
  const room = typeof roomId === 'string' ? rooms.get(roomId) : undefined;
  if (!room) throw err('room_not_found', 'no such room');
  if (u.room === roomId) return roomView(room);
  const { view, joinSeq } = joinRoom(u, room);
  const old = u.room;
  u.room = roomId;
  u.joinSeq = joinSeq;
  usersChanged();
  if (old && old !== roomId) leaveRoom(u, old);
  return view;
}

function createRoom(u, rawName, rawDesc) {
  const name = normalizeRoomText(rawName, 'name', 1, 40);
  const description = normalizeRoomText(rawDesc, 'description', 0, 200);
  const key = nameKey(name);
  if (roomNames.has(key)) throw err('room_name_taken', `a room called "${name}" exists`);
  const id = newID('r');
  roomNames.set(key, id);
  rooms.set(id, { id, name, key, description, persistent: false, createdAt: Date.now(), members: new Set() });
  roomsChanged();
  return switchRoom(u, id);
}

/** removeUser: logout or expiry; the nickname and token go first, then the room. */
function removeUser(u) {
  users.delete(u.id);
  if (nicks.get(u.key) === u.id) nicks.delete(u.key);
  tokens.delete(u.tokenHash);
  usersChanged();
  if (u.room) leaveRoom(u, u.room);
  messageLimits.forget(u.id);
  switchLimits.forget(u.id);
  for (const s of sockets.get(u.id) ?? []) s.disconnect();
}

/**
 * sendMessage is the Go server's SendMessage (attachments aside): checks,
 * the rate limit, then the room log, where a repeated client_id within
 * two minutes is answered with the original and delivers nothing.
 */
function sendMessage(u, req) {
  const clientID = req.client_id ?? '';
  if (req.client_id != null && !CLIENT_ID.test(clientID)) throw err('invalid_request', 'client_id must be 1 to 64 characters of A-Z a-z 0-9 _ -');
  let content = '';
  if (!req.attachment_id || (req.content ?? '').trim() !== '') content = normalizeMessage(req.content ?? '');
  if (req.attachment_id) throw err('attachment_not_found', 'no such attachment, or it expired');
  const lim = messageLimits.take(u.id);
  if (!lim.ok) throw new ChatError('rate_limited', 'you are sending messages too fast', 429, lim.retryAfterMs);
  if (!users.has(u.id)) throw err('unauthorized', 'not logged in');
  if (!u.room) throw err('room_not_found', 'you are in no room');
  const now = Date.now();
  const dupKey = clientID && `${u.id}:${clientID}`;
  if (dupKey) {
    const prev = sent.get(dupKey);
    if (prev && now - prev.at < DUP_WINDOW_MS) {
      lim.undo();
      return { message: prev.msg, duplicate: true };
    }
  }
  const m = { id: newID('m'), room_id: u.room, seq: 0, type: 0, timestamp: now, sender: userView(u, true), content };
  if (clientID) m.client_id = clientID;
  append(m);
  if (dupKey) {
    sent.delete(dupKey); // re-inserted at the end: the map stays in time order
    sent.set(dupKey, { msg: m, at: now });
  }
  return { message: m };
}

/** sweep (every second): expired users, empty rooms, the duplicate window. */
function sweep() {
  const now = Date.now();
  for (const u of users.values()) {
    if (u.sessions === 0 && u.offlineSince > 0 && now - u.offlineSince >= cfg.graceMs) removeUser(u);
  }
  for (const r of rooms.values()) {
    if (!r.persistent && r.members.size === 0 && now - r.createdAt >= cfg.graceMs) {
      rooms.delete(r.id);
      if (roomNames.get(r.key) === r.id) roomNames.delete(r.key);
      roomsChanged();
    }
  }
  for (const [k, v] of sent) {
    if (now - v.at < DUP_WINDOW_MS) break;
    sent.delete(k);
  }
}
setInterval(sweep, 1000).unref();

// ------------------------------------------------------------------- HTTP

const MAX_BODY = 16 << 10;

function writeJSON(res, status, v) {
  const b = JSON.stringify(v) + '\n';
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(b),
  });
  res.end(b);
}

function fail(res, e) {
  if (!(e instanceof ChatError)) {
    console.error('internal error:', e);
    e = new ChatError('internal_error', 'something went wrong', 500);
  }
  if (e.retryAfterMs) res.setHeader('Retry-After', String(Math.ceil(e.retryAfterMs / 1000)));
  writeJSON(res, e.status, e);
}

/** readJSON: application/json (charset utf-8 at most), ≤ 16 KiB, one JSON value. */
async function readJSON(req) {
  const [type, ...params] = (req.headers['content-type'] ?? '').split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replaceAll('"', '');
  if (type !== 'application/json' || (charset !== undefined && charset !== 'utf-8')) {
    req.resume();
    throw err('unsupported_media_type', 'the request body must be application/json');
  }
  const chunks = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > MAX_BODY) {
      req.resume();
      throw err('too_large', 'the request body is over 16 KiB');
    }
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw err('invalid_request', 'malformed JSON');
  }
}

function bearer(req) {
  const m = /^bearer +([^ ]+)$/i.exec(req.headers.authorization ?? '');
  return authenticate(m?.[1]);
}

async function handle(req, res) {
  const path = new URL(req.url, 'http://x').pathname;
  const route = `${req.method} ${path}`;
  try {
    switch (route) {
      case 'GET /api/health':
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        return res.end('OK');
      case 'POST /api/users': {
        const body = strict(await readJSON(req), { username: 'string' });
        return writeJSON(res, 201, register(body.username ?? ''));
      }
      case 'GET /api/users':
        return writeJSON(res, 200, userList());
      case 'GET /api/users/me':
        return writeJSON(res, 200, userView(bearer(req)));
      case 'DELETE /api/users/me':
        removeUser(bearer(req));
        res.writeHead(204, { 'Cache-Control': 'no-store' });
        return res.end();
      case 'GET /api/rooms':
        return writeJSON(res, 200, roomList());
      case 'POST /api/rooms': {
        const u = bearer(req);
        const body = strict(await readJSON(req), { name: 'string', description: 'string' });
        return writeJSON(res, 201, createRoom(u, body.name ?? '', body.description ?? ''));
      }
      default: {
        const m = /^\/api\/rooms\/([^/]+)$/.exec(path);
        const r = req.method === 'GET' && m && rooms.get(decodeURIComponent(m[1]));
        if (r) return writeJSON(res, 200, roomView(r));
        if (m && req.method === 'GET') throw err('room_not_found', 'no such room');
        throw err('not_found', 'no such endpoint');
      }
    }
  } catch (e) {
    return fail(res, e);
  }
}

const server = http.createServer({ headersTimeout: 10_000, keepAliveTimeout: 120_000 }, (req, res) => {
  handle(req, res).catch((e) => fail(res, e));
});

// -------------------------------------------------------------- Socket.IO
// Engine.IO settings as the Go server's defaults: ping every 25 s, 20 s
// timeout, 1 MB payloads; no compression, no connection state recovery.

const io = new Server(server, {
  serveClient: false,
  pingInterval: 25_000,
  pingTimeout: 20_000,
  maxHttpBufferSize: 1_000_000,
  perMessageDeflate: false,
  httpCompression: false,
});
const chat = io.of('/chat');

// The CONNECT's auth payload must carry a known token; else connect_error
// "invalid_token" with data {error, message}.
chat.use((socket, next) => {
  try {
    socket.data.userID = authenticate(socket.handshake.auth?.token).id;
    next();
  } catch {
    const e = new Error('invalid_token');
    e.data = { error: 'invalid_token', message: 'the token is missing, invalid or expired' };
    next(e);
  }
});

chat.on('connection', (socket) => {
  const u = users.get(socket.data.userID);
  if (!u) return socket.disconnect(); // removed between the check and now
  // Online (again): the user keeps nickname and room.
  u.sessions++;
  u.offlineSince = 0;
  usersChanged();
  let set = sockets.get(u.id);
  if (!set) sockets.set(u.id, (set = new Set()));
  set.add(socket);
  // The three events on connect, in order; then live room events only
  // (nothing can run in between on this one thread).
  if (u.room) socket.join(roomKey(u.room));
  socket.emit('room_list_changed', roomList());
  socket.emit('user_list_changed', userList());
  const r = rooms.get(u.room);
  if (r) socket.emit('current_room_changed', roomView(r));

  // call wraps a client call: one object argument, answered by its ack with
  // {ok: true, ...} or the error object.
  const call = (event, fields, fn) => socket.on(event, (...args) => {
    const ack = typeof args.at(-1) === 'function' ? args.pop() : () => {};
    const me = users.get(socket.data.userID);
    try {
      if (args.length !== 1) throw err('invalid_request', 'expected one object argument');
      if (!me) throw err('unauthorized', 'not logged in');
      ack({ ok: true, ...fn(me, strict(args[0], fields)) });
    } catch (e) {
      if (!(e instanceof ChatError)) console.error(`${event}:`, e);
      ack(e instanceof ChatError ? e.toJSON() : { error: 'internal_error', message: 'something went wrong' });
    }
  });

  call('send_message', { content: 'string', attachment_id: 'string', alt: 'string', client_id: 'string?' }, sendMessage);
  call('switch_room', { room_id: 'string' }, (me, req) => {
    const lim = switchLimits.take(me.id);
    if (!lim.ok) throw new ChatError('rate_limited', 'you are switching rooms too fast', 429, lim.retryAfterMs);
    return { room: switchRoom(me, req.room_id) };
  });

  socket.on('disconnect', () => {
    set.delete(socket);
    if (set.size === 0 && sockets.get(u.id) === set) sockets.delete(u.id);
    if (users.get(u.id) !== u) return; // removed already
    u.sessions = Math.max(0, u.sessions - 1);
    if (u.sessions === 0) u.offlineSince = Date.now(); // the grace period starts
    usersChanged();
  });
});

// ------------------------------------------------------------ start, stop

server.listen(cfg.port, cfg.host, () => {
  const a = server.address();
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  process.stdout.write(`listening on http://${host}:${a.port}\n`);
});

function stop(sig) {
  process.stderr.write(`${sig}: shutting down\n`);
  io.close(() => process.exit(0)); // closes the sockets and the HTTP server
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
