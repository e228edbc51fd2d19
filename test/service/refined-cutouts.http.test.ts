/**
 * Cut-outs along the photo's edges (`refine: true`) over HTTP: made from the stored mask refined
 * against the photo, stored beside the plain cut-out, served, remade by `segcat check --repair`,
 * and bad arguments refused.
 */
import { existsSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { runSegcat } from '../support/cli.js';
import { startTestServer, uploadPhotos, type TestServer } from '../support/server.js';

const EXTRACT = `mutation($id: ID!, $refine: Boolean) {
  extractSegments(input: { imageId: $id, labels: ["dog"], refine: $refine }) {
    extractions { id path url width height refined format background segment { id bbox { x y width height } } }
  }
}`;

interface Cut {
  id: string;
  path: string;
  url: string;
  width: number;
  height: number;
  refined: boolean;
  segment: { id: string; bbox: { x: number; y: number; width: number; height: number } };
}

let server: TestServer;
let dogImage: string;

beforeAll(async () => {
  server = await startTestServer();
  dogImage = (await uploadPhotos(server, ['dog.jpg'])).get('dog.jpg')!;
});

afterAll(async () => {
  await server?.stop();
});

async function cut(refine?: boolean): Promise<Cut> {
  const response = await server.graphql<{ extractSegments: { extractions: Cut[] } }>(EXTRACT, { id: dogImage, refine });
  expect(response.errors).toBeUndefined();
  const [extraction] = response.data!.extractSegments.extractions;
  return extraction!;
}

it('cuts along the edges with refine: true, beside the plain cut-out, within the box grown by half a cell', async () => {
  const plain = await cut();
  const refined = await cut(true);
  expect(plain).toMatchObject({ refined: false, path: expect.stringMatching(/\/transparent\.png$/) });
  expect(refined).toMatchObject({ refined: true, path: expect.stringMatching(/\/transparent-refined\.png$/) });
  expect(refined.id).not.toBe(plain.id);
  expect((await cut(true)).id).toBe(refined.id);

  // dog.jpg is 768x576: a prototype cell is 768 / 160 = 4.8 px, half a cell 2 px on each side.
  const { bbox } = refined.segment;
  expect(plain).toMatchObject({ width: bbox.width, height: bbox.height });
  expect(refined.width).toBeGreaterThan(bbox.width);
  expect(refined.width).toBeLessThanOrEqual(bbox.width + 4);
  expect(refined.height).toBeGreaterThan(bbox.height);
  expect(refined.height).toBeLessThanOrEqual(bbox.height + 4);

  const file = await fetch(refined.url);
  expect(file.status).toBe(200);
  expect(file.headers.get('content-type')).toBe('image/png');
  const png = Buffer.from(await file.arrayBuffer());
  expect(await sharp(png).metadata()).toMatchObject({ hasAlpha: true, width: refined.width, height: refined.height });
  const alpha = await sharp(png).extractChannel(3).raw().toBuffer();
  expect(alpha.some((a) => a > 0 && a < 255)).toBe(true);
  // The plain cut-out's alpha is the stored mask: 0 or 255 only.
  const plainAlpha = await sharp(Buffer.from(await (await fetch(plain.url)).arrayBuffer())).extractChannel(3).raw().toBuffer();
  expect(plainAlpha.every((a) => a === 0 || a === 255)).toBe(true);
});

it('cuts one segment refined, in any format and background', async () => {
  const { segment } = await cut();
  const response = await server.graphql(
    `mutation($id: ID!) { extractSegment(input: { segmentId: $id, refine: true, format: WEBP, background: WHITE }) { extraction { refined url format background } } }`,
    { id: segment.id },
  );
  expect(response.errors).toBeUndefined();
  expect(response.data.extractSegment.extraction).toMatchObject({ refined: true, format: 'WEBP', background: 'WHITE' });
  expect((await fetch(response.data.extractSegment.extraction.url)).headers.get('content-type')).toBe('image/webp');
});

it('refuses a refine that is not a boolean, naming it', async () => {
  const variable = await server.graphql(EXTRACT, { id: dogImage, refine: 'yes' });
  expect(variable.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(variable.errors?.[0]?.message).toMatch(/\$refine/);
  const literal = await server.graphql(`mutation($id: ID!) { extractSegments(input: { imageId: $id, refine: 1 }) { extractions { id } } }`, { id: dogImage });
  expect(literal.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(literal.errors?.[0]?.message).toMatch(/Boolean/);
});

it('segcat check knows refined cut-outs, and --repair makes a lost one again, refined', async () => {
  const env = { DATABASE_URL: server.databaseUrl, DATA_DIR: server.dataDir, SEGCAT_STALE_MINUTES: '0' };
  expect(await runSegcat(['check'], env)).toMatchObject({ code: 0 });
  const refined = await cut(true);
  const before = await sharp(path.join(server.dataDir, refined.path)).raw().toBuffer();
  await unlink(path.join(server.dataDir, refined.path));
  const broken = await runSegcat(['check'], env);
  expect(broken.code).toBe(1);
  expect(broken.stdout).toContain(refined.path);
  expect(await runSegcat(['check', '--repair'], env)).toMatchObject({ code: 0 });
  expect(existsSync(path.join(server.dataDir, refined.path))).toBe(true);
  expect(await sharp(path.join(server.dataDir, refined.path)).raw().toBuffer()).toEqual(before);
  expect(await cut(true)).toMatchObject({ id: refined.id, refined: true });
}, 180_000);
