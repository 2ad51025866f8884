// Images (issue #5): one user attaches an image with the picker and
// another by pasting it; the other user sees the thumbnails and opens one
// in the lightbox. An SVG is refused in words, by the client and, when it
// pretends to be a PNG, by the server; nothing is sent. Also takes the
// lightbox screenshot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import {
  HOOK, SCENARIO_TIMEOUT, TIMEOUT, attr, checkClean, closeAll, conversation, count, createRoom, eventually,
  hidden, launchBrowser, loginAs, messageBy, messageLog, notice, screenshot, send, switchRoom, text, visible,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launchBrowser(); }, HOOK);
after(async () => { await browser?.close(); }, HOOK);

// ---- PNG files made here: RGB, 8 bits, no filter ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid PNG of width × height whose pixel (x, y) is pixel(x, y) = [r, g, b]. */
function makePng(width, height, pixel) {
  const row = width * 3 + 1;
  const raw = Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    raw[y * row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw.set([r, g, b], y * row + 1 + x * 3);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter method, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const mix = (a, b, t) => Math.round(a + (b - a) * Math.max(0, Math.min(1, t)));

/** 480 × 320 (3:2): a harbour at dusk, sky, sun and sea. */
const HARBOUR = makePng(480, 320, (x, y) => {
  const horizon = 200;
  const sun = Math.hypot(x - 330, y - 170) < 34;
  if (y < horizon) {
    if (sun) return [255, 214, 120];
    const t = y / horizon;
    return [mix(62, 250, t), mix(44, 140, t), mix(110, 90, t)];
  }
  const t = (y - horizon) / (320 - horizon);
  const glint = Math.abs(x - 330) < 40 - t * 20 && (y >> 2) % 3 === 0;
  if (glint) return [250, 190, 110];
  return [mix(40, 14, t), mix(60, 30, t), mix(110, 60, t)];
});

/** 200 × 300 (2:3): a portrait, stripes of colour. */
const PORTRAIT = makePng(200, 300, (x, y) => (((x + y) >> 4) % 2 ? [46, 125, 50] : [200, 230, 201]));

const SVG = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30" fill="teal"/></svg>',
);

// ---- the composer ----

const attachButton = (page) => conversation(page).getByRole('button', { name: 'Attach image', exact: true });
const messageBox = (page) => conversation(page).getByRole('textbox', { name: 'Message', exact: true });
const sendButton = (page) => conversation(page).getByRole('button', { name: 'Send', exact: true });
const previewImage = (page, name = 'Image to send') => conversation(page).getByRole('img', { name, exact: true });
const composerAlert = (page) => conversation(page).getByRole('alert');
const removeButton = (page) => conversation(page).getByRole('button', { name: 'Remove attachment', exact: true });
const altBox = (page) => conversation(page).getByRole('textbox', { name: 'Image description', exact: true });

/** Clicks the paperclip and gives the file picker that opens a file. */
async function pickFile(page, file) {
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser', { timeout: TIMEOUT }),
    attachButton(page).click(),
  ]);
  await chooser.setFiles(file, { timeout: TIMEOUT });
}

/** Pastes a PNG into the message box, as the clipboard would hand it over. */
async function pastePng(page, name, png) {
  await messageBox(page).evaluate((box, { name, b64 }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], name, { type: 'image/png' }));
    box.focus();
    box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, { name, b64: png.toString('base64') });
}

/** Waits until an img has loaded and returns its natural size. */
async function loaded(img, what) {
  return eventually(`${what} loaded`, async () => {
    const size = await img.evaluate((el) => ({ complete: el.complete, width: el.naturalWidth, height: el.naturalHeight }),
      undefined, { timeout: 1000 });
    if (!size.complete || size.width === 0) throw new Error(`naturalWidth ${size.width}`);
    return size;
  });
}

async function isFocused(locator) {
  return locator.evaluate((el) => el === document.activeElement, undefined, { timeout: 1000 });
}

/** The box of a thumbnail button, to check its aspect ratio. */
async function ratioOf(locator) {
  const box = await locator.boundingBox({ timeout: TIMEOUT });
  assert.ok(box && box.height > 0, 'the thumbnail has a box');
  return box.width / box.height;
}

