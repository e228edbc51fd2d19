/**
 * A whole catalogue on each backend, with the real model: upload → segment → search → cut-out →
 * delete, every file served through /files (with its ETag) and kept where STORAGE says; then
 * `segcat check` on the store, which finds a file no row points to and a lost mask, and `--repair`
 * moves the first into the quarantine (a prefix of the bucket, with S3).
 */
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { runSegcat } from '../support/cli.js';
import { backendsUnderTest, startS3TestServer, SWIFT_START_TIMEOUT_MS, type S3TestServer } from '../support/s3.js';
import { photo, startTestServer, type TestServer } from '../support/server.js';
import { listTree, rawRequest } from '../hardening/raw-http.js';

const backends = backendsUnderTest();
let s3: S3TestServer | undefined;

beforeAll(async () => {
  if (backends.includes('s3')) s3 = await startS3TestServer();
}, SWIFT_START_TIMEOUT_MS);

afterAll(async () => {
  await s3?.stop();
});

const UPLOAD = `mutation($file: Upload!) {
  uploadImage(input: { file: $file }) { image { id status url thumbnailUrl backgroundMaskUrl overlayUrl segments { id label maskPath maskUrl } } }
}`;

describe.each(backends)('a catalogue on the %s backend', (backend) => {
  let server: TestServer;
  let env: Record<string, string>;
  /** Every key in the bucket under the catalogue's prefix (S3), or every file under DATA_DIR's stored roots (fs). */
  let storedFiles: () => Promise<string[]>;

  beforeAll(async () => {
    if (backend === 's3') {
      const bucket = await s3!.createBucket();
      env = s3!.env(bucket, 'catalogue/');
      storedFiles = async () => {
        const listed = await s3!.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'catalogue/' }));
        return (listed.Contents ?? []).map((object) => object.Key!.slice('catalogue/'.length)).sort();
      };
    } else {
      env = {};
      storedFiles = async () => (await listTree(server.dataDir)).filter((file) => !file.startsWith('tmp/'));
    }
    // Files these tests leave unreferenced are seconds old: count them at once.
    server = await startTestServer({ ...env, SEGCAT_STALE_MINUTES: '0' });
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** `segcat check` on the server's database and store. */
  const check = (...args: string[]) =>
    runSegcat(['check', ...args], { ...env, DATABASE_URL: server.databaseUrl, DATA_DIR: server.dataDir, SEGCAT_STALE_MINUTES: '0' });

  it('uploads, segments, searches, cuts out and deletes, with every file in the store', async () => {
    const dog = await photo('dog.jpg');
    const uploaded = await server.upload(UPLOAD, [{ variable: 'file', name: 'dog.jpg', data: dog }]);
    expect(uploaded.errors).toBeUndefined();
    const image = uploaded.data.uploadImage.image;
    expect(image.status).toBe('DONE');
    expect(image.segments.map((segment: { label: string }) => segment.label)).toContain('dog');
    if (backend === 's3') {
      // Nothing stored on the local disk: DATA_DIR holds only the spool.
      expect((await listTree(server.dataDir)).filter((file) => !file.startsWith('tmp/'))).toEqual([]);
    }
    const stored = await storedFiles();
    expect(stored).toEqual(expect.arrayContaining(['catalogue.json', ...image.segments.map((segment: { maskPath: string }) => segment.maskPath)]));
    expect(stored.filter((file) => file.startsWith('originals/'))).toHaveLength(1);

    const original = await fetch(image.url);
    expect(original.status).toBe(200);
    expect(original.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await original.arrayBuffer())).toEqual(dog);
    // fetch() adds Cache-Control: no-cache to a conditional request, which express answers in full.
    const revalidated = await rawRequest(server.url, { path: new URL(image.url).pathname, headers: { 'if-none-match': original.headers.get('etag')! } });
    expect(revalidated.status).toBe(304);
    for (const url of [image.thumbnailUrl, image.backgroundMaskUrl, image.segments[0].maskUrl, image.overlayUrl]) {
      const response = await fetch(url);
      expect(`${url} ${response.status}`).toBe(`${url} 200`);
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }

    const found = await server.graphql('{ images(filter: { labels: ["dog"] }) { edges { node { id } } } }');
    expect(found.data.images.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([image.id]);

    const dogSegment = image.segments.find((segment: { label: string }) => segment.label === 'dog');
    const cut = await server.graphql('mutation($id: ID!) { extractSegment(input: { segmentId: $id }) { extraction { url path width height } } }', { id: dogSegment.id });
    const extraction = cut.data.extractSegment.extraction;
    const cutout = await fetch(extraction.url);
    expect(cutout.status).toBe(200);
    expect(cutout.headers.get('content-type')).toBe('image/png');
    expect(await storedFiles()).toContain(extraction.path);

    const deleted = await server.graphql('mutation($id: ID!) { deleteImage(input: { id: $id }) { id } }', { id: image.id });
    expect(deleted.data.deleteImage.id).toBe(image.id);
    expect(await storedFiles()).toEqual(['catalogue.json']);
    expect((await fetch(image.url)).status).toBe(404);
    expect((await fetch(extraction.url)).status).toBe(404);
  });

  it('checks the store with segcat check, and --repair quarantines what no row points to', async () => {
    const uploaded = await server.upload(UPLOAD, [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }]);
    const image = uploaded.data.uploadImage.image;
    const clean = await check();
    expect(clean.stderr).toBe('');
    expect(clean.stdout).toMatch(/^checked 1 image \(\d+ files\) and \d+ stored files: no problems\n$/);
    expect(clean.code).toBe(0);

    const orphan = `masks/${randomUUID()}/yolo11n-seg-uint8/morphan.png`;
    if (backend === 's3') {
      await s3!.client.send(new PutObjectCommand({ Bucket: env.S3_BUCKET, Key: `catalogue/${orphan}`, Body: 'orphan' }));
    } else {
      await mkdir(path.dirname(path.join(server.dataDir, orphan)), { recursive: true });
      await writeFile(path.join(server.dataDir, orphan), 'orphan');
    }
    const found = await check();
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`files → rows: 1 file no row points to\n  ${orphan}\n`);

    const repaired = await check('--repair');
    expect(repaired.stdout).toMatch(/quarantined 1 file/);
    expect(repaired.code).toBe(0);
    const after = await storedFiles();
    expect(after.filter((file) => file.startsWith('quarantine/') && file.endsWith(`/${orphan}`))).toHaveLength(1);
    expect(after).not.toContain(orphan);
    expect((await check()).code).toBe(0);
    // The image's own files were left alone.
    expect((await fetch(image.url)).status).toBe(200);
  });
});

