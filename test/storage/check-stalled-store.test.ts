/**
 * `segcat check` on a bucket whose server stalls for a while, as a busy S3 server or network does.
 * The AWS SDK opens at most 50 connections to a server and counts the time a request waits for one
 * of them against its connection timeout (5 s here): a check that asked for every file of a page
 * of images at once failed with "did not establish a connection" as soon as the server was slow
 * (found by bench:scale, at 500 photos on a busy machine). The server is a real Swift, reached
 * through a TCP relay that holds the requests once many connections are open.
 */
import { once } from 'node:events';
import net from 'node:net';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { runSegcat } from '../support/cli.js';
import { s3Available, startS3TestServer, SWIFT_START_TIMEOUT_MS, type S3TestServer } from '../support/s3.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Longer than the SDK's three attempts at a connection (5 s each, plus back-off). */
const STALL_MS = 18_000;
/** Open connections at which the relay stalls: far more than the check needs before it walks the files. */
const STALL_AT_CONNECTIONS = 20;
/** Images (an original and a thumbnail each): more files than the SDK's 50 connections. */
const IMAGES = 40;

const available = s3Available();
const maybe = available ? describe : describe.skip;

/**
 * A TCP relay to `target` that, the first time `stallAt` connections are open at once, holds every
 * byte sent to the server for `stallMs`, then passes everything on.
 */
async function stallingRelay(target: URL, stallAt: number, stallMs: number) {
  let open = 0;
  let stallUntil = 0;
  const relay = net.createServer((client) => {
    open += 1;
    if (stallUntil === 0 && open >= stallAt) stallUntil = Date.now() + stallMs;
    const server = net.connect(Number(target.port), target.hostname);
    client.on('data', (chunk) => {
      const wait = stallUntil - Date.now();
      if (wait <= 0) return void server.write(chunk);
      client.pause();
      setTimeout(() => {
        server.write(chunk);
        client.resume();
      }, wait);
    });
    server.pipe(client);
    client.on('end', () => server.end());
    const close = () => {
      client.destroy();
      server.destroy();
    };
    client.on('error', close);
    server.on('error', close);
    client.on('close', () => {
      open -= 1;
      server.destroy();
    });
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`,
    stalled: () => stallUntil !== 0,
    close: () => new Promise<void>((resolve) => relay.close(() => resolve())),
  };
}

maybe('segcat check on a bucket whose server stalls', () => {
  let s3: S3TestServer;
  let server: TestServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    s3 = await startS3TestServer();
    env = s3.env(await s3.createBucket());
    // No worker: each image keeps its original and thumbnail, which is all the check needs.
    server = await startTestServer({ ...env, SEGCAT_EMBEDDED_WORKER: 'false' });
    for (let i = 0; i < IMAGES; i += 1) {
      const png = await sharp({ create: { width: 64 + i, height: 48, channels: 3, background: { r: 200, g: 4 * i, b: 90 } } }).png().toBuffer();
      await server.runtime.services.ingest.ingest({ filename: `plain-${i}.png`, stream: Readable.from(png) }, { wait: false });
    }
  }, SWIFT_START_TIMEOUT_MS);

  afterAll(async () => {
    await server?.stop();
    await s3?.stop();
  });

  it('waits for the server instead of failing, and finds nothing wrong', async () => {
    const relay = await stallingRelay(new URL(s3.endpoint), STALL_AT_CONNECTIONS, STALL_MS);
    try {
      const run = await runSegcat(['check'], { ...env, S3_ENDPOINT: relay.endpoint, DATABASE_URL: server.databaseUrl, DATA_DIR: server.dataDir });
      expect(relay.stalled()).toBe(true);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(new RegExp(`checked ${IMAGES} images \\(${2 * IMAGES} files\\) and \\d+ stored files: no problems`));
    } finally {
      await relay.close();
    }
  }, 120_000);
});
