/**
 * A `wait: true` upload is bounded: with no worker running it answers after UPLOAD_WAIT_MS with
 * the image still PENDING and `settled: false`, and shutdown ends a wait in progress, so the
 * client gets its answer and the server stops.
 */
import { eventually } from '../hardening/raw-http.js';
import { photo, startTestServer, type TestServer } from '../support/server.js';

const UPLOAD = `mutation($file: Upload!) { uploadImage(input: { file: $file, wait: true }) { settled duplicate image { id status } } }`;

const servers: TestServer[] = [];

afterAll(async () => {
  for (const server of servers) await server.stop();
});

async function serverWithoutWorker(uploadWaitMs: number): Promise<TestServer> {
  const server = await startTestServer({ SEGCAT_EMBEDDED_WORKER: 'false', UPLOAD_WAIT_MS: String(uploadWaitMs) });
  servers.push(server);
  return server;
}

it('answers a wait: true upload after UPLOAD_WAIT_MS with the image PENDING and settled: false', async () => {
  const server = await serverWithoutWorker(500);
  const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }]);
  expect(response.errors).toBeUndefined();
  expect(response.data.uploadImage).toEqual({ settled: false, duplicate: false, image: { id: expect.any(String), status: 'PENDING' } });
  const polled = await server.graphql(`query($id: ID!) { image(id: $id) { status } }`, { id: response.data.uploadImage.image.id });
  expect(polled.data.image.status).toBe('PENDING');
});

it('ends a pending wait at shutdown: the client gets its answer and close() returns', async () => {
  // The wait alone would outlast the test's timeout.
  const server = await serverWithoutWorker(110_000);
  const answer = server.upload(UPLOAD, [{ variable: 'file', name: 'horses.jpg', data: await photo('horses.jpg') }]);
  const { prisma } = server.runtime.database;
  await eventually(async () => (await prisma.image.count()) === 1, 'the upload is recorded and waiting');
  let timer: NodeJS.Timeout | undefined;
  const tooLong = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), 20_000)));
  const closed = server.runtime.close().then(() => 'closed' as const);
  try {
    expect(await Promise.race([closed, tooLong])).toBe('closed');
  } finally {
    clearTimeout(timer);
  }
  const response = await answer;
  expect(response.status).toBe(200);
  expect(response.data.uploadImage).toMatchObject({ settled: false, image: { status: 'PENDING' } });
});
