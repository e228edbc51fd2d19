/**
 * The file store's contract, run on both backends: the filesystem (DATA_DIR) and a real
 * S3-compatible server (OpenStack Swift with s3api, started here). Writes, reads and streams,
 * listing in pages, removal of files and folders, the quarantine, the catalogue marker, what /files
 * may serve, uploads in flight, and what `init` clears after a crash.
 */
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { CatalogueMismatchError, ensureCatalogueIdentity, type CatalogueRecord } from '../../src/storage/catalogue-identity.js';
import { StoredFileMissingError, type FileStore, type ObjectRead } from '../../src/storage/file-store.js';
import { LocalFileStore } from '../../src/storage/local-file-store.js';
import { S3FileStore } from '../../src/storage/s3-file-store.js';
import { backendsUnderTest, startS3TestServer, SWIFT_START_TIMEOUT_MS, type S3TestServer } from '../support/s3.js';

const backends = backendsUnderTest();
/** S3's smallest part: a stream longer than this is uploaded in parts. */
const PART = 5 * 1024 * 1024;

let s3: S3TestServer | undefined;
let bucket: string;
const dataDirs: string[] = [];
/** The key prefix of each S3 store made here. */
const prefixes = new WeakMap<FileStore, string>();

beforeAll(async () => {
  if (!backends.includes('s3')) return;
  s3 = await startS3TestServer();
  bucket = await s3.createBucket();
}, SWIFT_START_TIMEOUT_MS);

