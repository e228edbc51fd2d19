const { createPrismaClient } = await import('/work/main/dist/db/client.js');
const { matchPageSql } = await import('/work/main/dist/db/search-matches.js');
const prisma = createPrismaClient(process.argv[2]);
const p = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q / 100 * s.length))]; };
const q = { terms: [['bird']], matchAll: true, minScore: 0.3, limit: 21 };
const ids = (await prisma.$queryRaw(matchPageSql(q))).map(r => r.imageId);
const shapes = {
  'raw match page': () => prisma.$queryRaw(matchPageSql(q)),
  'findMany 21 ids': () => prisma.image.findMany({ where: { id: { in: ids } } }),
  'raw select 21 ids': () => prisma.$queryRaw`SELECT * FROM "Image" WHERE id = ANY(${ids}::uuid[])`,
  'raw select 1': () => prisma.$queryRaw`SELECT 1`,
  'findFirst': () => prisma.image.findFirst({ where: { id: ids[0] } }),
};
for (const [name, fn] of Object.entries(shapes)) {
  for (let i = 0; i < 5; i++) await fn();
  const t = [];
  for (let i = 0; i < 100; i++) { const s = performance.now(); await fn(); t.push(performance.now() - s); }
  console.log(name.padEnd(30), 'p50', p(t, 50).toFixed(2).padStart(7), 'p95', p(t, 95).toFixed(2).padStart(7));
}
await prisma.$disconnect();
