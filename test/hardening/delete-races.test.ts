/**
 * Deletion racing other work, with two servers on one database and one DATA_DIR (README, "Scaling
 * out"): a delete on A and an upload of the same bytes on B, a delete and a cut-out, a delete and
 * the segmentation job. Whatever the interleaving, no request fails with an internal error, every
 * image that survives reaches DONE with its files, and no file is left (or served) without a row.
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { photo, startTestServer, waitForSettled, type TestServer } from '../support/server.js';
import { eventually, listTree, rawRequest } from './raw-http.js';

const UPLOAD = `mutation($file: Upload!, $wait: Boolean) {
  uploadImage(input: { file: $file, wait: $wait }) { duplicate image { id status error url thumbnailUrl } } }`;
const DELETE = `mutation($id: ID!) { deleteImage(input: { id: $id }) { id } }`;
const EXTRACT = `mutation($id: ID!) {
  extractSegments(input: { imageId: $id, minScore: 0, background: WHITE, format: WEBP }) { extractions { url segment { id } } } }`;

let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  a = await startTestServer();
  b = await startTestServer({}, { sharing: a });
});

afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function upload(server: TestServer, name: string, wait: boolean) {
  const response = await server.upload(UPLOAD, [{ variable: 'file', name, data: await photo(name) }], { wait });
  expect(response.errors).toBeUndefined();
  return response.data.uploadImage as { duplicate: boolean; image: { id: string; status: string; url: string; thumbnailUrl: string } };
}

async function deleteOn(server: TestServer, id: string): Promise<void> {
  const response = await server.graphql(DELETE, { id });
  expect(response.errors).toBeUndefined();
}

async function row(id: string) {
  return a.runtime.database.prisma.image.findUnique({ where: { id } });
}

/** Status codes of an image's original and thumbnail over HTTP. */
async function contentStatus(server: TestServer, image: { url: string; thumbnailUrl: string }): Promise<number[]> {
  return Promise.all([image.url, image.thumbnailUrl].map(async (url) => (await rawRequest(server.url, { path: new URL(url).pathname })).status));
}

/**
 * Both directions at once: rows pointing to missing files, files (and folders of masks, cut-outs
 * and overlays) that no row accounts for.
 */
