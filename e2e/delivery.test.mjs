// Delivery across a lost connection and a reload (issue 12): the outbox,
// resume with replay, the offline banner, Jump to latest, and a refused
// message keeping its text. The network is cut with the DevTools protocol
// (Playwright's setOffline emulates an offline network in Chromium through
// Network.emulateNetworkConditions), which also drops the open WebSocket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DESKTOP, HOOK, PHONE, SCENARIO_TIMEOUT, checkClean, closeAll, conversation, count, createRoom, eventually,
  expectShown, hidden, launchBrowser, loginAs, messageBy, messageLog, send, switchRoom, text, visible,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launchBrowser(); }, HOOK);
after(async () => { await browser?.close(); }, HOOK);

const GAP = 'You may have missed messages while you were offline';
const banner = (page) => conversation(page).getByRole('status');
const messageBox = (page) => conversation(page).getByRole('textbox', { name: 'Message', exact: true });
/** The states a message of ours shows until the server has it. */
const PENDING = /Sending…|Waiting for connection/;

async function setOnline(user, online) {
  await user.context.setOffline(!online);
  if (!online) await text(banner(user.page), 'Offline — reconnecting…', `${user.name}'s offline banner`);
}

/** Sends text and waits until the server has confirmed it (no pending state left). */
async function sendConfirmed(user, msg) {
  await send(user, msg);
  await hidden(messageBy(user.page, user.name, msg).getByText(PENDING), `${user.name}'s "${msg}" confirmed`);
}

/** The texts of the log's articles, in order, among those given. */
async function logOrder(page, texts) {
  const all = await messageLog(page).getByRole('article').allInnerTexts();
  return all.map((t) => texts.find((x) => t.includes(x))).filter(Boolean);
}

/** Two users in a room of their own, so that no other scenario writes in it. */
async function pairInRoom(names, room, secondOptions) {
  const [a, b] = await Promise.all(names.map((n, i) => loginAs(browser, n, i === 1 ? secondOptions : undefined)));
  await createRoom(a.page, room, 'Delivery checks');
  await switchRoom(b.page, room);
  return [a, b];
}

test('a message sent offline arrives once, and what was missed while offline arrives after the reconnect', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const [ada, bert] = await pairInRoom(['Ada', 'Bert'], 'Offline send');
  t.after(() => closeAll(ada, bert), HOOK);
  await sendConfirmed(ada, 'Before the cut');
  await visible(messageBy(bert.page, 'Ada', 'Before the cut'), 'Bert gets "Before the cut"');

  await setOnline(bert, false);
  await messageBox(bert.page).fill('Written offline');
  await messageBox(bert.page).press('Enter');
  const mine = messageBy(bert.page, 'Bert', 'Written offline');
  await visible(mine.getByText('Waiting for connection', { exact: true }), 'Bert\'s message shown at once as waiting');
  await expectShown(bert.page, messageBox(bert.page), true, 'the composer while offline');
  await sendConfirmed(ada, 'Sent while Bert was away');

  await setOnline(bert, true);
  await visible(banner(bert.page).getByText('Back online', { exact: true }), 'Bert\'s banner after the reconnect');
  await hidden(mine.getByText(PENDING), 'Bert\'s message confirmed after the reconnect');
  await visible(messageBy(ada.page, 'Bert', 'Written offline'), 'Ada gets the message written offline');
  await visible(messageBy(bert.page, 'Ada', 'Sent while Bert was away'), 'Bert gets the message sent while he was away');
  await hidden(banner(bert.page).getByText('Back online'), '"Back online" goes after a moment');

  // Once each, in the room's order, and nothing said missing.
  await count(messageBy(ada.page, 'Bert', 'Written offline'), 1, 'the offline message once at Ada');
  await count(mine, 1, 'the offline message once at Bert');
  await count(messageBy(bert.page, 'Ada', 'Sent while Bert was away'), 1, 'the missed message once at Bert');
  const order = ['Before the cut', 'Sent while Bert was away', 'Written offline'];
  assert.deepEqual(await logOrder(bert.page, order), order, 'Bert\'s log in the room\'s order');
  assert.deepEqual(await logOrder(ada.page, order), order, 'Ada\'s log in the room\'s order');
  await count(messageLog(bert.page).getByText(GAP), 0, 'no "may have missed" divider after a resume that worked');
  checkClean(ada, bert);
});

test('a reload keeps the conversation since the join', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const [cleo, dino] = await pairInRoom(['Cleo', 'Dino'], 'Reload room');
  t.after(() => closeAll(cleo, dino), HOOK);
  const before = ['First from Cleo', 'Reply from Dino', 'Second from Cleo'];
  await sendConfirmed(cleo, before[0]);
  await sendConfirmed(dino, before[1]);
  await sendConfirmed(cleo, before[2]);
  await visible(messageBy(dino.page, 'Cleo', before[2]), 'Dino gets Cleo\'s second message');
  const articles = await messageLog(dino.page).getByRole('article').count();

  await dino.page.reload();
  await text(conversation(dino.page).getByRole('heading', { level: 2 }), 'Reload room', 'the room after the reload');
  for (const m of before) await visible(messageLog(dino.page).getByRole('article').filter({ hasText: m }), `"${m}" after the reload`);
  await sendConfirmed(cleo, 'After the reload');
  await visible(messageBy(dino.page, 'Cleo', 'After the reload'), 'Dino gets a message sent after his reload');
  await count(messageLog(dino.page).getByRole('article'), articles + 1, 'every message once after the reload');
  assert.deepEqual(await logOrder(dino.page, [...before, 'After the reload']), [...before, 'After the reload']);
  await count(messageLog(dino.page).getByText(GAP), 0, 'no "may have missed" divider after the reload');
  checkClean(cleo, dino);
});

