/**
 * End to end over HTTP: the real photos uploaded as multipart requests, segmented by the real
 * model into a real PostgreSQL, then searched, paged, cut out and served.
 */
import sharp from 'sharp';
import { photo, startTestServer, uploadPhotos, type TestServer } from '../support/server.js';

const PHOTOS = ['dog.jpg', 'eagle.jpg', 'giraffe.jpg', 'horses.jpg', 'kite.jpg', 'person.jpg', 'scream.jpg'];

const UPLOAD = `mutation($file: Upload!) {
  uploadImage(input: { file: $file }) { duplicate image { id filename status error width height labels segments { label score } } }
}`;

const SEARCH = `query($labels: [String!], $match: LabelMatch, $first: Int, $after: String) {
  images(filter: { labels: $labels, match: $match }, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { filename } }
  }
}`;

let server: TestServer;
let ids: Map<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  ids = await uploadPhotos(server, PHOTOS);
});

afterAll(async () => {
  await server?.stop();
});

async function search(labels: string[], match = 'ALL'): Promise<string[]> {
  const response = await server.graphql(SEARCH, { labels, match, first: 20 });
  expect(response.errors).toBeUndefined();
  return response.data.images.edges.map((edge: { node: { filename: string } }) => edge.node.filename).sort();
}

describe('search by class', () => {
  it('finds the one photo with a bird', async () => {
    expect(await search(['bird'])).toEqual(['eagle.jpg']);
  });

  it('needs every class with ALL, any with ANY', async () => {
    expect(await search(['dog', 'horse'])).toEqual(['person.jpg']);
    const any = await search(['dog', 'horse'], 'ANY');
    expect(any).toEqual(expect.arrayContaining(['dog.jpg', 'horses.jpg', 'person.jpg']));
    expect(any).not.toContain('eagle.jpg');
  });

  it('accepts class names in any case and refuses unknown ones by name', async () => {
    expect(await search([' Giraffe '])).toEqual(['giraffe.jpg']);
    const response = await server.graphql(SEARCH, { labels: ['unicorn'] });
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toMatch(/unicorn/);
  });

  it('lists every image, newest first, without classes, and pages through them with cursors', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const response: any = await server.graphql(SEARCH, { first: 2, after });
      expect(response.errors).toBeUndefined();
      expect(response.data.images.totalCount).toBe(PHOTOS.length);
      seen.push(...response.data.images.edges.map((edge: any) => edge.node.filename));
      after = response.data.images.pageInfo.hasNextPage ? response.data.images.pageInfo.endCursor : null;
      pages += 1;
    } while (after);
    expect(pages).toBe(4);
    expect(seen).toEqual([...PHOTOS].reverse());
  });

  it('pages through a class search without gaps or repeats', async () => {
    const all = await search(['person'], 'ANY');
    const paged: string[] = [];
    let after: string | null = null;
    do {
      const response: any = await server.graphql(SEARCH, { labels: ['person'], first: 1, after });
      paged.push(...response.data.images.edges.map((edge: any) => edge.node.filename));
      after = response.data.images.pageInfo.hasNextPage ? response.data.images.pageInfo.endCursor : null;
    } while (after);
    expect(paged.sort()).toEqual(all);
    expect(all.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a forged cursor and an oversized page', async () => {
    const forged = await server.graphql(SEARCH, { after: 'not-a-cursor' });
    expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const huge = await server.graphql(SEARCH, { first: 10_000 });
    expect(huge.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('facets and segments', () => {
  it('counts images and segments per class, most frequent first', async () => {
    const response = await server.graphql('{ labels { label imageCount segmentCount } }');
    const labels = response.data.labels as { label: string; imageCount: number; segmentCount: number }[];
    const horse = labels.find((entry) => entry.label === 'horse');
    expect(horse?.imageCount).toBe(2);
    expect(horse?.segmentCount).toBeGreaterThanOrEqual(4);
    expect(labels.find((entry) => entry.label === 'bird')).toEqual({ label: 'bird', imageCount: 1, segmentCount: 1 });
    const counts = labels.map((entry) => entry.imageCount);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    expect(labels.some((entry) => entry.label === 'background')).toBe(false);
  });

  it("filters an image's own segments and lists its classes", async () => {
    const response = await server.graphql(
      `query($id: ID!) { image(id: $id) { labels all: segments { label } horses: segments(labels: ["horse"], minScore: 0.5) { label score bbox { x y width height } maskPath maskUrl } backgroundMaskUrl } }`,
      { id: ids.get('horses.jpg') },
    );
    const image = response.data.image;
    expect(image.labels).toContain('horse');
    expect(image.horses.length).toBeGreaterThanOrEqual(3);
    for (const segment of image.horses) {
      expect(segment.label).toBe('horse');
      expect(segment.score).toBeGreaterThanOrEqual(0.5);
      const { x, y, width, height } = segment.bbox;
      expect(segment.maskPath).toMatch(new RegExp(`^masks/.+/mhorses\\.\\d+\\.horse\\.${x}_${y}_${width}_${height}\\.png$`));
    }
    const mask = await fetch(image.horses[0].maskUrl);
    expect(mask.status).toBe(200);
    expect(mask.headers.get('content-type')).toBe('image/png');
    const background = await fetch(image.backgroundMaskUrl);
    expect(background.status).toBe(200);
  });

  it('searches segments by class, best score first, with paging', async () => {
    const response = await server.graphql(`{ segments(filter: { labels: ["horse"] }, first: 2) { totalCount pageInfo { hasNextPage } edges { node { score image { filename } } } } }`);
    const connection = response.data.segments;
    expect(connection.totalCount).toBeGreaterThanOrEqual(4);
    expect(connection.pageInfo.hasNextPage).toBe(true);
    const [first, second] = connection.edges.map((edge: any) => edge.node.score);
    expect(first).toBeGreaterThanOrEqual(second);
  });
});

describe('uploads', () => {
  it('returns the existing image for the same bytes, flagged duplicate', async () => {
    const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'again.jpg', data: await photo('eagle.jpg') }]);
    expect(response.data.uploadImage.duplicate).toBe(true);
    expect(response.data.uploadImage.image.id).toBe(ids.get('eagle.jpg'));
    const count = await server.graphql('{ images { totalCount } }');
    expect(count.data.images.totalCount).toBe(PHOTOS.length);
  });

  it('refuses a file that is not an image, and keeps nothing', async () => {
    const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'notes.jpg', data: Buffer.from('hello, not a picture') }]);
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toMatch(/notes\.jpg/);
    const count = await server.graphql('{ images { totalCount } }');
    expect(count.data.images.totalCount).toBe(PHOTOS.length);
  });
});

