import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { applyMigrations, MIGRATIONS_DIR, MigrationError, readMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let client: pg.Client;

beforeEach(async () => {
  db = await createTestDatabase({ migrated: false });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterEach(async () => {
  await client.end();
  await db.drop();
});

const tables = async () =>
  (await client.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.tablename);

test('applies every migration to an empty database and records it as Prisma Migrate does', async () => {
  const report = await applyMigrations(db.url);

  const folders = (await readMigrations()).map((m) => m.name);
  expect(report).toEqual({ applied: folders, alreadyApplied: [] });
  expect(await tables()).toEqual(['BatchImage', 'Catalogue', 'Extraction', 'Image', 'ImageLabel', 'ImportBatch', 'Segment', 'Session', 'Tally', '_prisma_migrations']);

  const { rows } = await client.query('SELECT * FROM "_prisma_migrations" ORDER BY migration_name');
  expect(rows.map((r) => r.migration_name)).toEqual(folders);
  for (const row of rows) {
    const sql = await readFile(path.join(MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
    expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
    expect(row.finished_at).toBeInstanceOf(Date);
    expect(row.rolled_back_at).toBeNull();
    expect(row.logs).toBeNull();
    expect(row.applied_steps_count).toBe(1);
    expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
  }
});

test('creates _prisma_migrations with the columns and types Prisma uses', async () => {
  await applyMigrations(db.url);
  const { rows } = await client.query(
    `SELECT column_name, data_type, character_maximum_length AS len, is_nullable, column_default
       FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
  );
  expect(rows).toEqual([
    { column_name: 'id', data_type: 'character varying', len: 36, is_nullable: 'NO', column_default: null },
    { column_name: 'checksum', data_type: 'character varying', len: 64, is_nullable: 'NO', column_default: null },
    { column_name: 'finished_at', data_type: 'timestamp with time zone', len: null, is_nullable: 'YES', column_default: null },
    { column_name: 'migration_name', data_type: 'character varying', len: 255, is_nullable: 'NO', column_default: null },
    { column_name: 'logs', data_type: 'text', len: null, is_nullable: 'YES', column_default: null },
    { column_name: 'rolled_back_at', data_type: 'timestamp with time zone', len: null, is_nullable: 'YES', column_default: null },
    { column_name: 'started_at', data_type: 'timestamp with time zone', len: null, is_nullable: 'NO', column_default: 'now()' },
    { column_name: 'applied_steps_count', data_type: 'integer', len: null, is_nullable: 'NO', column_default: '0' },
  ]);
});

test('is idempotent: a second run applies nothing', async () => {
  await applyMigrations(db.url);
  const again = await applyMigrations(db.url);
  expect(again.applied).toEqual([]);
  expect(again.alreadyApplied.length).toBeGreaterThan(0);
  const { rows } = await client.query('SELECT count(*)::int AS n FROM "_prisma_migrations"');
  expect(rows[0].n).toBe(again.alreadyApplied.length);
});

test('two processes migrating at once apply each migration exactly once', async () => {
  const reports = await Promise.all([applyMigrations(db.url), applyMigrations(db.url), applyMigrations(db.url)]);
  const folders = (await readMigrations()).map((m) => m.name);
  expect(reports.flatMap((r) => r.applied).sort()).toEqual(folders);
  const { rows } = await client.query('SELECT migration_name, count(*)::int AS n FROM "_prisma_migrations" GROUP BY 1');
  expect(rows.every((r) => r.n === 1)).toBe(true);
});

describe('with a copy of the migrations folder', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-migrations-'));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test('refuses to start when an applied migration was edited', async () => {
    await applyMigrations(db.url, undefined, { migrationsDir: dir });
    const [first] = await readMigrations(dir);
    await writeFile(path.join(dir, first!.name, 'migration.sql'), `${first!.sql}\n-- edited\n`);
    await expect(applyMigrations(db.url, undefined, { migrationsDir: dir })).rejects.toThrow(
      new RegExp(`migration ${first!.name} was modified after it was applied`),
    );
  });

  test('refuses to start when a recorded migration failed', async () => {
    await applyMigrations(db.url, undefined, { migrationsDir: dir });
    await client.query(`UPDATE "_prisma_migrations" SET finished_at = NULL, logs = 'boom'`);
    await expect(applyMigrations(db.url, undefined, { migrationsDir: dir })).rejects.toThrow(MigrationError);
    await expect(applyMigrations(db.url, undefined, { migrationsDir: dir })).rejects.toThrow(/prisma migrate resolve/);
  });

  test('a failing migration is rolled back whole and not recorded', async () => {
    await applyMigrations(db.url, undefined, { migrationsDir: dir });
    const broken = '29991231000000_broken';
    await cp(path.join(dir, (await readMigrations(dir))[0]!.name), path.join(dir, broken), { recursive: true });
    await writeFile(path.join(dir, broken, 'migration.sql'), 'CREATE TABLE "Half" (id int);\nSELECT * FROM "NoSuchTable";\n');

    await expect(applyMigrations(db.url, undefined, { migrationsDir: dir })).rejects.toThrow(/29991231000000_broken failed and was rolled back/);
    expect(await tables()).not.toContain('Half');
    const { rows } = await client.query('SELECT 1 FROM "_prisma_migrations" WHERE migration_name = $1', [broken]);
    expect(rows).toHaveLength(0);
  });
});