test('the offline banner shows over the conversation on a desktop and a phone; Logout stays reachable', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const eve = await loginAs(browser, 'Eve', { viewport: DESKTOP });
  const finn = await loginAs(browser, 'Finn', { viewport: PHONE, phone: true });
  t.after(() => closeAll(eve, finn), HOOK);
  for (const user of [eve, finn]) {
    const { page } = user;
    await setOnline(user, false);
    await expectShown(page, banner(page).getByText('Offline — reconnecting…'), true, `${user.name}'s offline banner`);
    await expectShown(page, messageBox(page), true, `${user.name}'s composer while offline`);
    if (user === finn) await page.getByRole('button', { name: 'Show users', exact: true }).click();
    await expectShown(page, page.getByRole('button', { name: 'Logout', exact: true }), true, `${user.name}'s Logout while offline`);
    const logout = await page.getByRole('button', { name: 'Logout', exact: true }).boundingBox();
    const vp = page.viewportSize();
    assert.ok(logout.x >= 0 && logout.x + logout.width <= vp.width && logout.y >= 0, `${user.name}'s Logout is not clipped: ${JSON.stringify(logout)}`);
    if (user === finn) await page.keyboard.press('Escape');
    await setOnline(user, true);
    await visible(banner(page).getByText('Back online', { exact: true }), `${user.name}'s "Back online"`);
    await hidden(banner(page).getByText('Back online'), `${user.name}'s banner goes`);
  }
  checkClean(eve, finn);
});

test('Jump to latest scrolls to the newest message', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  // A short window, so that a dozen lines overflow it.
  const [gus, hugo] = await pairInRoom(['Gus', 'Hugo'], 'Long talk', { viewport: { width: 1280, height: 480 } });
  t.after(() => closeAll(gus, hugo), HOOK);
  for (let i = 1; i <= 12; i++) await send(gus, `Line ${i} of a long talk`);
  await count(messageLog(gus.page).getByText(PENDING), 0, 'all of Gus\'s lines confirmed');
  await visible(messageBy(hugo.page, 'Gus', 'Line 12 of a long talk'), 'Hugo gets the last line');

  const log = messageLog(hugo.page);
  const inView = async (locator) => {
    const [box, area] = await Promise.all([locator.boundingBox(), log.boundingBox()]);
    return !!box && box.y >= area.y - 1 && box.y + box.height <= area.y + area.height + 1;
  };
  // Hugo scrolls up to read, then a new message comes: he stays where he is.
  await log.hover();
  await eventually('Hugo has scrolled up to the first line', async () => {
    await hugo.page.mouse.wheel(0, -2000);
    assert.ok(await inView(messageBy(hugo.page, 'Gus', 'Line 1 of a long talk')), 'line 1 not in view');
  });
  await send(gus, 'The newest message');
  const newest = messageBy(hugo.page, 'Gus', 'The newest message');
  const jump = hugo.page.getByRole('button', { name: /^Jump to latest/ });
  await visible(jump, 'Jump to latest at Hugo');
  assert.equal(await inView(newest), false, 'the newest message is below the view before the jump');

  await jump.click();
  await hidden(jump, 'Jump to latest after the click');
  await eventually('the newest message in view after the jump', async () => assert.ok(await inView(newest)));
  // Still there after the list has rendered again (chat-ui-kit restores its position on re-render).
  await hugo.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.ok(await inView(newest), 'the newest message stays in view');
  checkClean(gus, hugo);
});

test('a refused message keeps its text', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const iris = await loginAs(browser, 'Iris');
  t.after(() => closeAll(iris), HOOK);
  const { page } = iris;
  const box = messageBox(page);
  const send = conversation(page).getByRole('button', { name: 'Send', exact: true });

  // Over the limit: counted, not sent, and left in the composer.
  const long = 'x'.repeat(2001);
  await box.fill(long);
  await visible(conversation(page).getByText('1 character over the limit', { exact: true }), 'the counter past 2,000');
  assert.equal(await send.isDisabled(), true, 'Send is disabled past the limit');
  await box.press('Enter');
  assert.equal(await box.inputValue(), long, 'the 2,001 characters stay in the composer');
  await count(messageLog(page).getByRole('article'), 0, 'nothing sent');
  await box.fill('x'.repeat(1990));
  await visible(conversation(page).getByText('10 characters left', { exact: true }), 'the counter near the limit');

  // Refused by the server: kept in the log with the reason, Retry and Edit; Edit gives the text back.
  const refused = 'abc\u202edef';
  await box.fill(refused);
  await box.press('Enter');
  const mine = messageLog(page).getByRole('article').filter({ hasText: 'Not sent:' });
  await visible(mine, 'the refused message in the log');
  await visible(mine.getByRole('button', { name: 'Retry', exact: true }), 'Retry on the refused message');
  await mine.getByRole('button', { name: 'Edit', exact: true }).click();
  await hidden(mine, 'the refused message taken off the log by Edit');
  await eventually('the refused text back in the composer', async () => assert.equal(await box.inputValue(), refused));
  checkClean(iris);
});

