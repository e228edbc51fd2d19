import pg from 'pg';
import { Prisma } from '../../src/generated/prisma/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

const SHA = 'a'.repeat(64);
const newImage = (sha256: string) => ({
  sha256,
  filename: 'eagle.jpg',
  mimeType: 'image/jpeg',
  bytes: 1234,
  width: 640,
  height: 480,
  storagePath: `originals/${sha256}.jpg`,
});

test('the same bytes (sha256) can be catalogued only once', async () => {
  await db.prisma.image.create({ data: newImage(SHA) });
  const second = db.prisma.image.create({ data: newImage(SHA) });
  await expect(second).rejects.toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
  await expect(second).rejects.toMatchObject({ code: 'P2002' });
  expect(await db.prisma.image.count({ where: { sha256: SHA } })).toBe(1);
});

test('deleting an image removes its labels, segments and extractions', async () => {
  const image = await db.prisma.image.create({
    data: {
      ...newImage('b'.repeat(64)),
      labels: { create: [{ label: 'bird', maxScore: 0.9, segmentCount: 1, imageCreatedAt: new Date() }] },
      segments: {
        create: [{ label: 'bird', classId: 14, score: 0.9, x: 1, y: 2, width: 30, height: 40, area: 900, maskPath: 'masks/m.png' }],
      },
    },
    include: { segments: true },
  });
  await db.prisma.extraction.create({
    data: { segmentId: image.segments[0]!.id, format: 'PNG', background: 'TRANSPARENT', path: 'cutouts/c.png', width: 30, height: 40, bytes: 99 },
  });

  await db.prisma.image.delete({ where: { id: image.id } });

  expect(await db.prisma.imageLabel.count({ where: { imageId: image.id } })).toBe(0);
  expect(await db.prisma.segment.count({ where: { imageId: image.id } })).toBe(0);
  expect(await db.prisma.extraction.count()).toBe(0);
});

test('a test database that is left with an open connection fails its drop()', async () => {
  const leaky = await createTestDatabase();
  const client = new pg.Client({ connectionString: leaky.url, application_name: 'leaky-test-client' });
  await client.connect();
  client.on('error', () => undefined); // the forced drop ends its session
  await expect(leaky.drop()).rejects.toThrow(/still open after the test \(leaky-test-client\)/);
  await client.end().catch(() => undefined);
});