afterAll(async () => {
  await s3?.stop();
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

/** A new, empty store of the backend: its own DATA_DIR, and (S3) its own prefix in the suite's bucket. */
async function newStore(backend: 'fs' | 's3', options: { pageSize?: number; bucket?: string; presign?: boolean } = {}): Promise<FileStore> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-store-'));
  dataDirs.push(dataDir);
  if (backend === 'fs') return new LocalFileStore(dataDir);
  const env = { ...s3!.env(options.bucket ?? bucket, `run-${randomUUID()}`), DATA_DIR: dataDir, S3_PRESIGN: String(options.presign ?? false) };
  const settings = loadConfig(env).s3!;
  const store = new S3FileStore(settings, dataDir, { listPageSize: options.pageSize, partSizeBytes: PART });
  prefixes.set(store, settings.prefix);
  return store;
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe.each(backends)('the %s file store', (backend) => {
  let store: FileStore;

  beforeEach(async () => {
    store = await newStore(backend);
    await store.init();
  });

  afterEach(async () => {
    await store.close();
  });

  it('reads back what it wrote, whole, and says clearly when a file is missing', async () => {
    const imageId = randomUUID();
    const mask = randomBytes(3000);
    await store.write(`masks/${imageId}/m1.png`, mask);
    expect(await store.read(`masks/${imageId}/m1.png`)).toEqual(mask);
    expect(await bytesOf(await store.readStream(`masks/${imageId}/m1.png`))).toEqual(mask);
    expect(await store.exists(`masks/${imageId}/m1.png`)).toBe(true);
    expect(await store.stat(`masks/${imageId}/m1.png`)).toMatchObject({ bytes: 3000 });
    expect(Math.abs(Date.now() - (await store.modifiedAt(`masks/${imageId}/m1.png`))!)).toBeLessThan(60_000);
    // Written again: replaced whole.
    await store.write(`masks/${imageId}/m1.png`, Buffer.from('second'));
    expect((await store.read(`masks/${imageId}/m1.png`)).toString()).toBe('second');

    const missing = store.read(`masks/${imageId}/none.png`);
    await expect(missing).rejects.toBeInstanceOf(StoredFileMissingError);
    await expect(missing).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringMatching(/masks\/.*\/none\.png: no such file$/) });
    await expect(store.readStream(`masks/${imageId}/none.png`)).rejects.toBeInstanceOf(StoredFileMissingError);
    expect(await store.exists(`masks/${imageId}/none.png`)).toBe(false);
    expect(await store.stat(`masks/${imageId}/none.png`)).toBeUndefined();
  });

  it('writes a batch of files, and streams larger than a part in parts', async () => {
    const imageId = randomUUID();
    const files = Array.from({ length: 12 }, (_, index) => ({ path: `masks/${imageId}/yolo/m${index}.png`, data: randomBytes(500 + index) }));
    await store.writeMany(files);
    for (const file of files) expect(await store.read(file.path)).toEqual(file.data);

    // 2.4 parts, sent in chunks as a network upload would arrive.
    const big = randomBytes(Math.floor(PART * 2.4));
    const chunks = Array.from({ length: Math.ceil(big.length / 65536) }, (_, index) => big.subarray(index * 65536, (index + 1) * 65536));
    await store.writeStream(`exports/${randomUUID()}.json`, Readable.from(chunks));
    const [exported] = await store.listFiles('exports');
    expect(sha256(await bytesOf(await store.readStream(exported!)))).toBe(sha256(big));
    expect((await store.stat(exported!))!.bytes).toBe(big.length);
  });

  it('lists every stored file in pages, and lists what rows may point to', async () => {
    const paged = await newStore(backend, { pageSize: 3 });
    await paged.init();
    const imageId = randomUUID();
    const names = Array.from({ length: 7 }, (_, index) => `masks/${imageId}/yolo/m${index}.png`);
    await paged.writeMany(names.map((name) => ({ path: name, data: Buffer.from(name) })));
    await paged.write(`thumbnails/ab/${'ab'.padEnd(64, '0')}.webp`, Buffer.from('thumb'));
    await paged.write(`exports/${randomUUID()}.json`, Buffer.from('{}'));

    const pages: string[][] = [];
    for await (const page of paged.list('masks', { pageSize: 3 })) pages.push(page.map((entry) => entry.path));
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(names);
    expect(await paged.listFiles('masks')).toEqual(names);
    // Exports have no row, so integrity checks leave them out.
    expect((await paged.listStoredFiles()).sort()).toEqual([...names, `thumbnails/ab/${'ab'.padEnd(64, '0')}.webp`].sort());
    await paged.close();
  });

  it('removes files, and folders with everything below them', async () => {
    const [imageId, otherId] = [randomUUID(), randomUUID()];
    await store.writeMany([
      { path: `masks/${imageId}/yolo/a.png`, data: Buffer.from('a') },
      { path: `masks/${imageId}/other/b.png`, data: Buffer.from('b') },
      { path: `masks/${otherId}/yolo/c.png`, data: Buffer.from('c') },
      { path: `cutouts/${imageId}/white.png`, data: Buffer.from('d') },
    ]);
    await store.remove([`masks/${imageId}`, `cutouts/${imageId}/white.png`, `overlays/${randomUUID()}`]);
    expect(await store.listStoredFiles()).toEqual([`masks/${otherId}/yolo/c.png`]);
    // A folder's name is not a prefix of its neighbours': masks/<id> leaves masks/<id>x alone.
    await store.write(`masks/${imageId}x/d.png`, Buffer.from('d'));
    await store.remove([`masks/${imageId}`]);
    expect(await store.exists(`masks/${imageId}x/d.png`)).toBe(true);
  });

  it('quarantines files under their own path, keeps them from listings and /files, and purges them after their retention', async () => {
    const imageId = randomUUID();
    await store.writeMany([
      { path: `masks/${imageId}/yolo/orphan.png`, data: Buffer.from('orphan') },
      { path: `masks/${imageId}/yolo/kept.png`, data: Buffer.from('kept') },
    ]);
    const run = store.quarantine.startRun();
    expect(await run.move(`masks/${imageId}/yolo/orphan.png`)).toBe(true);
    expect(await run.move(`masks/${imageId}/yolo/gone.png`)).toBe(false);
    expect(await store.listStoredFiles()).toEqual([`masks/${imageId}/yolo/kept.png`]);
    expect(await store.exists(`masks/${imageId}/yolo/orphan.png`)).toBe(false);
    expect(await store.served(`quarantine/x/masks/${imageId}/yolo/orphan.png`)).toBeUndefined();

    expect(await store.quarantine.purge(24 * 60 * 60_000)).toBe(0);
    expect(await store.quarantine.purge(0)).toBe(1);
    expect(await store.quarantine.purge(0)).toBe(0);
  });

  it('keeps the catalogue marker as a file of its own, and refuses another catalogue', async () => {
    let held: string | undefined;
    const database = (id?: string): CatalogueRecord => {
      held = id;
      return { id: async () => held, claim: async (claimed) => (held ??= claimed), referencedFiles: async () => new Set<string>() };
    };
    const id = await ensureCatalogueIdentity({ store, database: database(), databaseName: 'the test database' });
    expect(JSON.parse((await store.read('catalogue.json')).toString())).toMatchObject({ id });
    expect(await store.listStoredFiles()).toEqual([]);
    // The same database again: accepted.
    expect(await ensureCatalogueIdentity({ store, database: database(id), databaseName: 'the test database' })).toBe(id);
    const other = ensureCatalogueIdentity({ store, database: database(randomUUID()), databaseName: 'the other database' });
    await expect(other).rejects.toBeInstanceOf(CatalogueMismatchError);
    await expect(other).rejects.toThrow(`${store.location} belongs to catalogue ${id}, but the other database is catalogue`);

    await store.write('catalogue.json', Buffer.from('not json'));
    await expect(ensureCatalogueIdentity({ store, database: database(id), databaseName: 'x' })).rejects.toThrow(
      `${store.where('catalogue.json')} is damaged`,
    );
  });

  it('serves only what it wrote under the served roots', async () => {
    const imageId = randomUUID();
    const data = randomBytes(2000);
    await store.write(`masks/${imageId}/yolo/m.png`, data);
    for (const refused of [`../masks/${imageId}/yolo/m.png`, 'catalogue.json', `tmp/x.png`, `masks/${imageId}/yolo/m.png.tmp`, `masks/${imageId}/.m.png`, `masks/${imageId}/yolo/m.svg`]) {
      expect(`${refused}: ${await store.served(refused)}`).toBe(`${refused}: undefined`);
    }
    const source = await store.served(`masks/${imageId}/yolo/m.png`);
    if (backend === 'fs') {
      expect(source).toEqual({ kind: 'local', path: path.join((store as LocalFileStore).root, 'masks', imageId, 'yolo', 'm.png') });
      return;
    }
    if (source?.kind !== 'object') throw new Error(`expected an object, got ${JSON.stringify(source)}`);
    const read = (await source.open({})) as Extract<ObjectRead, { notModified: false }>;
    expect(read.bytes).toBe(2000);
    expect(await bytesOf(read.stream)).toEqual(data);
    expect(await source.open({ ifNoneMatch: read.etag })).toEqual({ notModified: true, etag: read.etag });
    await store.remove([`masks/${imageId}`]);
    expect(await source.open({})).toBeUndefined();
  });

  it('receives uploads on the local disk and stores them only when committed', async () => {
    const photo = randomBytes(PART + 1000);
    const temp = await store.receive(Readable.from([photo]), photo.length);
    expect(temp).toMatchObject({ bytes: photo.length, sha256: sha256(photo) });
    expect(path.dirname(temp.path)).toBe(store.tmpDir());
    expect(await store.readTempHead(temp, 4)).toEqual(photo.subarray(0, 4));
    const original = `originals/${temp.sha256.slice(0, 2)}/${temp.sha256}.jpg`;
    expect(await store.exists(original)).toBe(false);
    await store.commitTemp(temp, original);
    await store.discardTemp(temp);
    expect(sha256(await store.read(original))).toBe(temp.sha256);
    expect(existsSync(temp.path)).toBe(false);
    if (backend === 's3') expect((await store.stat(original))!.sha256).toBe(temp.sha256);
  });

  it('assembles a file written in sections and stores it on commit', async () => {
    const relative = `exports/${randomUUID()}.json`;
    const file = await store.createSectionedFile(relative, 2);
    await file.write(0, '{"images":[1,2');
    await file.write(1, '],"annotations":[3]}');
    await file.write(0, ',3');
    expect(await store.exists(relative)).toBe(false);
    await file.commit();
    expect(JSON.parse((await store.read(relative)).toString())).toEqual({ images: [1, 2, 3], annotations: [3] });
    expect(await readdir(store.tmpDir())).toEqual([]);
  });

  it('removes at start what a crash left in flight', async () => {
    await store.receive(Readable.from([Buffer.from('half an upload')]), 1000);
    if (backend === 's3') {
      const { client } = s3!;
      const key = `${prefixes.get(store)}originals/ab/interrupted.jpg`;
      await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const uploads = async () => (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }))).Uploads ?? [];
      expect(await uploads()).toHaveLength(1);
      // Another process's fresh leftovers are not ours to clear.
      expect(await store.init(60 * 60_000)).toBe(0);
      expect(await store.init()).toBe(2);
      expect(await uploads()).toHaveLength(0);
    } else {
      expect(await store.init(60 * 60_000)).toBe(0);
      expect(await store.init()).toBe(1);
    }
    expect(await readdir(store.tmpDir())).toEqual([]);
  });
});

