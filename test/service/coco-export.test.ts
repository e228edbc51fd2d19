/**
 * COCO export end to end: the real photos segmented by the real model into a real PostgreSQL,
 * exported through the `exportCoco` mutation and `segcat export`, and the file read back with the
 * tests' own RLE reader (written from the format's description, not from segcat's encoder):
 * every mask must be the mask PNG on disk pixel for pixel, inside its box, with its pixel count
 * as area. Both keys are set, so the mutation and the file's URL are checked for access too.
 */
import { mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { DEFAULT_MIN_SCORE } from '../../src/services/catalogue.service.js';
import { runSegcat } from '../support/cli.js';
import { readMask } from '../support/coco-rle-reader.js';
import { photo, startTestServer, type TestServer } from '../support/server.js';

const API_KEY = 'coco-export-api-key-0123456789';
const READ_KEY = 'coco-export-read-key-9876543210';
const PHOTOS = ['dog.jpg', 'eagle.jpg', 'giraffe.jpg', 'horses.jpg', 'kite.jpg', 'person.jpg', 'scream.jpg'];

const UPLOAD = `mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id status } } }`;
const EXPORT = `mutation($filter: ImageFilter) {
  exportCoco(input: { filter: $filter }) { id url path images annotations bytes }
}`;
const IMAGE = `query($id: ID!) {
  image(id: $id) { id filename width height segments(minScore: 0) { id label score area maskPath bbox { x y width height } } }
}`;

/** The parts of a COCO instances file the tests read. */
interface CocoFile {
  info: Record<string, unknown>;
  licenses: unknown[];
  categories: { id: number; name: string; supercategory: string }[];
  images: { id: number; file_name: string; width: number; height: number; segcat_id: string; original_filename: string }[];
  annotations: {
    id: number;
    image_id: number;
    category_id: number;
    bbox: [number, number, number, number];
    area: number;
    iscrowd: number;
    score: number;
    segcat_id: string;
    segmentation: { size: [number, number]; counts: string };
  }[];
}

interface ApiSegment {
  id: string;
  label: string;
  score: number;
  area: number;
  maskPath: string;
  bbox: { x: number; y: number; width: number; height: number };
}

let server: TestServer;
const write = { authorization: `Bearer ${API_KEY}` };
const read = { authorization: `Bearer ${READ_KEY}` };

beforeAll(async () => {
  server = await startTestServer({ SEGCAT_API_KEY: API_KEY, SEGCAT_READ_KEY: READ_KEY });
  for (const name of PHOTOS) {
    const response = await server.upload(UPLOAD, [{ variable: 'file', name, data: await photo(name) }], {}, write);
    expect(response.data?.uploadImage.image.status).toBe('DONE');
  }
});

afterAll(async () => {
  await server?.stop();
});

async function exportCoco(filter?: Record<string, unknown>) {
  const response = await server.graphql(EXPORT, { filter }, write);
  expect(response.errors).toBeUndefined();
  const payload = response.data.exportCoco as { id: string; url: string; path: string; images: number; annotations: number; bytes: number };
  const served = await fetch(payload.url, { headers: read });
  expect(served.status).toBe(200);
  expect(served.headers.get('content-type')).toMatch(/^application\/json/);
  const text = await served.text();
  expect(Buffer.byteLength(text)).toBe(payload.bytes);
  return { payload, coco: JSON.parse(text) as CocoFile };
}

async function segmentsOf(imageId: string): Promise<ApiSegment[]> {
  const response = await server.graphql(IMAGE, { id: imageId }, read);
  return response.data.image.segments as ApiSegment[];
}

/** The mask PNG on disk as rows of 0/1, thresholded as segcat reads masks (≥ 128 is set). */
async function maskOnDisk(maskPath: string): Promise<Uint8Array[]> {
  const { data, info } = await sharp(path.join(server.dataDir, maskPath)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return Array.from({ length: info.height }, (_, y) => Uint8Array.from(data.subarray(y * info.width, (y + 1) * info.width), (value) => (value >= 128 ? 1 : 0)));
}

function tightBox(rows: Uint8Array[]) {
  let [left, top, right, bottom] = [Infinity, Infinity, -1, -1];
  rows.forEach((row, y) =>
    row.forEach((value, x) => {
      if (!value) return;
      [left, top, right, bottom] = [Math.min(left, x), Math.min(top, y), Math.max(right, x), Math.max(bottom, y)];
    }),
  );
  return { left, top, right, bottom };
}

describe('exportCoco', () => {
  let payload: Awaited<ReturnType<typeof exportCoco>>['payload'];
  let coco: CocoFile;

  beforeAll(async () => {
    ({ payload, coco } = await exportCoco());
  });

  it('writes a COCO instances file of every image, served at the returned URL', () => {
    expect(payload.path).toBe(`exports/${payload.id}.json`);
    expect(new URL(payload.url).pathname).toBe(`/files/${payload.path}`);
    expect(Object.keys(coco).sort()).toEqual(['annotations', 'categories', 'images', 'info', 'licenses']);
    expect(coco.images.map((image) => image.original_filename).sort()).toEqual([...PHOTOS].sort());
    expect(payload.images).toBe(coco.images.length);
    expect(payload.annotations).toBe(coco.annotations.length);
    expect(coco.annotations.length).toBeGreaterThan(PHOTOS.length);
  });

  it('numbers images and annotations 1, 2, 3… and points each annotation at an image', () => {
    expect(coco.images.map((image) => image.id)).toEqual(coco.images.map((_, index) => index + 1));
    expect(coco.annotations.map((annotation) => annotation.id)).toEqual(coco.annotations.map((_, index) => index + 1));
    const imageIds = new Set(coco.images.map((image) => image.id));
    for (const annotation of coco.annotations) expect(imageIds.has(annotation.image_id)).toBe(true);
  });

  it("lists COCO's 80 categories with the dataset's ids and supercategories", () => {
    expect(coco.categories).toHaveLength(80);
    expect(new Set(coco.categories.map((category) => category.id)).size).toBe(80);
    const byName = new Map(coco.categories.map((category) => [category.name, category]));
    expect(byName.get('person')).toEqual({ id: 1, name: 'person', supercategory: 'person' });
    expect(byName.get('dog')).toEqual({ id: 18, name: 'dog', supercategory: 'animal' });
    expect(byName.get('kite')).toEqual({ id: 38, name: 'kite', supercategory: 'sports' });
    expect(byName.get('dining table')).toEqual({ id: 67, name: 'dining table', supercategory: 'furniture' });
    expect(byName.get('tv')).toEqual({ id: 72, name: 'tv', supercategory: 'electronic' });
    expect(byName.get('toothbrush')).toEqual({ id: 90, name: 'toothbrush', supercategory: 'indoor' });
    expect(new Set(coco.categories.map((category) => category.supercategory))).toEqual(
      new Set(['person', 'vehicle', 'outdoor', 'animal', 'accessory', 'sports', 'kitchen', 'food', 'furniture', 'electronic', 'appliance', 'indoor']),
    );
  });

  it("names each image's original under DATA_DIR, with its size", async () => {
    for (const image of coco.images) {
      const metadata = await sharp(path.join(server.dataDir, image.file_name)).metadata();
      expect(metadata.autoOrient).toEqual({ width: image.width, height: image.height });
    }
  });

  it('has, for each image, every segment scoring at least the default minScore: class, score and box as the API gives them', async () => {
    const categoryName = new Map(coco.categories.map((category) => [category.id, category.name]));
    for (const image of coco.images) {
      const expected = (await segmentsOf(image.segcat_id)).filter((segment) => segment.score >= DEFAULT_MIN_SCORE);
      const exported = coco.annotations.filter((annotation) => annotation.image_id === image.id);
      expect(exported.map((annotation) => annotation.segcat_id).sort()).toEqual(expected.map((segment) => segment.id).sort());
      for (const annotation of exported) {
        const segment = expected.find((candidate) => candidate.id === annotation.segcat_id)!;
        expect(categoryName.get(annotation.category_id)).toBe(segment.label);
        expect(annotation.score).toBeCloseTo(segment.score, 6);
        expect(annotation.bbox).toEqual([segment.bbox.x, segment.bbox.y, segment.bbox.width, segment.bbox.height]);
        expect(annotation.iscrowd).toBe(0);
      }
    }
  });

  it('decodes every mask to the mask PNG on disk, pixel for pixel, inside its box, with its pixel count as area', async () => {
    const images = new Map(coco.images.map((image) => [image.id, image]));
    const segments = new Map<string, ApiSegment>();
    for (const image of coco.images) for (const segment of await segmentsOf(image.segcat_id)) segments.set(segment.id, segment);
    let checked = 0;
    for (const annotation of coco.annotations) {
      const image = images.get(annotation.image_id)!;
      expect(annotation.segmentation.size).toEqual([image.height, image.width]);
      const decoded = readMask(annotation.segmentation);
      const segment = segments.get(annotation.segcat_id)!;
      const onDisk = await maskOnDisk(segment.maskPath);
      expect(decoded).toHaveLength(onDisk.length);
      // One comparison of all the bytes: toEqual on hundreds of thousands of pixels is slow.
      expect(Buffer.concat(decoded).equals(Buffer.concat(onDisk))).toBe(true);
      const pixels = decoded.reduce((sum, row) => sum + row.reduce((rowSum, value) => rowSum + value, 0), 0);
      expect(pixels).toBeGreaterThan(0);
      expect(annotation.area).toBe(pixels);
      expect(annotation.area).toBe(segment.area);
      const [x, y, width, height] = annotation.bbox;
      const tight = tightBox(decoded);
      expect(tight.left).toBeGreaterThanOrEqual(x);
      expect(tight.top).toBeGreaterThanOrEqual(y);
      expect(tight.right).toBeLessThan(x + width);
      expect(tight.bottom).toBeLessThan(y + height);
      checked += 1;
    }
    expect(checked).toBe(coco.annotations.length);
  });

  it('is not taken for a file no row points to by the integrity check', async () => {
    const report = await server.runtime.services.maintenance.check();
    expect(report.unreferenced).toEqual([]);
  });
});

describe('exportCoco with a filter', () => {
  it('exports only the images `images` finds, with all their segments', async () => {
    const search = await server.graphql('{ images(filter: { labels: ["dog"] }) { edges { node { id filename } } } }', {}, read);
    const dogImages = search.data.images.edges.map((edge: { node: { id: string } }) => edge.node.id).sort();
    expect(dogImages.length).toBeGreaterThan(0);
    const { coco } = await exportCoco({ labels: ['dog'] });
    expect(coco.images.map((image) => image.segcat_id).sort()).toEqual(dogImages);
    const dog = coco.categories.find((category) => category.name === 'dog')!.id;
    for (const image of coco.images) {
      const annotations = coco.annotations.filter((annotation) => annotation.image_id === image.id);
      expect(annotations.some((annotation) => annotation.category_id === dog && annotation.score >= DEFAULT_MIN_SCORE)).toBe(true);
    }
    // person.jpg has a person and a horse beside its dog: they are exported with it.
    expect(new Set(coco.annotations.map((annotation) => annotation.category_id)).size).toBeGreaterThan(1);
  });

  it('leaves out segments below minScore', async () => {
    const { coco } = await exportCoco({ minScore: 0.8 });
    expect(coco.annotations.length).toBeGreaterThan(0);
    for (const annotation of coco.annotations) expect(annotation.score).toBeGreaterThanOrEqual(0.8);
  });

  it('refuses an unknown class as BAD_USER_INPUT and leaves no file behind', async () => {
    const before = await readdir(path.join(server.dataDir, 'exports'));
    const response = await server.graphql(EXPORT, { filter: { labels: ['unicorn'] } }, write);
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toMatch(/unicorn/);
    expect(await readdir(path.join(server.dataDir, 'exports'))).toEqual(before);
  });
});

describe('access', () => {
  it('needs the API key to export', async () => {
    for (const headers of [{}, read]) {
      const response = await server.graphql(EXPORT, {}, headers);
      expect(response.status).toBe(401);
      expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  it('serves the file only with a key when SEGCAT_READ_KEY is set', async () => {
    const response = await server.graphql(EXPORT, { filter: { labels: ['bird'] } }, write);
    const url: string = response.data.exportCoco.url;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(url, { headers: read })).status).toBe(200);
    expect((await fetch(url, { headers: write })).status).toBe(200);
    expect((await fetch(url.replace(/\.json$/, '.json.tmp'), { headers: read })).status).toBe(404);
  });
});

describe('segcat export', () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'segcat-export-'));
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const env = () => ({ DATABASE_URL: server.databaseUrl, DATA_DIR: server.dataDir });

  it('writes the same file as the mutation, and only that file', async () => {
    const out = path.join(work, 'dogs.json');
    const run = await runSegcat(['export', '--format', 'coco', out, '--labels', 'dog'], env());
    expect(run.code).toBe(0);
    const written = JSON.parse(await readFile(out, 'utf8')) as CocoFile;
    expect(run.stdout).toBe(`wrote ${out}: ${written.images.length} images, ${written.annotations.length} annotations, ${(await stat(out)).size} bytes\n`);
    const { coco } = await exportCoco({ labels: ['dog'] });
    expect(written.images).toEqual(coco.images);
    expect(written.annotations).toEqual(coco.annotations);
    expect(await readdir(work)).toEqual(['dogs.json']);
  });

  it('says which class is unknown, exits 1 and writes nothing', async () => {
    const out = path.join(work, 'unicorns.json');
    const run = await runSegcat(['export', '--format', 'coco', out, '--labels', 'unicorn'], env());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/unknown class "unicorn"/);
    expect(await readdir(work)).toEqual(['dogs.json']);
  });

  it('stops at a lost mask file, says how to find such files, and writes nothing', async () => {
    const search = await server.graphql('{ images(filter: { labels: ["bird"] }) { edges { node { id } } } }', {}, read);
    const [bird] = (await segmentsOf(search.data.images.edges[0].node.id)).filter((segment) => segment.label === 'bird');
    const mask = path.join(server.dataDir, bird!.maskPath);
    await rename(mask, `${mask}.lost`);
    try {
      const out = path.join(work, 'birds.json');
      const run = await runSegcat(['export', '--format', 'coco', out, '--labels', 'bird'], env());
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/cannot export image .* \(eagle\.jpg\): .*`segcat check` finds missing or damaged files/);
      expect(await readdir(work)).toEqual(['dogs.json']);
      const exports = await readdir(path.join(server.dataDir, 'exports'));
      const response = await server.graphql(EXPORT, { filter: { labels: ['bird'] } }, write);
      expect(response.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(await readdir(path.join(server.dataDir, 'exports'))).toEqual(exports);
    } finally {
      await rename(`${mask}.lost`, mask);
    }
  });
});
