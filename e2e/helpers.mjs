// Shared helpers for the end-to-end scenarios. Everything is found by role
// and accessible name as docs/web-ui.md promises, never by CSS class.
// Every wait is bounded by TIMEOUT (or the explicit timeout given).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the scenarios through e2e_test.go (make e2e)`);
  return v;
}

export const BASE_URL = required('BASE_URL');
const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';

/** Bound of every single wait, in ms. */
export const TIMEOUT = 10_000;
/** Bound of one scenario (node:test `timeout`), in ms. */
export const SCENARIO_TIMEOUT = 120_000;
/** Bound of a before/after hook (launching or closing a browser or contexts), in ms. */
export const HOOK = { timeout: 60_000 };

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 812 };

/**
 * Launches Debian's Chromium. Playwright gives each launch a fresh
 * temporary profile (under TMPDIR, which e2e_test.go points at a directory
 * of its own) and removes it on close.
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * A person using the app: one browser context (own storage, so own
 * session), one page. `dialogs` records every alert/confirm/prompt the
 * page opened (there should never be one), `pageErrors` every uncaught
 * exception and `cspViolations` what the Content-Security-Policy blocked.
 */
export async function openUser(browser, { viewport = DESKTOP, phone = false } = {}) {
  const context = await browser.newContext({
    viewport,
    ...(phone ? { deviceScaleFactor: 2, isMobile: true, hasTouch: true } : {}),
  });
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  const page = await context.newPage();
  const user = { context, page, dialogs: [], pageErrors: [], cspViolations: [], name: '' };
  page.on('dialog', (d) => {
    user.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => user.pageErrors.push(String(e)));
  // The server's Content-Security-Policy is in force: Chromium reports
  // what it blocks on the console.
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) user.cspViolations.push(m.text());
  });
  await page.goto(BASE_URL);
  return user;
}

/** Opens a context and logs in as name. */
export async function loginAs(browser, name, opts) {
  const user = await openUser(browser, opts);
  await login(user, name);
  return user;
}

/** Fills the login form and waits for the chat screen. */
export async function login(user, name) {
  const { page } = user;
  await visible(page.getByRole('heading', { level: 1, name: 'ChatRooms', exact: true }), 'login heading "ChatRooms"');
  await submitNickname(page, name);
  await visible(conversation(page), `chat screen after logging in as ${name}`);
  user.name = name;
}

/** Types a nickname into the login form and submits it with the button. */
export async function submitNickname(page, name) {
  const box = page.getByRole('textbox', { name: 'Nickname', exact: true });
  await box.fill(name);
  await page.getByRole('button', { name: 'Enter', exact: true }).click();
}

export const conversation = (page) => page.getByRole('main', { name: 'Conversation', exact: true });
export const roomsNav = (page) => page.getByRole('navigation', { name: 'Rooms', exact: true });
export const infoAside = (page) => page.getByRole('complementary', { name: 'Info', exact: true });
export const messageLog = (page) => conversation(page).getByRole('log');
export const activeUsers = (page) => page.getByRole('list', { name: 'Active users', exact: true });

/** The button of a room in the Rooms nav (its name starts with the room name). */
export const roomButton = (page, room) =>
  roomsNav(page).getByRole('button', { name: new RegExp(`^${escapeRe(room)}`) });

/** The current room's heading (level 2) in the conversation. */
export const roomHeading = (page) => conversation(page).getByRole('heading', { level: 2 });

/** A text message of sender with text, as an article named "<sender> at HH:MM". */
export const messageBy = (page, sender, text) =>
  messageLog(page)
    .getByRole('article', { name: new RegExp(`^${escapeRe(sender)} at \\d{2}:\\d{2}$`) })
    .filter({ hasText: text });

/** Any article of the log containing text (whoever sent it). */
export const messageWithText = (page, text) => messageLog(page).getByRole('article').filter({ hasText: text });

/** A join or leave notice in the log. */
export const notice = (page, who, what) =>
  messageLog(page).getByText(new RegExp(`\\b${escapeRe(who)} has ${what} the room at \\d{2}:\\d{2}`)).first();

/** The Active users entry of name: the item with an element whose whole text is the name. */
export const userEntry = (page, name) =>
  activeUsers(page).getByRole('listitem').filter({ has: page.getByText(name, { exact: true }) });

/** Sends text with Enter and waits until it is in the sender's own log, marked as own. */
export async function send(user, text) {
  const { page } = user;
  const box = conversation(page).getByRole('textbox', { name: 'Message', exact: true });
  await box.fill(text);
  await box.press('Enter');
  const own = messageBy(page, user.name, text);
  await visible(own, `${user.name}'s own message "${text}"`);
  await attr(own, 'data-own', 'true', `${user.name}'s own message "${text}"`);
}

/** Switches to a room with the Rooms nav and waits for its heading. */
export async function switchRoom(page, room) {
  await roomButton(page, room).click();
  await text(roomHeading(page), room, `heading after switching to ${room}`);
  await attr(roomButton(page, room), 'aria-current', 'true', `room button of ${room}`);
}

