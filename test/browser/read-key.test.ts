/**
 * The gallery on a server with SEGCAT_READ_KEY: the page asks for the key, trades it for the
 * session cookie, and then the pictures themselves (plain <img> tags) load.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { IMAGES_DIR, startTestServer, type TestServer } from '../support/server.js';
import { buildGallery, launchChromium } from './browser.js';

const READ_KEY = 'read-key-for-the-browser-test';

let server: TestServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  buildGallery();
  browser = await launchChromium();
  server = await startTestServer({ SEGCAT_READ_KEY: READ_KEY });
  const upload = await server.upload(
    'mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { status } } }',
    [{ variable: 'file', name: 'eagle.jpg', data: await readFile(path.join(IMAGES_DIR, 'eagle.jpg')) }],
  );
  expect(upload.data.uploadImage.image.status).toBe('DONE');
  page = await browser.newPage();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

it('asks for the key, then shows the pictures', async () => {
  await page.goto(server.url);
  const key = page.locator('#api-key');
  await key.waitFor();
  await key.fill(READ_KEY);
  await page.getByRole('button', { name: 'Use key' }).click();
  const thumbnail = page.getByRole('img', { name: 'eagle.jpg' });
  await thumbnail.waitFor();
  // The <img> request carries no Authorization header: only the session cookie lets it through.
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>('img[alt="eagle.jpg"]');
    return img !== null && img.complete && img.naturalWidth > 0;
  });
  const cookies = await page.context().cookies();
  expect(cookies.find((cookie) => cookie.name === 'segcat_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
});
