// Scenario 9: the phone layout (375×812): sidebars hidden behind "Show
// rooms" / "Show users", switching rooms works. Takes the phone screenshots.
import { after, before, test } from 'node:test';
import {
  HOOK, PHONE, SCENARIO_TIMEOUT, checkClean, closeAll, conversation, expectShown, infoAside, launchBrowser,
  loginAs, messageBy, roomButton, roomHeading, roomsNav, screenshot, shown, send, text, userEntry, visible,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launchBrowser(); }, HOOK);
after(async () => { await browser?.close(); }, HOOK);

test('the phone layout hides the sidebars and switching rooms works', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const desk = await loginAs(browser, 'Theo');
  const phone = await loginAs(browser, 'Ulla', { viewport: PHONE, phone: true });
  t.after(() => closeAll(desk, phone), HOOK);
  const { page } = phone;

  await expectShown(page, roomsNav(page), false, 'Rooms nav on a phone');
  await expectShown(page, infoAside(page), false, 'Info sidebar on a phone');
  await expectShown(page, conversation(page), true, 'conversation on a phone');
  await send(desk, 'Hello from a desktop');
  await visible(messageBy(page, 'Theo', 'Hello from a desktop'), "Theo's message on the phone");
  await send(phone, 'Hi from my phone');
  await visible(messageBy(desk.page, 'Ulla', 'Hi from my phone'), "Ulla's message at Theo");
  await screenshot(page, 'phone.png');

  const showRooms = page.getByRole('button', { name: 'Show rooms', exact: true });
  await showRooms.click();
  await expectShown(page, roomsNav(page), true, 'Rooms nav after "Show rooms"');
  await screenshot(page, 'phone-rooms.png');
  await page.keyboard.press('Escape');
  await expectShown(page, roomsNav(page), false, 'Rooms nav after Escape');

  await showRooms.click();
  await expectShown(page, roomsNav(page), true, 'Rooms nav after "Show rooms" again');
  await roomButton(page, 'Testing').click();
  await text(roomHeading(page), 'Testing', 'heading after switching to Testing on the phone');
  // The drawer may close by itself on a choice; if not, Escape closes it.
  if (await shown(page, roomsNav(page))) await page.keyboard.press('Escape');
  await expectShown(page, roomsNav(page), false, 'Rooms nav after choosing a room');
  await expectShown(page, roomHeading(page), true, 'the Testing heading');

  await page.getByRole('button', { name: 'Show users', exact: true }).click();
  await expectShown(page, infoAside(page), true, 'Info sidebar after "Show users"');
  await visible(userEntry(page, 'Theo').getByTitle('In room: Default Room', { exact: true }), 'Theo "In room: Default Room" on the phone');
  await page.keyboard.press('Escape');
  await expectShown(page, infoAside(page), false, 'Info sidebar after Escape');
  checkClean(desk, phone);
});
