// Scenarios 5, 7 and 8: a taken nickname, a reload keeping the session,
// and logout freeing the nickname.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HOOK, SCENARIO_TIMEOUT, checkClean, closeAll, conversation, count, launchBrowser, login, loginAs, messageBy,
  nicknameError, notice, openUser, roomHeading, send, submitNickname, switchRoom, text, visible, hidden,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launchBrowser(); }, HOOK);
after(async () => { await browser?.close(); }, HOOK);

test('a taken nickname gives the error', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const nora = await loginAs(browser, 'Nora');
  const other = await openUser(browser);
  t.after(() => closeAll(nora, other), HOOK);
  const alert = other.page.getByRole('alert');

  for (const name of ['Nora', 'NORA', 'Nоra' /* Cyrillic о */]) {
    await submitNickname(other.page, name);
    await text(alert, 'That nickname is taken', `error for ${JSON.stringify(name)}`);
    assert.equal(await conversation(other.page).count(), 0, `no chat screen for ${JSON.stringify(name)}`);
  }
  const invalid = await nicknameError('ab');
  assert.equal(invalid.error, 'invalid_username');
  await submitNickname(other.page, 'ab');
  await text(alert, invalid.message, 'error for the invalid nickname "ab" (the server\'s message)');

  await login(other, 'Oskar');
  checkClean(nora, other);
});

test('a reload keeps the session', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const paula = await loginAs(browser, 'Paula');
  const quentin = await loginAs(browser, 'Quentin');
  t.after(() => closeAll(paula, quentin), HOOK);
  await switchRoom(paula.page, 'Testing');
  await switchRoom(quentin.page, 'Testing');
  await send(paula, 'Before the reload');

  await paula.page.reload();
  await visible(conversation(paula.page), 'chat screen after the reload');
  assert.equal(await paula.page.getByRole('textbox', { name: 'Nickname', exact: true }).count(), 0, 'no login form after the reload');
  await visible(paula.page.getByText('You are logged in as Paula', { exact: true }), '"You are logged in as Paula" after the reload');
  await text(roomHeading(paula.page), 'Testing', 'still in Testing after the reload');

  await send(paula, 'After the reload');
  await visible(messageBy(quentin.page, 'Paula', 'After the reload'), "Quentin gets Paula's message after her reload");
  // Within the grace period a reconnect is silent: no leave or join notice.
  await count(notice(quentin.page, 'Paula', 'left'), 0, 'no "Paula has left" notice at Quentin');
  checkClean(paula, quentin);
});

test('logout frees the nickname', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const rosa = await loginAs(browser, 'Rosa');
  const witness = await loginAs(browser, 'Stefan');
  let again;
  t.after(() => closeAll(rosa, witness, again), HOOK);

  await rosa.page.getByRole('button', { name: 'Logout', exact: true }).click();
  await visible(rosa.page.getByRole('textbox', { name: 'Nickname', exact: true }), 'login form after logout');
  await hidden(conversation(rosa.page), 'chat screen after logout');
  await visible(notice(witness.page, 'Rosa', 'left'), 'Stefan sees "Rosa has left the room"');

  again = await loginAs(browser, 'Rosa'); // another browser takes the freed nickname
  await visible(again.page.getByText('You are logged in as Rosa', { exact: true }), 'the new Rosa is logged in');

  await rosa.page.reload(); // the logged-out tab stays logged out
  await visible(rosa.page.getByRole('textbox', { name: 'Nickname', exact: true }), 'login form after reloading the logged-out tab');
  checkClean(rosa, witness, again);
});
