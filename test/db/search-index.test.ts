/**
 * Class search and its counts read denormalised data (ImageLabel.outrankedBy, the Tally running
 * counts kept by triggers). These tests hold them to a plain reading of the segments themselves,
 * through first segmentations, re-segmentations, status changes, deletes and tally folds, with
 * ties in scores and search terms that share classes.
 */
import { SearchRepository, type ImageQuery } from '../../src/db/search.repository.js';
import { SegmentationRepository, type NewSegment } from '../../src/db/segmentation.repository.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const CLASSES = ['person', 'dog', 'cat', 'bird', 'car', 'horse'];
const ANIMALS = ['dog', 'cat', 'bird', 'horse'];
/** Few distinct scores, so that classes of one image and images of one class tie (0.351: below minScore 0.355 in its hundredth). */
const SCORES = [0.2, 0.3, 0.31, 0.351, 0.5, 0.5, 0.72, 0.9, 0.355];

let db: TestDatabase;
let search: SearchRepository;
let segmentation: SegmentationRepository;
/** What each image's segments are, as the test wrote them. */
const catalogue = new Map<string, { createdAt: Date; status: string; segments: NewSegment[] }>();
const random = mulberry32(13);
let imagesMade = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  search = new SearchRepository(db.prisma);
  segmentation = new SegmentationRepository(db.prisma);
});
afterAll(() => db.drop());

/** Deterministic pseudo-random numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(values: readonly T[]): T {
  return values[Math.floor(random() * values.length)]!;
}

function randomSegments(): NewSegment[] {
  return Array.from({ length: Math.floor(random() * 6) }, (_, i) => {
    const label = pick(CLASSES);
    const score = random() < 0.8 ? pick(SCORES) : 0.2 + random() * 0.8;
    return { label, classId: CLASSES.indexOf(label), score, x: i, y: i, width: 10, height: 10, area: 100, maskPath: `masks/m${i}.png` };
  });
}

async function addImages(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    imagesMade += 1;
    const sha256 = imagesMade.toString(16).padStart(64, '0');
    const image = await db.prisma.image.create({
      data: { sha256, filename: `${i}.jpg`, mimeType: 'image/jpeg', bytes: 1, width: 64, height: 48, storagePath: `originals/${sha256}.jpg` },
    });
    catalogue.set(image.id, { createdAt: image.createdAt, status: 'PENDING', segments: [] });
    ids.push(image.id);
  }
  return ids;
}

async function segment(id: string): Promise<void> {
  const segments = randomSegments();
  await segmentation.saveSegmentation(id, { modelName: 'test', modelVersion: '1', segments, backgroundMaskPath: 'masks/bg.png', backgroundArea: 1 });
  catalogue.set(id, { ...catalogue.get(id)!, status: 'DONE', segments });
}

/** Each class's best score in an image, as PostgreSQL stores it (a real). */
function bestScores(segments: readonly NewSegment[]): Map<string, number> {
  const best = new Map<string, number>();
  for (const { label, score } of segments) best.set(label, Math.max(best.get(label) ?? 0, Math.fround(score)));
  return best;
}

