/**
 * Downloads that never finish must not take the catalogue down with them. With STORAGE=s3, /files
 * proxies each download from the bucket over a connection held until the client has read it; a
 * client that stops reading holds that connection until the idle timeout. These clients open more
 * such downloads than the SDK's connection pool (50) and read none of them: uploads and jobs, on
 * connections of their own, must still work, and downloads past S3_SERVED_READS must get a clear
 * 503 with Retry-After rather than hang or fail obscurely.
 */
import http from 'node:http';
import sharp from 'sharp';
import { s3Available, startS3TestServer, SWIFT_START_TIMEOUT_MS, type S3TestServer } from '../support/s3.js';
import { photo, startTestServer, type TestServer } from '../support/server.js';

const run = s3Available() ? describe : describe.skip;
/** Downloads held open: more than the SDK's default pool of 50 connections. */
const STALLED = 60;
const SERVED_READS = 40;

run('slow readers on the S3 backend', () => {
  let s3: S3TestServer;
  let server: TestServer;
  const stalled: http.ClientRequest[] = [];

  beforeAll(async () => {
    s3 = await startS3TestServer();
    server = await startTestServer({ ...s3.env(await s3.createBucket()), S3_SERVED_READS: String(SERVED_READS) });
  }, SWIFT_START_TIMEOUT_MS);

  afterAll(async () => {
    for (const request of stalled) request.destroy();
    await server?.stop();
    await s3?.stop();
  });

  const UPLOAD = 'mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id status url thumbnailUrl } } }';

  it('keeps uploads working, and answers 503 with Retry-After past S3_SERVED_READS', async () => {
    // A photo large enough that a client reading none of it holds the download's connection: the
    // socket buffers on both sides hold a few megabytes at most.
    const { width, height } = { width: 3000, height: 2250 };
    const noise = Buffer.alloc(width * height * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    const large = await sharp(noise, { raw: { width, height, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
    expect(large.length).toBeGreaterThan(16 * 2 ** 20);
    const uploaded = await server.upload(UPLOAD, [{ variable: 'file', name: 'noise.jpg', data: large }]);
    expect(uploaded.errors).toBeUndefined();
    const { url } = uploaded.data.uploadImage.image;

    // STALLED downloads of it, none read past the headers.
    const answers = await Promise.all(
      Array.from({ length: STALLED }, () => new Promise<{ status: number; retryAfter?: string; body?: string }>((resolve, reject) => {
        const request = http.get(url, { agent: false }, (response) => {
          if (response.statusCode === 200) {
            response.pause();
            resolve({ status: 200 });
            return;
          }
          let body = '';
          response.setEncoding('utf8').on('data', (chunk) => (body += chunk)).on('end', () => resolve({ status: response.statusCode!, retryAfter: response.headers['retry-after'], body }));
        });
        request.on('error', reject);
        stalled.push(request);
      })),
    );
    const byStatus = answers.reduce<Record<number, number>>((counts, answer) => ({ ...counts, [answer.status]: (counts[answer.status] ?? 0) + 1 }), {});
    expect(byStatus).toEqual({ 200: SERVED_READS, 503: STALLED - SERVED_READS });
    const busy = answers.find((answer) => answer.status === 503)!;
    expect(busy.retryAfter).toBe('1');
    expect(JSON.parse(busy.body!)).toMatchObject({ code: 'STORE_BUSY', error: expect.stringMatching(/retry/) });

    // Uploads (and their jobs) still store their files and finish.
    const dog = await server.upload(UPLOAD, [{ variable: 'file', name: 'dog.jpg', data: await photo('dog.jpg') }]);
    expect(dog.errors).toBeUndefined();
    expect(dog.data.uploadImage.image.status).toBe('DONE');

    // Once the stalled clients go, their connections come back and downloads work again.
    for (const request of stalled.splice(0)) request.destroy();
    let thumbnail: Response | undefined;
    for (let attempt = 0; attempt < 100 && thumbnail?.status !== 200; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      thumbnail = await fetch(dog.data.uploadImage.image.thumbnailUrl);
    }
    expect(thumbnail!.status).toBe(200);
    expect((await thumbnail!.arrayBuffer()).byteLength).toBeGreaterThan(100);
  }, 180_000);
});