(backends.includes('s3') ? describe : describe.skip)('presigned URLs to the bucket', () => {
  const READ_KEY = 'presign-read-key-0123456789abcdef';
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ ...s3!.env(await s3!.createBucket()), S3_PRESIGN: 'true', S3_PRESIGN_EXPIRES_SECONDS: '120', SEGCAT_READ_KEY: READ_KEY });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('are handed out only to callers with the read key, and read the files directly for a short while', async () => {
    const auth = { authorization: `Bearer ${READ_KEY}` };
    const horses = await photo('horses.jpg');
    const uploaded = await server.upload(UPLOAD, [{ variable: 'file', name: 'horses.jpg', data: horses }], {}, auth);
    const image = uploaded.data.uploadImage.image;
    for (const url of [image.url, image.thumbnailUrl, image.backgroundMaskUrl, image.segments[0].maskUrl]) {
      expect(url.startsWith(`${s3!.endpoint}/`)).toBe(true);
      expect(url).toMatch(/X-Amz-Expires=120&.*X-Amz-Signature=[0-9a-f]{64}/);
    }
    // Overlays are drawn on request: they stay a route of segcat's.
    expect(image.overlayUrl.startsWith(server.url)).toBe(true);
    const direct = await fetch(image.url);
    expect(direct.status).toBe(200);
    expect(Buffer.from(await direct.arrayBuffer())).toEqual(horses);

    const anonymous = await server.graphql('query($id: ID!) { image(id: $id) { url } }', { id: image.id });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(anonymous)).not.toContain('X-Amz-Signature');
    const keyed = await server.graphql('query($id: ID!) { image(id: $id) { url } }', { id: image.id }, auth);
    expect(keyed.data.image.url).toMatch(/X-Amz-Signature=/);

    // /files/ still proxies, behind the read key.
    const proxied = `${server.url}/files/${new URL(image.url).pathname.split('/').slice(2).join('/')}`;
    expect((await fetch(proxied)).status).toBe(401);
    expect((await fetch(proxied, { headers: auth })).status).toBe(200);
  });
});
