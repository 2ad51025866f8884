// Scenarios 3 and 4: a room's life (created, joined, deleted when empty)
// and the Active users list with rooms and statuses.
import { after, before, test } from 'node:test';
import {
  HOOK, SCENARIO_TIMEOUT, checkClean, closeAll, conversation, count, createRoom, launchBrowser, loginAs,
  notice, roomButton, send, messageBy, switchRoom, text, userEntry, visible, hidden, roomHeading,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launchBrowser(); }, HOOK);
after(async () => { await browser?.close(); }, HOOK);

test('a room is created, joined by another, and deleted when both leave', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const hanna = await loginAs(browser, 'Hanna');
  const igor = await loginAs(browser, 'Igor');
  t.after(() => closeAll(hanna, igor), HOOK);

  // A taken room name is refused inside the dialog.
  await hanna.page.getByRole('button', { name: 'Add new room', exact: true }).click();
  const dialog = hanna.page.getByRole('dialog', { name: 'Add new room', exact: true });
  await dialog.getByRole('textbox', { name: 'Room name', exact: true }).fill('default room');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await visible(dialog.getByRole('alert'), 'error in the dialog for a taken room name');
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  await hidden(dialog, 'dialog after Cancel');
  await text(roomHeading(hanna.page), 'Default Room', 'Hanna still in Default Room');

  await createRoom(hanna.page, 'Weekend plans', 'Where shall we go?');
  await visible(conversation(hanna.page).getByText('Where shall we go?'), 'the room description');
  await visible(conversation(hanna.page).getByText('Your conversation starts here'), '"Your conversation starts here" in the new room');
  await visible(roomButton(hanna.page, 'Weekend plans').getByText('1 member', { exact: true }), 'Hanna: "1 member"');

  await visible(roomButton(igor.page, 'Weekend plans'), 'the new room in Igor\'s Rooms');
  await visible(roomButton(igor.page, 'Weekend plans').getByText('Where shall we go?'), 'its description in Igor\'s Rooms');
  await switchRoom(igor.page, 'Weekend plans');
  await visible(notice(hanna.page, 'Igor', 'joined'), 'Hanna sees "Igor has joined the room"');
  for (const u of [hanna, igor]) {
    await visible(roomButton(u.page, 'Weekend plans').getByText('2 members', { exact: true }), `${u.name}: "2 members"`);
  }
  await send(igor, 'Hiking?');
  await visible(messageBy(hanna.page, 'Igor', 'Hiking?'), "Igor's message in the new room at Hanna");

  await switchRoom(hanna.page, 'Default Room');
  await visible(notice(igor.page, 'Hanna', 'left'), 'Igor sees "Hanna has left the room"');
  await visible(roomButton(igor.page, 'Weekend plans').getByText('1 member', { exact: true }), 'Igor: "1 member" after Hanna left');
  await switchRoom(igor.page, 'Default Room');
  for (const u of [hanna, igor]) {
    await count(roomButton(u.page, 'Weekend plans'), 0, `${u.name}: the emptied room is gone from Rooms`);
  }
  checkClean(hanna, igor);
});

test('the user list shows the right rooms and statuses', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const jana = await loginAs(browser, 'Jana');
  const karl = await loginAs(browser, 'Karl');
  const lena = await loginAs(browser, 'Lena');
  const mats = await loginAs(browser, 'Mats');
  t.after(() => closeAll(jana, karl, lena, mats), HOOK);

  await createRoom(lena.page, 'Book club', 'This month: Dune');
  await mats.context.close(); // Mats's connection drops: offline within the grace period

  const status = (name, title) => userEntry(jana.page, name).getByTitle(title, { exact: true });
  await visible(status('Karl', 'In your room'), 'Karl "In your room" at Jana');
  await visible(userEntry(jana.page, 'Karl').getByText('In your room', { exact: true }), 'Karl\'s status as text');
  await visible(status('Lena', 'In room: Book club'), 'Lena "In room: Book club" at Jana');
  await visible(status('Mats', 'Offline'), 'Mats "Offline" at Jana');
  await visible(status('Jana', 'In your room'), 'Jana herself "In your room"');
  await visible(userEntry(lena.page, 'Karl').getByTitle('In room: Default Room', { exact: true }), 'Karl "In room: Default Room" at Lena');
  await visible(userEntry(lena.page, 'Jana').getByTitle('In room: Default Room', { exact: true }), 'Jana "In room: Default Room" at Lena');

  await switchRoom(karl.page, 'Book club');
  await visible(status('Karl', 'In room: Book club'), 'Karl "In room: Book club" at Jana after he switched');
  await visible(userEntry(lena.page, 'Karl').getByTitle('In your room', { exact: true }), 'Karl "In your room" at Lena after he switched');
  await visible(jana.page.getByRole('status').getByText('Connected', { exact: true }), 'connection status "Connected"');
  checkClean(jana, karl, lena);
});