(backends.includes('s3') ? describe : describe.skip)('the s3 backend alone', () => {
  const backend = 's3';
  it('refuses to start on a bucket that does not exist, saying which', async () => {
    const store = await newStore(backend, { bucket: 'segcat-no-such-bucket' });
    const missing = /^bucket segcat-no-such-bucket at http:\/\/127\.0\.0\.1:\d+ does not exist: create it \(aws s3 mb s3:\/\/segcat-no-such-bucket\) or set S3_BUCKET$/;
    await expect(store.init()).rejects.toThrow(missing);
    // Start-up reads the catalogue marker before anything else: the same message.
    await expect(store.read('catalogue.json')).rejects.toThrow(missing);
    await store.close();
  });

  it('refuses wrong credentials, saying which settings to check', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-store-'));
    dataDirs.push(dataDir);
    const settings = loadConfig({ ...s3!.env(bucket), DATA_DIR: dataDir, AWS_SECRET_ACCESS_KEY: 'wrong' }).s3!;
    const store = new S3FileStore(settings, dataDir);
    const refused = /^bucket segcat-test-\w+ at http:\/\/127\.0\.0\.1:\d+ refused the credentials \(\w+\): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY$/;
    await expect(store.init()).rejects.toThrow(refused);
    await expect(store.read('catalogue.json')).rejects.toThrow(refused);
    await store.close();
  });

  it('hands out presigned URLs only with S3_PRESIGN, which read the object without credentials', async () => {
    const store = await newStore(backend, { presign: true });
    await store.init();
    const data = randomBytes(1234);
    await store.write(`thumbnails/ab/${'ab'.padEnd(64, '1')}.webp`, data);
    const url = (await store.presignedUrl(`thumbnails/ab/${'ab'.padEnd(64, '1')}.webp`))!;
    expect(url).toMatch(/X-Amz-Expires=300/);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(data);
    // The same key unsigned is refused (Swift answers 400, AWS 403).
    expect((await fetch(url.split('?')[0]!)).status).toBeGreaterThanOrEqual(400);
    await store.close();
    const plain = await newStore(backend);
    expect(await plain.presignedUrl(`thumbnails/ab/${'ab'.padEnd(64, '1')}.webp`)).toBeUndefined();
    await plain.close();
  });

  it('lists what another writer put under the prefix, and nothing outside it', async () => {
    const store = await newStore(backend);
    await store.init();
    const prefix = prefixes.get(store)!;
    const imageId = randomUUID();
    await s3!.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}masks/${imageId}/x.png`, Body: 'x' }));
    await s3!.client.send(new PutObjectCommand({ Bucket: bucket, Key: `elsewhere/masks/${imageId}/y.png`, Body: 'y' }));
    expect(await store.listStoredFiles()).toEqual([`masks/${imageId}/x.png`]);
    await store.close();
  });
});