test('an image sent with the picker and one pasted reach the other user, who opens it', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const vera = await loginAs(browser, 'Vera');
  const walter = await loginAs(browser, 'Walter');
  t.after(() => closeAll(vera, walter), HOOK);
  await createRoom(vera.page, 'Photos', 'Pictures from the trip');
  await switchRoom(walter.page, 'Photos');
  await visible(notice(vera.page, 'Walter', 'joined'), 'Vera sees Walter join Photos');

  // 1. The paperclip: upload at once (slowed down, so that its progress
  // bar can be seen), then the preview with its description field.
  const cdp = await vera.context.newCDPSession(vera.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2_000, // bytes/s: about 2 s for this upload
  });
  await pickFile(vera.page, { name: 'harbour.png', mimeType: 'image/png', buffer: HARBOUR });
  const progress = conversation(vera.page).getByRole('progressbar', { name: 'Uploading image', exact: true });
  await visible(progress, 'the progress bar of the upload');
  const percent = Number(await progress.getAttribute('aria-valuenow', { timeout: TIMEOUT }));
  assert.ok(percent >= 0 && percent <= 100, `aria-valuenow ${percent} is a percentage`);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await cdp.detach();
  const preview = previewImage(vera.page);
  await visible(preview, "Vera's preview of harbour.png");
  await loaded(preview, "Vera's preview");
  await hidden(progress, 'the progress bar once the upload is done');
  await visible(removeButton(vera.page), '"Remove attachment"');
  await altBox(vera.page).fill('The harbour at dusk');
  await visible(previewImage(vera.page, 'The harbour at dusk'), 'the preview named by the description');
  await messageBox(vera.page).fill('Look at this');
  await sendButton(vera.page).click();

  const own = messageBy(vera.page, 'Vera', 'Look at this');
  await visible(own, "Vera's own image message");
  await attr(own, 'data-own', 'true', "Vera's own image message");
  await hidden(own.getByText('Sending…'), "Vera's image message confirmed");
  // The composer is empty again (the named image is the one in the log now).
  await hidden(removeButton(vera.page), '"Remove attachment" after sending');
  await hidden(altBox(vera.page), '"Image description" after sending');

  // 2. Walter sees the thumbnail (reserved at 3:2) and opens the full image.
  const message = messageBy(walter.page, 'Vera', 'Look at this');
  await visible(message, "Vera's image message at Walter");
  const thumb = message.getByRole('button', { name: 'Open image: The harbour at dusk', exact: true });
  await visible(thumb, 'the thumbnail button at Walter');
  const thumbSize = await loaded(thumb.getByRole('img', { name: 'The harbour at dusk', exact: true }), 'the thumbnail at Walter');
  assert.deepEqual(thumbSize, { complete: true, width: 320, height: 213 }, 'the server made a thumbnail of 320 px');
  assert.ok(Math.abs((await ratioOf(thumb)) - 1.5) < 0.02, 'the thumbnail keeps the 3:2 ratio');

  await thumb.click();
  const dialog = walter.page.getByRole('dialog', { name: 'Image', exact: true });
  await visible(dialog, 'the lightbox');
  const full = dialog.getByRole('img', { name: 'The harbour at dusk', exact: true });
  assert.match(await full.getAttribute('src', { timeout: TIMEOUT }), /^\/api\/attachments\/[^/]+$/, 'the full image, not the thumbnail');
  assert.deepEqual(await loaded(full, 'the full image'), { complete: true, width: 480, height: 320 });
  const close = dialog.getByRole('button', { name: 'Close', exact: true });
  await eventually('Close has the focus', async () => assert.ok(await isFocused(close)));
  await screenshot(walter.page, 'attachment-lightbox.png');

  await walter.page.keyboard.press('Escape');
  await hidden(dialog, 'the lightbox after Escape');
  await eventually('the focus is back on the thumbnail', async () => assert.ok(await isFocused(thumb)));

  await thumb.click();
  await visible(dialog, 'the lightbox opened again');
  await walter.page.mouse.click(8, 8); // the backdrop, away from the image
  await hidden(dialog, 'the lightbox after a click on the backdrop');

  await thumb.click();
  await visible(dialog, 'the lightbox opened a third time');
  await close.click();
  await hidden(dialog, 'the lightbox after Close');
  await eventually('the focus is back on the thumbnail after Close', async () => assert.ok(await isFocused(thumb)));

  // 3. Vera pastes an image and sends it alone with Enter.
  await pastePng(vera.page, 'pasted.png', PORTRAIT);
  await loaded(previewImage(vera.page), "Vera's preview of the pasted image");
  await messageBox(vera.page).press('Enter');
  await hidden(removeButton(vera.page), 'the preview after sending the pasted image');

  const second = messageLog(walter.page).getByRole('button', { name: 'Open image: image', exact: true });
  await visible(second, 'the pasted image at Walter');
  const secondSize = await loaded(second.getByRole('img', { name: 'Image from Vera', exact: true }), 'the second thumbnail at Walter');
  assert.deepEqual(secondSize, { complete: true, width: 200, height: 300 }, 'a small image is not enlarged');
  assert.ok(Math.abs((await ratioOf(second)) - 2 / 3) < 0.02, 'the second thumbnail keeps the 2:3 ratio');
  await count(messageLog(walter.page).getByRole('button', { name: /^Open image: / }), 2, 'two images at Walter');
  await count(messageLog(vera.page).getByRole('button', { name: /^Open image: / }), 2, 'two images at Vera');
  checkClean(vera, walter);
});

