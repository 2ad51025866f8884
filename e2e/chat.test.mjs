// Scenarios 1, 2 and 6: chatting both ways, a late joiner, and a message
// that looks like HTML. Also takes the login and desktop screenshots.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HOOK, SCENARIO_TIMEOUT, checkClean, closeAll, conversation, count, launchBrowser, login, loginAs,
  messageBy, messageLog, messageWithText, notice, openUser, screenshot, send, text, visible, roomHeading,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launchBrowser(); }, HOOK);
after(async () => { await browser?.close(); }, HOOK);

test('two users log in with different nicknames and chat both ways', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const anna = await openUser(browser);
  let boris;
  t.after(() => closeAll(anna, boris), HOOK);

  await screenshot(anna.page, 'login.png');
  await login(anna, 'Anna');
  await text(roomHeading(anna.page), 'Default Room', "Anna's room heading");
  await visible(conversation(anna.page).getByText('Your conversation starts here'), '"Your conversation starts here"');
  await visible(anna.page.getByText('You are logged in as Anna', { exact: true }), '"You are logged in as Anna"');

  boris = await loginAs(browser, 'Boris');
  await visible(notice(anna.page, 'Boris', 'joined'), 'Anna sees "Boris has joined the room"');

  await send(anna, 'Hi Boris, welcome to ChatRooms!');
  await visible(messageBy(boris.page, 'Anna', 'Hi Boris, welcome to ChatRooms!'), "Anna's message at Boris");
  assert.equal(await messageBy(boris.page, 'Anna', 'Hi Boris, welcome to ChatRooms!').getAttribute('data-own'), null,
    "Anna's message is not marked own at Boris");

  await send(boris, 'Hello Anna! Nice and quick.');
  await visible(messageBy(anna.page, 'Boris', 'Hello Anna! Nice and quick.'), "Boris's message at Anna");

  await send(anna, 'Messages arrive in order, for everyone in the room.');
  await visible(messageBy(boris.page, 'Anna', 'Messages arrive in order'), "Anna's second message at Boris");
  // Same order on both sides.
  const order = async (page) => (await messageLog(page).getByRole('article').allInnerTexts())
    .map((s) => ['Hi Boris', 'Hello Anna', 'Messages arrive'].findIndex((m) => s.includes(m)))
    .filter((i) => i >= 0);
  assert.deepEqual(await order(anna.page), [0, 1, 2]);
  assert.deepEqual(await order(boris.page), [0, 1, 2]);

  await screenshot(anna.page, 'chat-desktop.png');
  checkClean(anna, boris);
});

test('a user who joins later does not see earlier messages', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const clara = await loginAs(browser, 'Clara');
  const dmitri = await loginAs(browser, 'Dmitri');
  let emil;
  t.after(() => closeAll(clara, dmitri, emil), HOOK);

  await send(clara, 'Before Emil: first');
  await send(dmitri, 'Before Emil: second');
  await visible(messageBy(clara.page, 'Dmitri', 'Before Emil: second'), "Dmitri's message at Clara");

  emil = await loginAs(browser, 'Emil');
  await visible(notice(clara.page, 'Emil', 'joined'), 'Clara sees "Emil has joined the room"');
  await send(clara, 'After Emil joined');
  await visible(messageBy(emil.page, 'Clara', 'After Emil joined'), 'Emil gets the message sent after he joined');
  // The log is live now; the earlier messages must not be in it.
  await count(messageWithText(emil.page, 'Before Emil'), 0, "earlier messages in Emil's log");
  await visible(conversation(emil.page).getByText('Your conversation starts here'), 'Emil sees "Your conversation starts here"');
  checkClean(clara, dmitri, emil);
});

test('a message that looks like HTML is shown as text and runs nothing', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const felix = await loginAs(browser, 'Felix');
  const greta = await loginAs(browser, 'Greta');
  t.after(() => closeAll(felix, greta), HOOK);
  const payload = '<img src=x onerror=alert(1)>';

  await send(felix, payload);
  await visible(messageBy(greta.page, 'Felix', payload), 'the payload as text at Greta');
  await send(felix, 'after the payload'); // a later render pass must not run it either
  await visible(messageBy(greta.page, 'Felix', 'after the payload'), 'the next message at Greta');
  // Give a broken image time to fail and fire onerror, were it an element.
  await greta.page.waitForTimeout(1000);

  for (const u of [felix, greta]) {
    const article = messageBy(u.page, 'Felix', payload);
    assert.ok((await article.textContent()).includes(payload), `${u.name}: the article holds the payload as literal text`);
    const injected = await messageLog(u.page).evaluate((log) => ({
      imgX: [...log.querySelectorAll('img')].filter((i) => i.getAttribute('src') === 'x').length,
      onerror: log.querySelectorAll('[onerror]').length,
    }));
    assert.deepEqual(injected, { imgX: 0, onerror: 0 }, `${u.name}: no <img src=x> or onerror attribute was created in the log`);
    assert.equal(await u.page.locator('img[src="x"], [onerror]').count(), 0, `${u.name}: none anywhere in the document`);
  }
  checkClean(felix, greta); // no alert() dialog, no uncaught error
});