async function mismatches(): Promise<{ missing: string[]; unreferenced: string[] }> {
  const prisma = a.runtime.database.prisma;
  const rows = await prisma.$queryRaw<{ path: string }[]>`
    SELECT "storagePath" AS path FROM "Image"
    UNION ALL SELECT "thumbnailPath" FROM "Image" WHERE "thumbnailPath" IS NOT NULL
    UNION ALL SELECT "backgroundMaskPath" FROM "Image" WHERE "backgroundMaskPath" IS NOT NULL
    UNION ALL SELECT "maskPath" FROM "Segment"
    UNION ALL SELECT path FROM "Extraction"`;
  const referenced = new Set(rows.map((r) => r.path));
  const images = new Set((await prisma.image.findMany({ select: { id: true } })).map((image) => image.id));
  const segments = new Set((await prisma.segment.findMany({ select: { id: true } })).map((segment) => segment.id));
  const files = (await listTree(a.dataDir)).filter((file) => /^(originals|thumbnails|masks|cutouts)\//.test(file));
  const unreferenced = files.filter((file) => !referenced.has(file));
  for (const [root, owners] of [['masks', images], ['overlays', images], ['cutouts', segments]] as const) {
    const folders = await readdir(path.join(a.dataDir, root)).catch(() => []);
    unreferenced.push(...folders.filter((folder) => !owners.has(folder)).map((folder) => `${root}/${folder}/`));
  }
  return { missing: [...referenced].filter((file) => !files.includes(file)), unreferenced };
}

it('keeps the files of an upload to B that lands while A, having deleted the row, is slow to remove the files', async () => {
  const first = await upload(a, 'dog.jpg', true);
  expect(first.image.status).toBe('DONE');
  // "A is busy": the moment A has deleted the row and is about to remove the files, B receives
  // the same bytes, and A gets to the removal only once B has answered (or 2 s have passed).
  const store = a.runtime.store;
  const remove = store.remove.bind(store);
  let onB: ReturnType<typeof upload> | undefined;
  store.remove = async (paths) => {
    const list = [...paths];
    if (!onB && list.some((file) => file.startsWith('originals/'))) {
      onB = upload(b, 'dog.jpg', false);
      await Promise.race([onB, sleep(2_000)]);
    }
    return remove(list);
  };
  try {
    await deleteOn(a, first.image.id);
  } finally {
    store.remove = remove;
  }
  expect(onB).toBeDefined();
  const second = await onB!;
  expect(second.duplicate).toBe(false);
  expect(await waitForSettled(b, second.image.id)).toBe('DONE');
  expect(await contentStatus(a, second.image)).toEqual([200, 200]);
  expect(await mismatches()).toEqual({ missing: [], unreferenced: [] });
});

it('deletes on A and uploads the same bytes to B in a loop: every image that survives is DONE with its files', async () => {
  for (let trial = 0; trial < 6; trial += 1) {
    const { image } = await upload(a, 'kite.jpg', true);
    // A is kept busy segmenting another picture while it deletes.
    const busy = upload(a, trial % 2 === 0 ? 'giraffe.jpg' : 'person.jpg', true);
    const [, second] = await Promise.all([deleteOn(a, image.id), sleep(trial * 3).then(() => upload(b, 'kite.jpg', false))]);
    await busy;
    if (!(await row(second.image.id))) continue;
    expect(await waitForSettled(b, second.image.id)).toBe('DONE');
    expect(await contentStatus(b, second.image)).toEqual([200, 200]);
  }
  expect(await mismatches()).toEqual({ missing: [], unreferenced: [] });
});

it('stores the bytes again and re-queues a FAILED image whose original is gone when they are uploaded again', async () => {
  const { image } = await upload(a, 'horses.jpg', true);
  const stored = (await row(image.id))!;
  // What the race above used to leave: the row FAILED, its original and thumbnail gone.
  await rm(path.join(a.dataDir, stored.storagePath));
  await rm(path.join(a.dataDir, stored.thumbnailPath!));
  await a.runtime.database.prisma.image.update({ where: { id: image.id }, data: { status: 'FAILED', error: 'no such file' } });

  const again = await upload(b, 'horses.jpg', true);
  expect(again.duplicate).toBe(true);
  expect(again.image.id).toBe(image.id);
  expect(again.image.status).toBe('DONE');
  expect(await contentStatus(b, again.image)).toEqual([200, 200]);
  expect(await mismatches()).toEqual({ missing: [], unreferenced: [] });
});

it('answers a cut-out racing the deletion of its image with the cut-outs or NOT_FOUND, and leaves no cut-out without a row', async () => {
  for (let trial = 0; trial < 6; trial += 1) {
    const { image } = await upload(a, 'horses.jpg', true);
    const segmentIds = (await a.runtime.database.prisma.segment.findMany({ where: { imageId: image.id } })).map((s) => s.id);
    expect(segmentIds.length).toBeGreaterThan(1);
    const [extracted] = await Promise.all([a.graphql(EXTRACT, { id: image.id }), sleep(trial * 4).then(() => deleteOn(b, image.id))]);
    for (const error of extracted.errors ?? []) expect(error.extensions?.code).toBe('NOT_FOUND');
    for (const id of segmentIds) {
      expect((await rawRequest(a.url, { path: `/files/cutouts/${id}/white.webp` })).status).toBe(404);
    }
    expect(await mismatches()).toEqual({ missing: [], unreferenced: [] });
  }
});

it('deletes an image while it is being segmented without an error, and the job leaves nothing behind', async () => {
  const prisma = a.runtime.database.prisma;
  for (let trial = 0; trial < 4; trial += 1) {
    const { image } = await upload(b, 'person.jpg', false);
    await eventually(async () => (await row(image.id))?.status !== 'PENDING', 'segmentation starts', 60_000);
    await sleep(trial * 15);
    await deleteOn(a, image.id);
    // The job finds its image gone, removes what it wrote and ends quietly: no failed job is left.
    await eventually(
      async () => (await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM graphile_worker._private_jobs`)[0]!.n === 0,
      'the segmentation job has ended',
    );
    expect(existsSync(path.join(a.dataDir, 'masks', image.id))).toBe(false);
    expect(await mismatches()).toEqual({ missing: [], unreferenced: [] });
  }
});
