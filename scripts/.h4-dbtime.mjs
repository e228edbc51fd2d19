const { createPrismaClient } = await import('/work/main/dist/db/client.js');
const { SearchRepository } = await import('/work/main/dist/db/search.repository.js');
const prisma = createPrismaClient(process.argv[2]);
const search = new SearchRepository(prisma);
const runs = Number(process.argv[3] ?? 50);
const p = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q / 100 * s.length))]; };
const q = (terms, extra = {}) => ({ terms, matchAll: true, minScore: 0.3, limit: 21, ...extra });
const birdPage1 = await search.findImages(q([['bird']]));
const last = birdPage1.at(-1);
const animal = ['bird','cat','dog','horse','sheep','cow','elephant','bear','zebra','giraffe'];
const shapes = {
  'bird page': () => search.findImages(q([['bird']])),
  'bird count': () => search.countImages(q([['bird']])),
  'bird page 2': () => search.findImages(q([['bird']], { after: { score: last.matchScore, createdAt: last.createdAt, id: last.id } })),
  'person page': () => search.findImages(q([['person']])),
  'person count': () => search.countImages(q([['person']])),
  'dog+car ALL page': () => search.findImages(q([['dog'], ['car']])),
  'dog+car ANY page': () => search.findImages(q([['dog'], ['car']], { matchAll: false })),
  'animal page': () => search.findImages(q([animal])),
  'person+bicycle+car ALL page': () => search.findImages(q([['person'], ['bicycle'], ['car']])),
  'dog+zebra ALL page': () => search.findImages(q([['dog'], ['zebra']])),
  'newest page': () => search.findImages(q([])),
  'newest count': () => search.countImages(q([])),
  'facets 0.3': () => search.labelFacets(0.3),
  'facets 0.355': () => search.labelFacets(0.355),
  'segments person count': () => search.countSegments({ labels: ['person'], minScore: 0.3, limit: 50 }),
  'segments person page': () => search.findSegments({ labels: ['person'], minScore: 0.3, limit: 51 }),
  'bird count 0.355': () => search.countImages(q([['bird']], { minScore: 0.355 })),
  'dog+car ALL count': () => search.countImages(q([['dog'], ['car']])),
  'person DONE page': () => search.findImages(q([['person']], { status: 'DONE' })),
};
const only = process.argv[4] ? new RegExp(process.argv[4]) : null;
for (const [name, fn] of Object.entries(shapes)) {
  if (only && !only.test(name)) continue;
  const n = name.includes('count') && name.includes('+') ? 5 : runs;
  for (let i = 0; i < 3; i++) await fn();
  const t = [];
  for (let i = 0; i < n; i++) { const s = performance.now(); await fn(); t.push(performance.now() - s); }
  console.log(name.padEnd(30), 'p50', p(t, 50).toFixed(1).padStart(7), 'p95', p(t, 95).toFixed(1).padStart(7));
}
await prisma.$disconnect();
