/**
 * A database per test file, cloned from a migrated template.
 *
 * The server is TEST_DATABASE_URL when set (CI: the machine's PostgreSQL), else an embedded
 * PostgreSQL that jest's globalSetup starts once for the run (database-global-setup.ts). The
 * template is named after a hash of the migrations, so it is built once per migration set (by the
 * first worker, under an advisory lock that parallel workers and runs queue on) and reused; each test file then gets `CREATE DATABASE ... TEMPLATE`, which takes
 * milliseconds, and drops it at the end, failing if a connection was left open.
 *
 *   const db = await createTestDatabase();
 *   afterAll(() => db.drop());
 *   // db.url for code under test, db.prisma for arranging and asserting
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPrismaClient, type PrismaClient } from '../../src/db/client.js';
import { applyMigrations, readMigrations } from '../../src/db/migrate.js';
import { ADMIN_URL_VARIABLE } from './database-server.js';

/** Advisory lock key guarding template creation, across workers and concurrent jest runs. */
const TEMPLATE_LOCK_KEY = 0x5e6ca7;
/** How long a dropped database may still show closing sessions before we call it a leak. */
const LEAK_GRACE_MS = 2_000;

/** A test's own database. */
export interface TestDatabase {
  /** Connection URL of this database. */
  url: string;
  /** Database name. */
  name: string;
  /** A Prisma client on it (small pool), disconnected by `drop()`. */
  prisma: PrismaClient;
  /** Disconnects `prisma` and drops the database; rejects if other connections were left open. */
  drop(): Promise<void>;
}

/** The test server's maintenance URL, as published by the global setup. */
export function testServerUrl(): string {
  const url = process.env[ADMIN_URL_VARIABLE] ?? process.env.TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      `no test PostgreSQL: set TEST_DATABASE_URL, or run through jest so that ` +
        `test/support/database-global-setup.ts starts one`,
    );
  }
  return url;
}

/** `url` with its database name replaced. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** Name of the template for the current migrations. */
export async function templateName(): Promise<string> {
  const hash = createHash('sha256');
  for (const migration of await readMigrations()) hash.update(`${migration.name}:${migration.checksum}\n`);
  return `segcat_template_${hash.digest('hex').slice(0, 16)}`;
}

/**
 * Creates the migrated template unless it exists. A finished template is marked IS_TEMPLATE, so a
 * run that died half-way leaves one that is rebuilt rather than used.
 */
export async function ensureTemplate(serverUrl: string = testServerUrl()): Promise<string> {
  const name = await templateName();
  await withClient(serverUrl, async (admin) => {
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      const { rows } = await admin.query<{ datistemplate: boolean }>(
        'SELECT datistemplate FROM pg_database WHERE datname = $1',
        [name],
      );
      if (rows[0]?.datistemplate) return;
      const quoted = admin.escapeIdentifier(name);
      if (rows.length > 0) await admin.query(`DROP DATABASE ${quoted} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${quoted}`);
      await applyMigrations(databaseUrl(serverUrl, name));
      await admin.query(`ALTER DATABASE ${quoted} WITH IS_TEMPLATE true`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  });
  return name;
}

/** Options of `createTestDatabase`. */
export interface TestDatabaseOptions {
  /** false: an empty database (no migrations), for testing the migrations themselves. Default true. */
  migrated?: boolean;
}

/** Clones the migrated template (or template0) into a fresh database for one test file. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const template = options.migrated === false ? 'template0' : await ensureTemplate(serverUrl);
  const name = `segcat_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, async (admin) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)} TEMPLATE ${admin.escapeIdentifier(template)}`);
        return;
      } catch (error) {
        // 55006: someone is briefly connected to the template (another run building or checking it).
        if ((error as { code?: string }).code !== '55006' || attempt === 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  const url = databaseUrl(serverUrl, name);
  const prisma = createPrismaClient(url, { poolSize: 4 });
  let dropped: Promise<void> | undefined;
  return { url, name, prisma, drop: () => (dropped ??= dropDatabase(serverUrl, name, prisma)) };
}

/** Drops a test database; a connection still open after the grace period is a leak and fails the test. */
async function dropDatabase(serverUrl: string, name: string, prisma: PrismaClient): Promise<void> {
  await prisma.$disconnect();
  await withClient(serverUrl, async (admin) => {
    let open: { pid: number; application_name: string }[] = [];
    const deadline = Date.now() + LEAK_GRACE_MS;
    for (;;) {
      ({ rows: open } = await admin.query('SELECT pid, application_name FROM pg_stat_activity WHERE datname = $1', [name]));
      if (open.length === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Drop it either way, so a leak fails one test instead of littering the server.
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)} WITH (FORCE)`);
    if (open.length > 0) {
      const who = open.map((row) => row.application_name || `pid ${row.pid}`).join(', ');
      throw new Error(`${open.length} connection(s) to ${name} were still open after the test (${who}): a pool or client was not closed`);
    }
  });
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'segcat-test-admin' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
