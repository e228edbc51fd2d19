/**
 * The web gallery in a real browser against a real server, model and database: upload two photos
 * through the page, search by object, open one, cut an object out and download it; then two more,
 * searched by category and everyday words.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { IMAGES_DIR, startTestServer, type TestServer } from '../support/server.js';
import { ARTIFACTS_DIR, buildGallery, launchChromium } from './browser.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** IHDR colour type 6: truecolour with alpha. */
const RGBA = 6;

describe('web gallery', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    buildGallery();
    browser = await launchChromium();
    server = await startTestServer();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Nothing may leave the machine: fail any request that is not to the server under test.
    await page.route((url) => !url.href.startsWith(server.url), (route) => {
      pageErrors.push(`request to ${route.request().url()}`);
      return route.abort();
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  afterEach(() => expect(pageErrors).toEqual([]));

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS_DIR, `gallery-${name}.png`) });

  it('starts empty and says so', async () => {
    await page.goto(server.url);
    await page.getByText('The catalogue is empty').waitFor();
  });

  it('uploads two photos through the file input, each with its own progress, and shows them', async () => {
    await page.locator('#file-input').setInputFiles([path.join(IMAGES_DIR, 'dog.jpg'), path.join(IMAGES_DIR, 'eagle.jpg')]);
    const items = page.locator('.queue-item');
    await expect(items.count()).resolves.toBe(2);
    await page.waitForFunction(() => document.querySelectorAll('.queue-item[data-state=done]').length === 2, null, { timeout: 90_000 });
    for (const name of ['dog.jpg', 'eagle.jpg']) {
      const item = items.filter({ hasText: name });
      await expect(item.locator('progress').evaluate((bar: HTMLProgressElement) => bar.value)).resolves.toBe(100);
      await expect(item.locator('.queue-status').textContent()).resolves.toMatch(/^Done: \d+ objects? found$/);
    }
    await page.getByRole('img', { name: 'dog.jpg' }).waitFor();
    await page.getByRole('img', { name: 'eagle.jpg' }).waitFor();
    await shot('uploaded');
  });

  it('flags a photo uploaded again as a duplicate', async () => {
    await page.locator('#file-input').setInputFiles(path.join(IMAGES_DIR, 'dog.jpg'));
    const again = page.locator('.queue-item').first();
    await page.waitForFunction(() => document.querySelector('.queue-item')?.getAttribute('data-state') === 'done');
    await expect(again.getAttribute('data-duplicate')).resolves.toBe('true');
    await expect(again.locator('.queue-status').textContent()).resolves.toMatch(/duplicate/);
    await page.getByRole('button', { name: 'Clear finished uploads' }).click();
    await expect(page.locator('.queue-item').count()).resolves.toBe(0);
  });

  it('suggests classes with counts and finds only the dog for "dog"', async () => {
    const search = page.getByRole('combobox', { name: 'Search by object' });
    await search.fill('do');
    const option = page.getByRole('option', { name: /^dog\b/ });
    await expect(option.textContent()).resolves.toMatch(/dog1 image/);
    await search.fill('dog');
    await search.press('Enter');
    await page.waitForFunction(() => !document.querySelector('img[alt="eagle.jpg"]'));
    await page.getByRole('img', { name: 'dog.jpg' }).waitFor();
    await expect(page.locator('#grid img').evaluateAll((images) => images.map((image) => image.getAttribute('alt')))).resolves.toEqual(['dog.jpg']);
    await expect(page.locator('#results-status').textContent()).resolves.toMatch(/^1 image with dog/);
    expect(new URL(page.url()).searchParams.get('q')).toBe('dog');
  });

  it('opens the photo from the keyboard and lists its segments, highlighting masks', async () => {
    await page.getByRole('button', { name: 'dog.jpg' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'dog.jpg' });
    const segments = dialog.getByRole('list', { name: 'Segments' }).getByRole('listitem');
    await segments.first().waitFor();
    const labels = await dialog.locator('.segment-label').allTextContents();
    expect(labels).toContain('dog');
    await dialog.getByLabel('Show all masks').check();
    await expect(dialog.locator('.mask-layer.on').count()).resolves.toBe(labels.length);
    await shot('detail');
  });

  it('cuts the dog out and downloads a transparent PNG the size of its box', async () => {
    const dialog = page.getByRole('dialog', { name: 'dog.jpg' });
    const row = dialog.locator('.segment').filter({ has: page.locator('.segment-label', { hasText: /^dog$/ }) }).first();
    await row.getByRole('button', { name: /^Cut out dog/ }).click();
    const link = row.getByRole('link', { name: /Download PNG/ });
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(/^dog-dog-\d+\.png$/);
    const bytes = await readFile(await download.path());
    expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(bytes[25]).toBe(RGBA);
    const metadata = await sharp(bytes).metadata();
    expect(metadata.hasAlpha).toBe(true);
    const best = await server.graphql(`{ segments(filter: { labels: ["dog"] }, first: 1) { edges { node { bbox { width height } } } } }`);
    const box = best.data.segments.edges[0].node.bbox;
    expect([metadata.width, metadata.height]).toEqual([box.width, box.height]);
    await shot('cutout');
  });

  it('fits a phone-sized screen without sideways scrolling', async () => {
    await page.keyboard.press('Escape');
    // Closing the dialog hands focus back to the picture that opened it.
    await page.waitForFunction(() => document.activeElement?.querySelector('img')?.alt === 'dog.jpg', null, { timeout: 5000 });
    await page.setViewportSize({ width: 390, height: 844 });
    await expect(page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).resolves.toBe(true);
    await shot('phone');
  });

  it('pages through the newest images with the cursor as the grid scrolls', async () => {
    // One image per page, so two photos take two pages and the second needs the first's cursor.
    const afters: unknown[] = [];
    await page.route(`${server.url}/graphql`, (route) => {
      const body = route.request().postDataJSON();
      if (body?.query?.includes('query Gallery')) {
        afters.push(body.variables.after);
        return route.continue({ postData: JSON.stringify({ ...body, variables: { ...body.variables, first: 1 } }) });
      }
      return route.continue();
    });
    await page.goto(server.url);
    await page.locator('#grid img').nth(1).waitFor();
    await page.locator('#more').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => !document.querySelector('#more.loading'));
    const alts = await page.locator('#grid img').evaluateAll((images) => images.map((image) => image.getAttribute('alt')));
    expect(alts.sort()).toEqual(['dog.jpg', 'eagle.jpg']);
    expect(afters.length).toBeGreaterThanOrEqual(2);
    expect(afters[0]).toBeNull();
    expect(afters.slice(1).every((after) => typeof after === 'string')).toBe(true);
    await page.unroute(`${server.url}/graphql`);
  });

  describe('everyday words', () => {
    const search = () => page.getByRole('combobox', { name: 'Search by object' });
    const shown = () => page.locator('#grid img').evaluateAll((images) => images.map((image) => image.getAttribute('alt')).sort());
    const chips = () => page.locator('#chips .chip > span').allTextContents();

    /** Types a word into a fresh gallery and presses Enter; resolves once the results say `status`. */
    async function searchFor(word: string, status: RegExp): Promise<void> {
      await page.goto(server.url);
      await search().fill(word);
      await search().press('Enter');
      await page.waitForFunction((pattern) => new RegExp(pattern).test(document.querySelector('#results-status')?.textContent ?? ''), status.source);
    }

    it('suggests "animal" as a category with its image count, and finds every animal photo', async () => {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto(server.url);
      await page.locator('#file-input').setInputFiles([path.join(IMAGES_DIR, 'horses.jpg'), path.join(IMAGES_DIR, 'person.jpg')]);
      await page.waitForFunction(() => document.querySelectorAll('.queue-item[data-state=done]').length === 2, null, { timeout: 90_000 });
      await search().fill('anim');
      // The facets catch up with the uploads: dog, bird, horses and person's dog and horse.
      await page.waitForFunction(() => document.querySelector('#suggestions [role=option]')?.textContent === 'animal (category)4 images');
      await shot('category-suggestion');
      await searchFor('animal', /^4 images with animal/);
      await expect(shown()).resolves.toEqual(['dog.jpg', 'eagle.jpg', 'horses.jpg', 'person.jpg']);
      await expect(chips()).resolves.toEqual(['animal']);
    });

    it('reads "birds" as bird and "people" as person', async () => {
      await searchFor('birds', /^1 image with bird /);
      await expect(shown()).resolves.toEqual(['eagle.jpg']);
      await expect(chips()).resolves.toEqual(['bird']);
      expect(new URL(page.url()).searchParams.get('q')).toBe('bird');
      await searchFor('People', /^1 image with person /);
      await expect(shown()).resolves.toEqual(['person.jpg']);
    });

    it('reads "sofa" as couch, which no photo holds, without an error', async () => {
      // What is checked: the server named the word couch (the chip), and the search for it ran
      // and found nothing. No fixture photo has a couch, so no photo can be shown for it.
      await searchFor('sofa', /^No image contains couch/);
      await expect(chips()).resolves.toEqual(['couch']);
      await expect(page.locator('#grid img').count()).resolves.toBe(0);
      await expect(page.locator('#results-status').getAttribute('data-state')).resolves.toBe('empty');
    });

    it('says what a mistyped word could mean', async () => {
      await searchFor('hrose', /did you mean horse\?/);
      await expect(page.locator('#results-status').textContent()).resolves.toBe('Unknown class "hrose": did you mean horse?');
    });
  });
});