describe('cut-outs and pictures', () => {
  it('cuts out the bird as a transparent PNG of its box, served over HTTP', async () => {
    const response = await server.graphql(
      `mutation($id: ID!) { extractSegments(input: { imageId: $id, labels: ["bird"] }) { extractions { url width height format background segment { bbox { width height } } } } }`,
      { id: ids.get('eagle.jpg') },
    );
    expect(response.errors).toBeUndefined();
    const [extraction] = response.data.extractSegments.extractions;
    expect(extraction.format).toBe('PNG');
    expect(extraction.background).toBe('TRANSPARENT');
    expect(extraction.width).toBe(extraction.segment.bbox.width);
    const file = await fetch(extraction.url);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    const png = Buffer.from(await file.arrayBuffer());
    const meta = await sharp(png).metadata();
    expect(meta).toMatchObject({ format: 'png', hasAlpha: true, width: extraction.width, height: extraction.height });
    const alpha = await sharp(png).extractChannel(3).raw().toBuffer();
    expect(alpha.some((value) => value === 0)).toBe(true);
    expect(alpha.some((value) => value === 255)).toBe(true);
  });

  it('makes one cut-out per segment, format and background', async () => {
    const query = `mutation($id: ID!) { extractSegment(input: { segmentId: $id, format: WEBP, background: WHITE }) { extraction { id url format } } }`;
    const segments = await server.graphql(`{ segments(filter: { labels: ["dog"] }, first: 1) { edges { node { id } } } }`);
    const segmentId = segments.data.segments.edges[0].node.id;
    const first = await server.graphql(query, { id: segmentId });
    const second = await server.graphql(query, { id: segmentId });
    expect(first.data.extractSegment.extraction.id).toBe(second.data.extractSegment.extraction.id);
    const file = await fetch(first.data.extractSegment.extraction.url);
    expect(file.headers.get('content-type')).toBe('image/webp');
  });

  it('serves the overlay picture and the thumbnail', async () => {
    const response = await server.graphql(`query($id: ID!) { image(id: $id) { overlayUrl thumbnailUrl url } }`, { id: ids.get('dog.jpg') });
    const { overlayUrl, thumbnailUrl, url } = response.data.image;
    const overlay = await fetch(overlayUrl);
    expect(overlay.status).toBe(200);
    expect(overlay.headers.get('content-type')).toBe('image/jpeg');
    const overlayMeta = await sharp(Buffer.from(await overlay.arrayBuffer())).metadata();
    expect(overlayMeta.width).toBeGreaterThan(0);
    const thumbnail = await sharp(Buffer.from(await (await fetch(thumbnailUrl)).arrayBuffer())).metadata();
    expect(thumbnail.format).toBe('webp');
    expect(Math.max(thumbnail.width!, thumbnail.height!)).toBeLessThanOrEqual(320);
    const original = await fetch(url);
    expect(original.headers.get('cache-control')).toBe('public, max-age=3600');
  });
});

describe('errors', () => {
  it('returns null for an unknown image and NOT_FOUND for an unknown segment', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const image = await server.graphql(`query($id: ID!) { image(id: $id) { id } }`, { id: missing });
    expect(image.data.image).toBeNull();
    const extraction = await server.graphql(`mutation($id: ID!) { extractSegment(input: { segmentId: $id }) { extraction { id } } }`, { id: missing });
    expect(extraction.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const malformed = await server.graphql(`{ image(id: "../../etc/passwd") { id } }`);
    expect(malformed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a multipart upload without the CSRF preflight header', async () => {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query: UPLOAD, variables: { file: null } }));
    form.append('map', JSON.stringify({ 0: ['variables.file'] }));
    form.append('0', new Blob([await photo('eagle.jpg')]), 'eagle.jpg');
    const response = await fetch(`${server.url}/graphql`, { method: 'POST', body: form });
    expect(response.status).toBe(400);
  });

  it('deletes an image with its files', async () => {
    const uploaded = await server.upload(UPLOAD, [{ variable: 'file', name: 'flipped.png', data: await sharp(await photo('eagle.jpg')).flop().png().toBuffer() }]);
    const id = uploaded.data.uploadImage.image.id;
    const before = await server.graphql(`query($id: ID!) { image(id: $id) { url segments { maskUrl } } }`, { id });
    const deleted = await server.graphql(`mutation($id: ID!) { deleteImage(input: { id: $id }) { id } }`, { id });
    expect(deleted.data.deleteImage.id).toBe(id);
    expect((await fetch(before.data.image.url)).status).toBe(404);
    expect((await fetch(before.data.image.segments[0].maskUrl)).status).toBe(404);
    const again = await server.graphql(`mutation($id: ID!) { deleteImage(input: { id: $id }) { id } }`, { id });
    expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
