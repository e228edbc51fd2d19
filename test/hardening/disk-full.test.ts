/**
 * A full disk, for real: DATA_DIR on an 8 MB tmpfs filled up to a chosen number of free bytes.
 * Every write that cannot be stored (upload spool and temporary file, original, thumbnail, masks,
 * cut-outs, overlay) answers INSUFFICIENT_STORAGE (HTTP 507) without a server path, and leaves no
 * partial file and no row; /health says the space is low; and everything works again once there
 * is room.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { photo, startTestServer, type TestServer } from '../support/server.js';
import { mountSmallDisk, smallDiskUnavailable, type SmallDisk } from '../support/small-disk.js';
import { eventually, listTree } from './raw-http.js';

const UPLOAD = `mutation($file: Upload!, $wait: Boolean) { uploadImage(input: { file: $file, wait: $wait }) { image { id status } } }`;
const EXTRACT = `mutation($id: ID!) { extractSegments(input: { imageId: $id, format: WEBP }) { extractions { path } } }`;
const FULL_MESSAGE = "the server's disk is full; try again later";
const PAGE = 4096;

const unavailable = await smallDiskUnavailable();
// CI runs as root; elsewhere these tests need it, and say so rather than pass for nothing.
if (unavailable && process.env.CI) throw new Error(unavailable);
const describeOnSmallDisk = unavailable ? describe.skip : describe;
if (unavailable) console.warn(`skipping the full-disk tests: ${unavailable}`);

describeOnSmallDisk('a full DATA_DIR', () => {
  let disk: SmallDisk;
  let server: TestServer;
  let dog: Buffer;
  /** What DATA_DIR holds with an empty catalogue. */
  let empty: string[];

  beforeAll(async () => {
    disk = await mountSmallDisk(8);
    // The worker stays off: each test runs segmentation itself, when the disk is as it wants.
    server = await startTestServer({ DATA_DIR: disk.dir, SEGCAT_EMBEDDED_WORKER: 'false', SEGCAT_MIN_FREE_MB: '2' });
    dog = await photo('dog.jpg');
    empty = await files();
  });

  afterAll(async () => {
    await server?.stop();
    await disk?.remove();
  });

  afterEach(async () => {
    await disk.unfill();
    for (const { id } of await server.runtime.database.prisma.image.findMany({ select: { id: true } })) {
      await server.runtime.services.ingest.deleteImage(id);
    }
    // libvips's operation cache keeps the files it read mapped, so a deleted original's space
    // comes back only when it is evicted: that would be in the middle of the next test.
    const { memory, files: open, items } = sharp.cache();
    sharp.cache(false);
    sharp.cache({ memory: memory.max, files: open.max, items: items.max });
  });

  /** Files under DATA_DIR (the filler aside). */
  const files = async (under = '') => (await listTree(path.join(disk.dir, under))).filter((file) => file !== '.filler');

  /**
   * Uploads dog.jpg with room for it; resolves once its spool is gone (a moment after the
   * response), so that a test filling the disk next gets the free space it asks for.
   */
  async function uploadedDog(): Promise<string> {
    const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'dog.jpg', data: dog }], { wait: false });
    expect(response.errors).toBeUndefined();
    await eventually(async () => (await readdir(path.join(disk.dir, 'tmp'))).length === 0, 'the spool removed');
    return response.data.uploadImage.image.id;
  }

  /** Uploads dog.jpg with room for it, and segments it. */
  async function storedDog(): Promise<string> {
    const id = await uploadedDog();
    expect(await server.runtime.services.segmentation.segmentImage(id, { lastAttempt: true })).toBe('done');
    return id;
  }

  function expectDiskFull(response: { status: number; errors?: { message: string; extensions?: { code?: string } }[] }) {
    expect(response.status).toBe(507);
    expect(response.errors).toHaveLength(1);
    expect(response.errors![0]!.extensions?.code).toBe('INSUFFICIENT_STORAGE');
    expect(response.errors![0]!.message).toBe(FULL_MESSAGE);
  }

  /** Pages (what tmpfs counts) that `copies` copies of dog.jpg take. */
  const pagesFor = (copies: number) => copies * Math.ceil(dog.length / PAGE) * PAGE;

  // The upload is spooled (one copy), received into a temporary file (a second), moved into place,
  // then its thumbnail is written.
  it.each([
    ['no room at all', () => 0],
    ['room for the spool only', () => pagesFor(1.5)],
    ['room for both copies but not the thumbnail', () => pagesFor(2)],
  ])(
    'refuses an upload with %s: 507 INSUFFICIENT_STORAGE, no row, no file',
    async (_, free) => {
      await disk.leaveFree(free());
      const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'dog.jpg', data: dog }], { wait: false });
      expectDiskFull(response);
      expect(await server.runtime.database.prisma.image.count()).toBe(0);
      // The spool goes when the response has closed, a moment after the client has its answer.
      await eventually(async () => (await files()).length === empty.length, 'the spool removed');
      expect(await files()).toEqual(empty);

      await disk.unfill();
      const id = await uploadedDog();
      expect(await server.runtime.database.prisma.image.findUnique({ where: { id } })).toMatchObject({ status: 'PENDING' });
    },
  );

  it('does not record masks it could not write: retried, then FAILED with a clear reason', async () => {
    const id = await uploadedDog();
    const stored = await files();
    await disk.leaveFree(0);
    const { segmentation } = server.runtime.services;
    await expect(segmentation.segmentImage(id, { lastAttempt: false })).rejects.toThrow(FULL_MESSAGE);
    expect(await segmentation.segmentImage(id, { lastAttempt: true })).toBe('failed');
    const image = await server.runtime.database.prisma.image.findUnique({ where: { id } });
    expect(image).toMatchObject({ status: 'FAILED', error: `segmentation failed: ${FULL_MESSAGE}`, backgroundMaskPath: null });
    expect(await server.runtime.database.prisma.segment.count()).toBe(0);
    expect(await files()).toEqual(stored);

    await disk.unfill();
    await server.runtime.services.queue.resegment({ ids: [id] });
    expect(await segmentation.segmentImage(id, { lastAttempt: true })).toBe('done');
    expect((await files('masks')).length).toBeGreaterThan(1);
  });

  it('refuses a cut-out on a full disk: 507 INSUFFICIENT_STORAGE, no file, no row', async () => {
    const id = await storedDog();
    const stored = await files();
    await disk.leaveFree(0);
    expectDiskFull(await server.graphql(EXTRACT, { id }));
    expect(await server.runtime.database.prisma.extraction.count()).toBe(0);
    expect(await files()).toEqual(stored);

    await disk.unfill();
    const made = await server.graphql(EXTRACT, { id });
    expect(made.errors).toBeUndefined();
    expect(made.data.extractSegments.extractions.length).toBeGreaterThan(0);
  });

  it('refuses an overlay on a full disk with 507 INSUFFICIENT_STORAGE, and leaves no file', async () => {
    const id = await storedDog();
    await disk.leaveFree(0);
    const refused = await fetch(`${server.url}/overlays/${id}.jpg`);
    expect(refused.status).toBe(507);
    expect(await refused.json()).toEqual({ errors: [{ message: FULL_MESSAGE, extensions: { code: 'INSUFFICIENT_STORAGE' } }] });
    expect(await readdir(path.join(disk.dir, 'overlays', id)).catch(() => [])).toEqual([]);

    await disk.unfill();
    const served = await fetch(`${server.url}/overlays/${id}.jpg`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/jpeg');
  });

  it('/health reports free space below SEGCAT_MIN_FREE_MB as degraded', async () => {
    const healthy = await fetch(`${server.url}/health`);
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toMatchObject({ status: 'ok', checks: { disk: { ok: true, detail: expect.stringMatching(/^\d+ MB free$/) } } });

    await disk.leaveFree(1024 * 1024);
    const low = await fetch(`${server.url}/health`);
    // Reads still work, and every server sharing DATA_DIR sees the same disk: not a reason to
    // take them all out of a load balancer.
    expect(low.status).toBe(200);
    expect(await low.json()).toMatchObject({
      status: 'degraded',
      checks: { database: { ok: true }, disk: { ok: false, detail: expect.stringMatching(/^\d+ MB free, below SEGCAT_MIN_FREE_MB \(2 MB\)$/) } },
    });
  });
});
