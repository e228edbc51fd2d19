/**
 * Batch counters over HTTP, as a client polling `queue { batches }` sees them: they always add up
 * (done + failed + pending + processing = total), duplicates count once, a later re-segmentation
 * leaves an earlier batch's counts alone, and re-segmenting nothing makes no batch.
 */
import sharp from 'sharp';
import { eventually } from '../hardening/raw-http.js';
import type { BatchProgress } from '../../src/db/batch.repository.js';
import { photo, startTestServer, type TestServer } from '../support/server.js';

const UPLOAD_MANY = `mutation($files: [Upload!]!, $wait: Boolean) {
  uploadImages(input: { files: $files, wait: $wait }) { results { duplicate image { id status } } }
}`;
const RESEGMENT = `mutation($input: ResegmentImagesInput!) {
  resegmentImages(input: $input) { queued batch { id source total done failed pending processing } }
}`;
const BATCHES = `{ queue { batches(first: 100) { id source total done failed pending processing } } }`;

type Batch = Omit<BatchProgress, 'createdAt'>;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.stop();
});

/** Every batch, after checking that each one's counters add up. */
async function batches(): Promise<Batch[]> {
  const response = await server.graphql<{ queue: { batches: Batch[] } }>(BATCHES);
  expect(response.errors).toBeUndefined();
  const listed = response.data!.queue.batches;
  for (const batch of listed) {
    expect({ ...batch, sum: batch.done + batch.failed + batch.pending + batch.processing }).toEqual({ ...batch, sum: batch.total });
  }
  return listed;
}

async function batch(id: string): Promise<Batch> {
  const found = (await batches()).find((candidate) => candidate.id === id);
  expect(found).toBeDefined();
  return found!;
}

/** Polls the batches (checking them every time) until none has work left. */
async function untilSettled(): Promise<void> {
  await eventually(async () => (await batches()).every((b) => b.pending + b.processing === 0), 'every batch settled', 90_000);
}

/** The only batch not in `before`. */
async function newBatchSince(before: Batch[]): Promise<Batch> {
  const known = new Set(before.map((b) => b.id));
  const added = (await batches()).filter((b) => !known.has(b.id));
  expect(added).toHaveLength(1);
  return added[0]!;
}

/** Images made from dog.jpg that no other test uploads (distinct crops). */
async function distinctJpegs(count: number, offset: number): Promise<Buffer[]> {
  const dog = await photo('dog.jpg');
  return Promise.all(
    Array.from({ length: count }, (_, index) =>
      sharp(dog).extract({ left: offset + index, top: offset + index, width: 600, height: 450 }).jpeg({ quality: 80 }).toBuffer(),
    ),
  );
}

function files(data: Buffer[]) {
  return data.map((bytes, index) => ({ variable: `files.${index}`, name: `image-${index}.jpg`, data: bytes }));
}

it('counts the same bytes sent three times, and an image already catalogued, once each', async () => {
  const [eagle, dog] = await Promise.all([photo('eagle.jpg'), photo('dog.jpg')]);
  const first = await server.upload(UPLOAD_MANY, files([eagle]), { files: [null] });
  expect(first.errors).toBeUndefined();
  const before = await batches();

  const response = await server.upload(UPLOAD_MANY, files([dog, dog, dog, eagle]), { files: [null, null, null, null] });
  expect(response.errors).toBeUndefined();
  const results = response.data.uploadImages.results as { duplicate: boolean; image: { id: string; status: string } }[];
  expect(new Set(results.map((result) => result.image.id)).size).toBe(2);
  expect(results.map((result) => result.image.status)).toEqual(['DONE', 'DONE', 'DONE', 'DONE']);

  const made = await newBatchSince(before);
  expect(made).toMatchObject({ source: 'upload', total: 2, done: 2, failed: 0, pending: 0, processing: 0 });
});

it('keeps an earlier batch whole when some of its images are re-segmented in a new one', async () => {
  const before = await batches();
  const upload = await server.upload(UPLOAD_MANY, files(await distinctJpegs(2, 10)), { files: [null, null] });
  expect(upload.errors).toBeUndefined();
  const uploaded = await newBatchSince(before);
  expect(uploaded).toMatchObject({ total: 2, done: 2, pending: 0, processing: 0 });
  const [first] = upload.data.uploadImages.results as { image: { id: string } }[];

  const resegmented = await server.graphql(RESEGMENT, { input: { ids: [first!.image.id, first!.image.id] } });
  expect(resegmented.errors).toBeUndefined();
  expect(resegmented.data.resegmentImages).toMatchObject({ queued: 1, batch: { source: 'resegment', total: 1 } });
  await untilSettled();

  expect(await batch(uploaded.id)).toEqual({ ...uploaded, total: 2, done: 2 });
  expect(await batch(resegmented.data.resegmentImages.batch.id)).toMatchObject({ total: 1, done: 1, failed: 0, pending: 0, processing: 0 });
});

it('makes no batch for an `outdated` re-segmentation that matches nothing', async () => {
  await untilSettled();
  const before = await batches();
  const response = await server.graphql(RESEGMENT, { input: { outdated: true } });
  expect(response.errors).toBeUndefined();
  expect(response.data.resegmentImages).toEqual({ queued: 0, batch: null });
  expect(await batches()).toEqual(before);
});

it('adds up at every moment while images are queued, re-queued by another batch and deleted', async () => {
  const before = await batches();
  const upload = await server.upload(UPLOAD_MANY, files(await distinctJpegs(4, 30)), { files: [null, null, null, null], wait: false });
  expect(upload.errors).toBeUndefined();
  const ids = (upload.data.uploadImages.results as { image: { id: string } }[]).map((result) => result.image.id);
  const uploaded = await newBatchSince(before);
  expect(uploaded.total).toBe(4);

  // Re-queued while the first run is still going: both batches follow that one run.
  const resegmented = await server.graphql(RESEGMENT, { input: { ids: ids.slice(0, 2) } });
  expect(resegmented.errors).toBeUndefined();
  await batches();
  const deleted = await server.graphql(`mutation($id: ID!) { deleteImage(input: { id: $id }) { id } }`, { id: ids[3] });
  expect(deleted.errors).toBeUndefined();
  await untilSettled();

  expect(await batch(uploaded.id)).toMatchObject({ total: 3, done: 3, failed: 0, pending: 0, processing: 0 });
  expect(await batch(resegmented.data.resegmentImages.batch.id)).toMatchObject({ total: 2, done: 2, failed: 0 });
});
