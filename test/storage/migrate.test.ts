/**
 * `segcat storage migrate`: a filesystem catalogue copied into a bucket (Swift's s3api), served
 * from there and checked clean; copied back into a new DATA_DIR, byte for byte (sha256 of every
 * file); an interrupted or damaged copy resumed by running the command again; a bucket of another
 * catalogue refused.
 */
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listTree } from '../hardening/raw-http.js';
import { runSegcat } from '../support/cli.js';
import { s3Available, startS3TestServer, SWIFT_START_TIMEOUT_MS, type S3TestServer } from '../support/s3.js';
import { startTestServer, uploadPhotos, type TestServer } from '../support/server.js';

let s3: S3TestServer;
let source: TestServer;
let bucket: string;
const dirs: string[] = [];

(s3Available() ? describe : describe.skip)('segcat storage migrate', () => {
  beforeAll(async () => {
    s3 = await startS3TestServer();
    bucket = await s3.createBucket();
    source = await startTestServer();
  }, SWIFT_START_TIMEOUT_MS);

  afterAll(async () => {
    await source?.stop();
    await s3?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** `segcat storage migrate --to <to>` with the bucket's settings, on the source's database. */
  const migrate = (to: 's3' | 'fs', dataDir = source.dataDir) =>
    runSegcat(['storage', 'migrate', '--to', to], { ...s3.env(bucket, 'moved'), STORAGE: 'fs', DATA_DIR: dataDir, DATABASE_URL: source.databaseUrl });

  /** sha256 of every stored file under a DATA_DIR (the spool and the quarantine left out), by path. */
  async function digests(dataDir: string): Promise<Record<string, string>> {
    const files = (await listTree(dataDir)).filter((file) => !/^(tmp|quarantine)\//.test(file));
    const entries = await Promise.all(files.map(async (file) => [file, createHash('sha256').update(await readFile(path.join(dataDir, file))).digest('hex')]));
    return Object.fromEntries(entries);
  }

  it('copies a catalogue into a bucket and back, verifying every file, and resumes where it stopped', async () => {
    const ids = await uploadPhotos(source, ['dog.jpg', 'eagle.jpg']);
    const cut = await source.graphql('mutation($id: ID!) { extractSegments(input: { imageId: $id }) { extractions { path } } }', { id: ids.get('dog.jpg') });
    expect(cut.data.extractSegments.extractions.length).toBeGreaterThan(0);
    const original = await digests(source.dataDir);
    const count = Object.keys(original).length - 1; // catalogue.json is copied apart

    const first = await migrate('s3');
    expect(first.stderr).toBe('');
    expect(first.stdout).toContain(`: ${count} files, copied ${count} (`);
    expect(first.stdout).toContain('already there 0, failed 0; each verified by sha256');
    expect(first.code).toBe(0);

    // Run again: nothing to copy. Then a lost object and a damaged one: only those are copied.
    expect((await migrate('s3')).stdout).toContain(`copied 0 (0 bytes), already there ${count}, failed 0`);
    const [lost, damaged] = Object.keys(original).filter((file) => file.startsWith('masks/'));
    await s3.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `moved/${lost}` }));
    const damagedBytes = await readFile(path.join(source.dataDir, damaged!));
    damagedBytes[damagedBytes.length - 1] ^= 0xff;
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: `moved/${damaged}`, Body: damagedBytes }));
    const resumed = await migrate('s3');
    expect(resumed.stdout).toContain(`copied 2 (`);
    expect(resumed.stdout).toContain(`already there ${count - 2}, failed 0`);

    // The bucket serves the catalogue, and `segcat check` on it finds nothing wrong.
    const onBucket = await startTestServer({ ...s3.env(bucket, 'moved') }, { sharing: source });
    try {
      const image = await onBucket.graphql('query($id: ID!) { image(id: $id) { url segments { maskUrl } } }', { id: ids.get('eagle.jpg') });
      const served = await fetch(image.data.image.url);
      expect(Buffer.from(await served.arrayBuffer())).toEqual(await readFile(path.join(source.dataDir, new URL(image.data.image.url).pathname.slice('/files/'.length))));
      expect((await fetch(image.data.image.segments[0].maskUrl)).status).toBe(200);
    } finally {
      await onBucket.stop();
    }
    const checked = await runSegcat(['check'], { ...s3.env(bucket, 'moved'), DATA_DIR: source.dataDir, DATABASE_URL: source.databaseUrl });
    expect(checked.stdout).toMatch(/^checked 2 images \(\d+ files\) and \d+ stored files: no problems\n$/);
    expect(checked.code).toBe(0);

    // And back, into a new DATA_DIR: the same files, byte for byte.
    const back = await mkdtemp(path.join(os.tmpdir(), 'segcat-migrated-'));
    dirs.push(back);
    const returned = await migrate('fs', back);
    expect(returned.stdout).toContain(`copied ${count} (`);
    expect(returned.code).toBe(0);
    expect(await digests(back)).toEqual(original);
    const checkedBack = await runSegcat(['check'], { DATA_DIR: back, DATABASE_URL: source.databaseUrl });
    expect(checkedBack.stdout).toMatch(/no problems\n$/);
    expect(checkedBack.code).toBe(0);
  });

  it('refuses a bucket that holds another catalogue', async () => {
    const other = await startTestServer();
    try {
      const refused = await runSegcat(['storage', 'migrate', '--to', 's3'], { ...s3.env(bucket, 'moved'), STORAGE: 'fs', DATA_DIR: other.dataDir, DATABASE_URL: other.databaseUrl });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^segcat: bucket s3:\/\/segcat-test-\w+\/moved\/ belongs to catalogue [0-9a-f-]{36}, but DATA_DIR \S+ is catalogue [0-9a-f-]{36}: migrate into an empty place \(a new S3_BUCKET and S3_PREFIX\)\n$/);
    } finally {
      await other.stop();
    }
  });
});
