/**
 * `segcat check [--repair] [--json]` and `/health?deep=1` (issue 10, finding 2): rows are walked
 * against files and files against rows; any mismatch is named and makes the exit code non-zero;
 * `--repair` re-queues an image whose masks are gone (the server's worker segments it again), marks
 * an image whose original is gone FAILED, and quarantines files no row points to. The command runs
 * from the build in dist/, next to a live server on the same database and DATA_DIR.
 */
import { existsSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { ImageReadRepository } from '../../src/db/image-read.repository.js';
import { runSegcat } from '../support/cli.js';
import { photo, startTestServer, type TestServer } from '../support/server.js';
import { eventually, listTree } from './raw-http.js';

const MISSING_ORIGINAL = 'the original file is missing from DATA_DIR; upload it again';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.stop();
});

/** Runs `segcat check ...` on the server's database and DATA_DIR. */
function check(...args: string[]) {
  // The files this test unhooks are seconds old: SEGCAT_STALE_MINUTES=0 counts them at once.
  return runSegcat(['check', ...args], { DATABASE_URL: server.databaseUrl, DATA_DIR: server.dataDir, SEGCAT_STALE_MINUTES: '0' });
}

interface Uploaded {
  id: string;
  status: string;
  segments: { id: string; label: string; maskPath: string }[];
}

async function upload(name: string): Promise<Uploaded> {
  const response = await server.upload<{ uploadImage: { image: Uploaded } }>(
    'mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id status segments { id label maskPath } } } }',
    [{ variable: 'file', name, data: await photo(name) }],
  );
  expect(response.errors).toBeUndefined();
  expect(response.data!.uploadImage.image.status).toBe('DONE');
  return response.data!.uploadImage.image;
}

async function health(query = ''): Promise<{ status: number; body: { checks: Record<string, { ok: boolean; detail?: string }> } }> {
  const response = await fetch(`${server.url}/health${query}`);
  return { status: response.status, body: await response.json() };
}

it('finds rows without files and files without rows, repairs them, and /health?deep=1 sees a missing file', async () => {
  const [dog, eagle, horses] = [await upload('dog.jpg'), await upload('eagle.jpg'), await upload('horses.jpg')];
  const cut = await server.graphql<{ extractSegments: { extractions: { path: string }[] } }>(
    'mutation($id: ID!) { extractSegments(input: { imageId: $id, labels: ["dog"] }) { extractions { path } } }',
    { id: dog.id },
  );
  const cutout = cut.data!.extractSegments.extractions[0]!.path;
  // An overlay has no row of its own: it is known as long as its image exists.
  expect((await fetch(`${server.url}/overlays/${dog.id}.jpg`)).status).toBe(200);

  const clean = await check();
  expect(clean).toMatchObject({ code: 0, stderr: '' });
  expect(clean.stdout).toMatch(/no problems/);
  const cleanJson = await check('--json');
  expect(cleanJson.code).toBe(0);
  expect(JSON.parse(cleanJson.stdout)).toMatchObject({ ok: true, images: 3, missing: { count: 0 }, unreferenced: { count: 0 } });
  expect((await health('?deep=1')).body.checks.files).toMatchObject({ ok: true });

  // A mask file lost, an original lost, and a cut-out's row dropped (its file left behind).
  const lostMask = eagle.segments[0]!.maskPath;
  await unlink(path.join(server.dataDir, lostMask));
  const images = new ImageReadRepository(server.runtime.database.prisma);
  const horsesRow = await images.findById(horses.id);
  await unlink(path.join(server.dataDir, horsesRow!.storagePath));
  await server.runtime.database.prisma.extraction.deleteMany({ where: { path: cutout } });

  const plain = await health();
  expect(plain.body.checks.files).toBeUndefined();
  const deep = await health('?deep=1');
  expect(deep.body.checks.files).toMatchObject({ ok: false, detail: expect.stringContaining(lostMask) });

  const broken = await check();
  expect(broken.code).toBe(1);
  for (const file of [lostMask, horsesRow!.storagePath, cutout]) expect(broken.stdout).toContain(file);
  const report = JSON.parse((await check('--json')).stdout);
  expect(report).toMatchObject({
    ok: false,
    missing: {
      count: 2,
      files: expect.arrayContaining([
        { imageId: eagle.id, kind: 'mask', path: lostMask },
        { imageId: horses.id, kind: 'original', path: horsesRow!.storagePath },
      ]),
    },
    unreferenced: { count: 1, files: [cutout] },
  });

  const repair = await check('--repair');
  expect(repair).toMatchObject({ code: 0, stderr: '' });
  expect(repair.stdout).toMatch(/re-queued 1 image/);
  expect(repair.stdout).toMatch(/marked 1 image FAILED/);
  expect(repair.stdout).toMatch(/quarantined 1 file/);

  // The server's worker segments the eagle again: DONE, with every mask on disk.
  await eventually(
    async () => (await images.findById(eagle.id))?.status === 'DONE',
    'the eagle segmented again',
    90_000,
  );
  const masks = await images.filesOf(eagle.id);
  expect(masks.length).toBeGreaterThan(1);
  for (const mask of masks) expect(existsSync(path.join(server.dataDir, mask))).toBe(true);
  expect(await images.findById(horses.id)).toMatchObject({ status: 'FAILED', error: MISSING_ORIGINAL });
  expect(existsSync(path.join(server.dataDir, cutout))).toBe(false);
  expect((await listTree(path.join(server.dataDir, 'quarantine'))).some((file) => file.endsWith(`/${cutout}`))).toBe(true);

  // What is left is the lost original, until that image is uploaded again or deleted.
  const after = await check();
  expect(after.code).toBe(1);
  expect(after.stdout).toContain(horsesRow!.storagePath);
  expect(after.stdout).not.toContain(lostMask);
  await server.graphql('mutation($id: ID!) { deleteImage(input: { id: $id }) { id } }', { id: horses.id });
  expect(await check()).toMatchObject({ code: 0 });
}, 300_000);