test('an SVG is refused in words, by the client and by the server; nothing is sent', { timeout: SCENARIO_TIMEOUT }, async (t) => {
  const xenia = await loginAs(browser, 'Xenia');
  const yusuf = await loginAs(browser, 'Yusuf');
  t.after(() => closeAll(xenia, yusuf), HOOK);
  await createRoom(xenia.page, 'Drawings', 'Sketches');
  await switchRoom(yusuf.page, 'Drawings');
  await visible(notice(xenia.page, 'Yusuf', 'joined'), 'Xenia sees Yusuf join Drawings');
  const uploads = [];
  xenia.page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/attachments') uploads.push(r);
  });
  const words = 'Only PNG, JPEG, GIF and WebP images can be sent';

  // Its type gives it away: refused before any upload.
  await pickFile(xenia.page, { name: 'logo.svg', mimeType: 'image/svg+xml', buffer: SVG });
  await text(composerAlert(xenia.page), words, 'the error for logo.svg');
  assert.equal(uploads.length, 0, 'no upload for a file the browser calls image/svg+xml');
  assert.equal(await sendButton(xenia.page).isDisabled(), true, 'Send stays disabled');
  await conversation(xenia.page).getByRole('button', { name: 'Dismiss', exact: true }).click();
  await hidden(composerAlert(xenia.page), 'the error after Dismiss');

  // Named like a PNG, it goes up and the server refuses it by its bytes (415).
  const [response] = await Promise.all([
    xenia.page.waitForResponse((r) => new URL(r.url()).pathname === '/api/attachments', { timeout: TIMEOUT }),
    pickFile(xenia.page, { name: 'logo.png', mimeType: 'image/png', buffer: SVG }),
  ]);
  assert.equal(response.status(), 415, 'the server refuses the SVG');
  await text(composerAlert(xenia.page), words, 'the error for logo.png');
  assert.equal(uploads.length, 1, 'one upload: the disguised SVG');
  assert.equal(await previewImage(xenia.page).count(), 0, 'no preview');
  assert.equal(await sendButton(xenia.page).isDisabled(), true, 'Send stays disabled');

  // Nothing was sent: the next message is the first Yusuf gets.
  await send(xenia, 'No picture, sorry');
  await visible(messageBy(yusuf.page, 'Xenia', 'No picture, sorry'), "Xenia's text at Yusuf");
  await count(messageLog(yusuf.page).getByRole('article'), 1, "articles in Yusuf's log");
  await count(messageLog(yusuf.page).getByRole('button', { name: /^Open image: / }), 0, "images in Yusuf's log");
  checkClean(xenia, yusuf);
});
