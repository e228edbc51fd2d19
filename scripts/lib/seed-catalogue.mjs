// Seeds a migrated catalogue database with `images` segmented images straight in SQL, for benches
// of search at scale: `segmentsPerImage` segments each, of classes drawn with a Zipf-like
// distribution (the first class most common: person, for COCO), scores uniform in [0.25, 0.99].
//
// Row by row, 1,000,000 images take over twenty minutes (every insert updates a dozen B-trees at
// random places and checks its foreign keys one row at a time). Here each table is filled by one
// INSERT … SELECT sorted by its primary key, with its other indexes and its foreign keys dropped
// first and put back afterwards (built by sorting, checked by one join), which is what makes it
// fast. The tables' own triggers are off meanwhile too: the search tallies they keep are counted
// afresh at the end (tally_rebuild(), as the migration that made them does).

/** Tables the seed fills, parents first. */
const TABLES = ['Image', 'Segment', 'ImageLabel'];

/**
 * Fills the catalogue behind `client` (a connected pg.Client on a migrated database) and returns
 * the counts it holds afterwards. `onStep(name, ms)` hears how long each step took.
 */
export async function seedCatalogue(client, { images, segmentsPerImage, classes, onStep = () => {} }) {
  const weights = classes.map((_, rank) => 1 / (rank + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  // Lower bound of each class's band in [0, 1): width_bucket() finds a draw's class by bisection.
  const bounds = [];
  let cumulative = 0;
  for (const weight of weights) {
    bounds.push(cumulative);
    cumulative += weight / total;
  }
  let started = performance.now();
  const step = async (name, sql, params) => {
    await client.query(sql, params);
    onStep(name, performance.now() - started);
    started = performance.now();
  };
  await client.query(`SET temp_buffers = '1GB'`);
  await client.query(`SET maintenance_work_mem = '512MB'`);
  await client.query(`SET work_mem = '256MB'`);
  const { rows: indexes } = await client.query(
    `SELECT format('%I', indexname) AS name, indexdef AS definition FROM pg_indexes i
     WHERE schemaname = current_schema() AND tablename = ANY($1)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
    [TABLES],
  );
  const { rows: foreignKeys } = await client.query(
    `SELECT conrelid::regclass::text AS "table", format('%I', conname) AS name, pg_get_constraintdef(oid) AS definition
     FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY($1)`,
    [TABLES.map((table) => `"${table}"`)],
  );
  for (const { table, name } of foreignKeys) await client.query(`ALTER TABLE ${table} DROP CONSTRAINT ${name}`);
  for (const { name } of indexes) await client.query(`DROP INDEX ${name}`);
  for (const table of TABLES) await client.query(`ALTER TABLE "${table}" DISABLE TRIGGER USER`);
  try {
    await client.query('BEGIN');
    await step('draw images', `
      CREATE TEMP TABLE seed_image ON COMMIT DROP AS
      SELECT gen_random_uuid() AS id, g, now() - make_interval(secs => g) AS created_at
      FROM generate_series(1, $1::int) AS g`, [images]);
    await step('insert images', `
      INSERT INTO "Image" (id, sha256, filename, "mimeType", bytes, width, height, status, "storagePath",
                           "createdAt", "segmentedAt", "modelName", "modelVersion")
      SELECT id, encode(sha256(('seed-' || g)::bytea), 'hex'), 'seed-' || g || '.jpg', 'image/jpeg',
             150000, 640, 480, 'DONE', 'originals/00/seed-' || g || '.jpg', created_at, now(), 'seed', 'seed'
      FROM seed_image ORDER BY id`);
    await step('draw segments', `
      CREATE TEMP TABLE seed_segment ON COMMIT DROP AS
      SELECT gen_random_uuid() AS id, i.id AS image_id, i.created_at,
             width_bucket(random(), $1::float8[]) - 1 AS class_id, (0.25 + random() * 0.74)::real AS score
      FROM seed_image i, generate_series(1, $2::int)`, [bounds, segmentsPerImage]);
    await step('insert segments', `
      INSERT INTO "Segment" (id, "imageId", label, "classId", score, x, y, width, height, area, "maskPath")
      SELECT id, image_id, ($1::text[])[class_id + 1], class_id, score, 10, 10, 100, 100, 6000, 'masks/seed/m.png'
      FROM seed_segment ORDER BY id`, [classes]);
    // outrankedBy as SegmentationRepository writes it: the image's classes with a higher best score.
    await step('insert image labels', `
      INSERT INTO "ImageLabel" ("imageId", label, "maxScore", "segmentCount", "imageCreatedAt", "outrankedBy")
      SELECT image_id, label, max_score, n, created_at,
             coalesce(array_agg(label) OVER (PARTITION BY image_id ORDER BY max_score DESC, label
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), '{}')
      FROM (SELECT image_id, created_at, ($1::text[])[class_id + 1] AS label, max(score) AS max_score, count(*) AS n
            FROM seed_segment GROUP BY image_id, created_at, class_id) AS g`, [classes]);
    await step('count tallies', 'SELECT tally_rebuild()');
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    for (const table of TABLES) await client.query(`ALTER TABLE "${table}" ENABLE TRIGGER USER`);
    started = performance.now();
    for (const { definition } of indexes) await client.query(definition);
    onStep('rebuild indexes', performance.now() - started);
    started = performance.now();
    for (const { table, name, definition } of foreignKeys) await client.query(`ALTER TABLE ${table} ADD CONSTRAINT ${name} ${definition}`);
    onStep('check foreign keys', performance.now() - started);
  }
  // As autovacuum leaves a settled catalogue: statistics, and the visibility map that lets
  // index-only scans skip the table.
  started = performance.now();
  for (const table of [...TABLES, 'Tally']) await client.query(`VACUUM (ANALYZE) "${table}"`);
  onStep('vacuum', performance.now() - started);
  const { rows } = await client.query(`SELECT (SELECT count(*) FROM "Image")::int AS images,
    (SELECT count(*) FROM "Segment")::int AS segments`);
  return rows[0];
}
