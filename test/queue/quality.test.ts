/**
 * SEGCAT_QUALITY and the per-request quality, end to end: from GraphQL (`resegmentImages` with
 * `quality`), through the queue (the quality travels in the job, so whichever worker takes it
 * uses it), to the image's recorded model version; and the worker's own setting for jobs that
 * name none.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { registerResegmentCommand } from '../../src/cli/resegment.command.js';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { eventually } from '../hardening/raw-http.js';
import { runCommands } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { photo, startTestServer, type TestServer } from '../support/server.js';

const RESEGMENT = `mutation($input: ResegmentImagesInput!) { resegmentImages(input: $input) { queued batch { id } } }`;
const IMAGE = `query($id: ID!) { image(id: $id) { status modelName modelVersion labels } }`;
const UPLOAD = `mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id status modelVersion } } }`;

interface ImageState { status: string; modelName: string; modelVersion: string; labels: string[] }

describe('resegmentImages with a quality', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer(); });
  afterAll(() => server?.stop());

  async function settled(id: string, version: (v: string) => boolean): Promise<ImageState> {
    let image: ImageState | undefined;
    await eventually(async () => {
      image = (await server.graphql<{ image: ImageState }>(IMAGE, { id })).data!.image;
      return image.status === 'DONE' && version(image.modelVersion);
    }, 'image re-segmented', 90_000);
    return image!;
  }

  it('re-segments accurately on request, records it, and counts fast results as outdated for accurate', async () => {
    const uploaded = await server.upload<{ uploadImage: { image: { id: string; status: string; modelVersion: string } } }>(
      UPLOAD, [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }], { file: null });
    expect(uploaded.errors).toBeUndefined();
    const { id, status, modelVersion } = uploaded.data!.uploadImage.image;
    expect(status).toBe('DONE');
    expect(modelVersion).not.toMatch(/accurate/);

    const queued = await server.graphql<{ resegmentImages: { queued: number } }>(RESEGMENT, { input: { ids: [id], quality: 'ACCURATE' } });
    expect(queued.errors).toBeUndefined();
    expect(queued.data!.resegmentImages.queued).toBe(1);
    const accurate = await settled(id, (v) => v.endsWith('+accurate'));
    expect(accurate).toMatchObject({ modelName: 'yolo11n-seg-uint8', modelVersion: `${modelVersion}+accurate` });
    expect(accurate.labels).toContain('bird');

    // Done accurately: nothing is outdated at that quality, everything is for fast.
    const again = await server.graphql<{ resegmentImages: { queued: number } }>(RESEGMENT, { input: { outdated: true, quality: 'ACCURATE' } });
    expect(again.data!.resegmentImages.queued).toBe(0);
    const back = await server.graphql<{ resegmentImages: { queued: number } }>(RESEGMENT, { input: { outdated: true, quality: 'FAST' } });
    expect(back.data!.resegmentImages.queued).toBe(1);
    expect(await settled(id, (v) => v === modelVersion)).toMatchObject({ modelVersion });
  });

  it('refuses a quality that does not exist, naming the allowed ones', async () => {
    const response = await server.graphql(RESEGMENT, { input: { all: true, quality: 'BEST' } });
    expect(response.errors?.[0]?.message).toMatch(/SegmentationQuality/);
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('the quality in the queue', () => {
  let database: TestDatabase;
  let dataDir: string;
  let horsesId: string;
  const runtimes: Runtime[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-quality-'));
  });
  afterAll(async () => {
    for (const runtime of runtimes.splice(0)) await runtime.close();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** The segment_image jobs waiting, by image id. */
  async function jobs(): Promise<{ imageId: string; quality?: string }[]> {
    const rows = await database.prisma.$queryRawUnsafe<{ payload: { imageId: string; quality?: string } }[]>(
      'SELECT payload FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id WHERE t.identifier = $1',
      'segment_image',
    );
    return rows.map((row) => row.payload).sort((a, b) => a.imageId.localeCompare(b.imageId));
  }

  async function start(worker: boolean, quality: string): Promise<Runtime> {
    const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, SEGCAT_QUALITY: quality, SEGCAT_WORKER_CONCURRENCY: '1' });
    const runtime = await startRuntime(config, { http: false, worker, logger: pino({ level: 'silent' }) });
    runtimes.push(runtime);
    return runtime;
  }

  it('travels with the job: a fast worker segments accurately what was queued accurate, and its own quality otherwise', async () => {
    // Queued by a process without a worker; SEGCAT_QUALITY=accurate there is what uploads get.
    const producer = await start(false, 'accurate');
    const ingest = (name: string) => photo(name).then((data) => producer.services.ingest.ingest({ filename: name, stream: Readable.from(data) }, { wait: false }));
    const eagle = (await ingest('eagle.jpg')).image;
    const horses = (await ingest('horses.jpg')).image;
    horsesId = horses.id;
    await producer.services.queue.resegment({ ids: [eagle.id], quality: 'accurate' });
    expect(await jobs()).toEqual([{ imageId: eagle.id, quality: 'accurate' }, { imageId: horses.id }].sort((a, b) => a.imageId.localeCompare(b.imageId)));

    // A worker whose own setting is fast.
    const worker = await start(true, 'fast');
    await eventually(async () => (await worker.services.queue.counts()).done === 2, 'both images DONE', 90_000);
    const [eagleAfter, horsesAfter] = await worker.services.catalogue.imagesByIds([eagle.id, horses.id]);
    expect(eagleAfter!.modelVersion).toMatch(/\+accurate$/);
    expect(horsesAfter!.modelVersion).not.toMatch(/accurate/);
    expect(producer.models.current.model.version).toMatch(/\+accurate$/);
  });

  it('segcat resegment --quality accurate --no-wait queues jobs that carry the quality', async () => {
    const [worker] = runtimes.slice(-1);
    const saved = { ...process.env };
    Object.assign(process.env, { DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    try {
      const result = await runCommands([registerResegmentCommand], ['resegment', horsesId, '--quality', 'accurate', '--no-wait']);
      expect(result).toMatchObject({ code: 0, stderr: expect.stringMatching(/queued 1 image/) });
      expect(await runCommands([registerResegmentCommand], ['resegment', '--all', '--quality', 'best'])).toMatchObject({ code: 1 });
    } finally {
      process.env = saved;
    }
    // The fast worker still running from the test above takes it, at the job's quality.
    await eventually(async () => (await worker!.services.catalogue.imagesByIds([horsesId]))[0]?.modelVersion?.endsWith('+accurate') === true, 'horses re-segmented accurately', 90_000);
  });
});