/** The images a query should find, in order, read straight off the segments. */
function expected(query: Omit<ImageQuery, 'limit'>): { id: string; score: number }[] {
  const floor = Math.fround(query.minScore);
  const matches = [...catalogue].flatMap(([id, image]) => {
    if (query.status && image.status !== query.status) return [];
    const best = bestScores(image.segments);
    const scoreOf = (classes: string[]) => Math.max(-1, ...classes.map((label) => best.get(label) ?? -1).filter((score) => score >= floor));
    const terms = query.matchAll ? query.terms.map(scoreOf) : [scoreOf(query.terms.flat())];
    const score = Math.min(...terms);
    return score < 0 ? [] : [{ id, score, createdAt: image.createdAt.getTime() }];
  });
  matches.sort((a, b) => b.score - a.score || b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  return matches.map(({ id, score }) => ({ id, score }));
}

/** Every page of a query, three images at a time, through cursors. */
async function allPages(query: Omit<ImageQuery, 'limit' | 'after'>): Promise<{ id: string; score: number }[]> {
  const found: { id: string; score: number }[] = [];
  let after: ImageQuery['after'];
  for (;;) {
    const page = await search.findImages({ ...query, limit: 3, after });
    found.push(...page.map((image) => ({ id: image.id, score: Math.fround(image.matchScore!) })));
    const last = page.at(-1);
    if (page.length < 3 || !last) return found;
    after = { score: last.matchScore, createdAt: last.createdAt, id: last.id };
  }
}

const QUERIES: Omit<ImageQuery, 'limit'>[] = [
  { terms: [['dog']], matchAll: true, minScore: 0.3 },
  { terms: [['dog'], ['car']], matchAll: true, minScore: 0.3 },
  { terms: [['dog'], ['car']], matchAll: false, minScore: 0.3 },
  { terms: [['person'], ['dog'], ['cat']], matchAll: true, minScore: 0.2 },
  { terms: [ANIMALS], matchAll: true, minScore: 0.3 },
  { terms: [ANIMALS, ['dog']], matchAll: true, minScore: 0.3 },
  { terms: [ANIMALS, ['person']], matchAll: true, minScore: 0.355 },
  { terms: [ANIMALS, ['person', 'car']], matchAll: false, minScore: 0.5 },
  { terms: [['person'], ['bird']], matchAll: true, minScore: 0.31, status: 'DONE' },
  { terms: [['horse']], matchAll: true, minScore: 0.354, status: 'DONE' },
];

async function expectSearchesToMatchTheSegments(): Promise<void> {
  for (const query of QUERIES) {
    const want = expected(query);
    expect({ query, found: await allPages(query) }).toEqual({ query, found: want });
    expect({ query, count: await search.countImages({ ...query, limit: 1 }) }).toEqual({ query, count: want.length });
  }
}

async function expectCountsToMatchTheSegments(): Promise<void> {
  const images = [...catalogue.values()];
  for (const status of [undefined, 'DONE', 'PENDING'] as const) {
    const count = await search.countImages({ terms: [], matchAll: true, minScore: 0.3, status, limit: 1 });
    expect({ status, count }).toEqual({ status, count: images.filter((image) => !status || image.status === status).length });
  }
  for (const minScore of [0, 0.3, 0.355, 0.5, 0.7]) {
    const floor = Math.fround(minScore);
    const facets = CLASSES.map((label) => {
      const scores = images.map((image) => image.segments.filter((s) => s.label === label && Math.fround(s.score) >= floor).length);
      return { label, imageCount: scores.filter((n) => n > 0).length, segmentCount: scores.reduce((a, b) => a + b, 0) };
    })
      .filter((facet) => facet.imageCount > 0)
      .sort((a, b) => b.imageCount - a.imageCount || b.segmentCount - a.segmentCount || (a.label < b.label ? -1 : 1));
    expect({ minScore, facets: await search.labelFacets(minScore) }).toEqual({ minScore, facets });
    const segments = (labels: string[]) => facets.filter((f) => labels.length === 0 || labels.includes(f.label)).reduce((a, f) => a + f.segmentCount, 0);
    for (const labels of [[], ['dog'], ANIMALS]) {
      expect({ minScore, labels, count: await search.countSegments({ labels, minScore, limit: 1 }) }).toEqual({ minScore, labels, count: segments(labels) });
    }
  }
}

test('searches and counts agree with the segments after first segmentations', async () => {
  const ids = await addImages(70);
  for (const id of ids.slice(0, 60)) await segment(id);
  await expectSearchesToMatchTheSegments();
  await expectCountsToMatchTheSegments();
});

test('and after re-segmentations, deletes and status changes', async () => {
  const ids = [...catalogue.keys()];
  for (const id of ids.slice(0, 25)) await segment(id);
  for (const id of ids.slice(60, 65)) await segment(id);
  for (const id of ids.slice(25, 35)) {
    await db.prisma.image.delete({ where: { id } });
    catalogue.delete(id);
  }
  for (const id of ids.slice(35, 40)) {
    await db.prisma.image.update({ where: { id }, data: { status: 'PENDING' } });
    catalogue.set(id, { ...catalogue.get(id)!, status: 'PENDING' });
  }
  await expectSearchesToMatchTheSegments();
  await expectCountsToMatchTheSegments();
});

test('and after the tallies are folded, by hand or by a writer every few thousand rows', async () => {
  await db.prisma.$executeRaw`SELECT tally_fold()`;
  const [{ rows, keys }] = await db.prisma.$queryRaw<{ rows: number; keys: number }[]>`
    SELECT count(*)::int AS rows, count(DISTINCT (kind, key, bucket))::int AS keys FROM "Tally"`;
  expect(rows).toBe(keys);
  await expectCountsToMatchTheSegments();

  // 2,100 status changes append 4,200 rows: a writer folds them on the way.
  const [id] = [...catalogue.keys()];
  await db.prisma.$executeRawUnsafe(`DO $$ BEGIN FOR i IN 1..2100 LOOP
    UPDATE "Image" SET status = CASE WHEN status = 'DONE' THEN 'FAILED'::"ImageStatus" ELSE 'DONE'::"ImageStatus" END WHERE id = '${id}';
  END LOOP; END $$`);
  const [{ total }] = await db.prisma.$queryRaw<{ total: number }[]>`SELECT count(*)::int AS total FROM "Tally"`;
  expect(total).toBeLessThan(4096);
  await expectCountsToMatchTheSegments();
});

test('and after saves, re-segmentations and deletes running at once', async () => {
  const ids = [...catalogue.keys()];
  const fresh = await addImages(10);
  const work = [
    ...fresh.map((id) => () => segment(id)),
    ...ids.slice(0, 20).flatMap((id) => [() => segment(id), () => segment(id)]),
    ...ids.slice(14, 20).map((id) => () => db.prisma.image.delete({ where: { id } })),
  ];
  // Four at a time, each lane taking every fourth task: as many as the test's connection pool serves.
  await Promise.all([0, 1, 2, 3].map(async (lane) => {
    for (const task of work.filter((_, i) => i % 4 === lane)) await task();
  }));
  // Which of two saves of one image came last is up to the database: read back what it holds.
  catalogue.clear();
  const images = await db.prisma.image.findMany({ include: { segments: true } });
  for (const image of images) catalogue.set(image.id, { createdAt: image.createdAt, status: image.status, segments: image.segments });
  await expectSearchesToMatchTheSegments();
  await expectCountsToMatchTheSegments();
});

test('a truncated catalogue counts nothing', async () => {
  await db.prisma.$executeRawUnsafe('TRUNCATE "Image" CASCADE');
  catalogue.clear();
  await expectCountsToMatchTheSegments();
  expect(await db.prisma.tally.count()).toBe(0);
});