/** Creates a room with the "Add new room" dialog; the creator lands in it. */
export async function createRoom(page, name, description) {
  await page.getByRole('button', { name: 'Add new room', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Add new room', exact: true });
  await visible(dialog, '"Add new room" dialog');
  await dialog.getByRole('textbox', { name: 'Room name', exact: true }).fill(name);
  await dialog.getByRole('textbox', { name: 'Description', exact: true }).fill(description);
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await hidden(dialog, `"Add new room" dialog after creating ${name}`);
  await text(roomHeading(page), name, `heading after creating ${name}`);
}

/** Saves a PNG of the page as SCREENSHOT_DIR/name (when SCREENSHOT_DIR is set). */
export async function screenshot(page, name) {
  if (!SCREENSHOT_DIR) return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, name), timeout: TIMEOUT, animations: 'disabled', caret: 'hide' });
}

/** The server's message for a refused nickname, straight from the API. */
export async function nicknameError(name) {
  const res = await fetch(`${BASE_URL}/api/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: name }),
    signal: AbortSignal.timeout(TIMEOUT),
  });
  const body = await res.json();
  if (res.ok) throw new Error(`nickname ${JSON.stringify(name)} was accepted by the API`);
  return body;
}

// ---- bounded assertions ----

/** Waits until locator is visible (exactly one match). */
export async function visible(locator, what, timeout = TIMEOUT) {
  try {
    await locator.waitFor({ state: 'visible', timeout });
  } catch (e) {
    throw new Error(`${what}: not visible within ${timeout} ms (${firstLine(e)})`);
  }
}

/** Waits until locator matches nothing visible. */
export async function hidden(locator, what, timeout = TIMEOUT) {
  try {
    await locator.waitFor({ state: 'hidden', timeout });
  } catch (e) {
    throw new Error(`${what}: still visible after ${timeout} ms (${firstLine(e)})`);
  }
}

/**
 * Repeats check (which throws while the condition is false) every 100 ms
 * until it passes or timeout elapses; then fails with its last error.
 */
export async function eventually(what, check, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not so within ${timeout} ms: ${firstLine(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until locator's text (normalised whitespace) equals want. */
export async function text(locator, want, what, timeout = TIMEOUT) {
  await eventually(
    what,
    async () => {
      const got = norm(await locator.innerText({ timeout: 1000 }));
      if (got !== want) throw new Error(`text is ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    },
    timeout,
  );
}

/** Waits until locator's attribute equals want. */
export async function attr(locator, name, want, what, timeout = TIMEOUT) {
  await eventually(
    `${what} has ${name}=${JSON.stringify(want)}`,
    async () => {
      const got = await locator.getAttribute(name, { timeout: 1000 });
      if (got !== want) throw new Error(`${name} is ${JSON.stringify(got)}`);
    },
    timeout,
  );
}

/** Waits until locator matches exactly n elements. */
export async function count(locator, n, what, timeout = TIMEOUT) {
  await eventually(
    what,
    async () => {
      const got = await locator.count();
      if (got !== n) throw new Error(`${got} found, want ${n}`);
    },
    timeout,
  );
}

/**
 * Whether locator is shown to a sighted user: visible to Playwright and
 * at least partly inside the viewport (an off-canvas drawer pushed out of
 * the viewport counts as hidden).
 */
export async function shown(page, locator) {
  if ((await locator.count()) === 0 || !(await locator.first().isVisible())) return false;
  const box = await locator.first().boundingBox({ timeout: 1000 });
  const vp = page.viewportSize();
  return !!box && box.width > 0 && box.height > 0 &&
    box.x < vp.width && box.x + box.width > 0 && box.y < vp.height && box.y + box.height > 0;
}

export async function expectShown(page, locator, want, what, timeout = TIMEOUT) {
  await eventually(
    `${what} ${want ? 'shown' : 'hidden'}`,
    async () => {
      if ((await shown(page, locator)) !== want) throw new Error(want ? 'it is hidden' : 'it is shown');
    },
    timeout,
  );
}

/** Closes every user's context, ignoring what is already closed. */
export async function closeAll(...users) {
  await Promise.all(users.filter(Boolean).map((u) => u.context.close().catch(() => {})));
}

/** Fails if a page opened a dialog, threw an uncaught exception or broke the CSP. */
export function checkClean(...users) {
  for (const u of users) {
    const who = u.name || 'a user';
    if (u.dialogs.length) throw new Error(`${who}'s page opened dialogs: ${u.dialogs.join('; ')}`);
    if (u.pageErrors.length) throw new Error(`${who}'s page threw: ${u.pageErrors.join('; ')}`);
    if (u.cspViolations.length) throw new Error(`${who}'s page broke the Content-Security-Policy: ${u.cspViolations.join('; ')}`);
  }
}

export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const norm = (s) => s.replace(/\s+/g, ' ').trim();
const firstLine = (e) => String(e?.message ?? e).split('\n')[0];
