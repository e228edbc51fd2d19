/**
 * Applies prisma/migrations on start, without Prisma's schema engine (a download the CLI cannot
 * make offline, or a WebAssembly dev dependency). It keeps Prisma Migrate's own bookkeeping, so the
 * database stays one that `prisma migrate deploy` and `prisma migrate status` accept: the same
 * `_prisma_migrations` table, the same checksum (sha256 of migration.sql, hex), the same order
 * (folder names, sorted) and the same advisory lock, so this runner and the CLI exclude each other.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import { PACKAGE_ROOT } from '../config.js';

/** Where the committed migrations live in the installed package. */
export const MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'prisma', 'migrations');

/** The advisory lock key Prisma Migrate takes on PostgreSQL (prisma-engines, postgres flavour). */
const PRISMA_MIGRATE_LOCK_KEY = 72707369;
/** How long to wait for another process's migrations before giving up. */
const LOCK_TIMEOUT = '60s';

// Column for column what Prisma Migrate creates, so either tool can take over the table.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

/** One migration folder on disk. */
export interface MigrationFile {
  /** Folder name, e.g. `20260101120000_init`; also the `migration_name` recorded. */
  name: string;
  /** Contents of its migration.sql. */
  sql: string;
  /** sha256 of `sql`, lowercase hex, as Prisma records it. */
  checksum: string;
}

/** What `applyMigrations` did. */
export interface MigrationReport {
  /** Migrations applied by this call, in order. */
  applied: string[];
  /** Migrations that were already recorded as applied. */
  alreadyApplied: string[];
}

/** Options of `applyMigrations`. */
export interface ApplyMigrationsOptions {
  /** Folder of migrations (default: the package's prisma/migrations). */
  migrationsDir?: string;
}

/** Thrown when the database's migration history does not match the migrations on disk. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** sha256 of a migration script, as Prisma writes it to `_prisma_migrations.checksum`. */
export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/** Reads the migration folders, in the order Prisma applies them. */
export async function readMigrations(migrationsDir: string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(migrationsDir, name, 'migration.sql');
      const sql = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new MigrationError(`migration ${name} has no readable migration.sql (${error.code ?? error.message})`);
      });
      return { name, sql, checksum: migrationChecksum(sql) };
    }),
  );
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Brings the database at `databaseUrl` up to date with the migration folders. Safe to call from
 * several processes at once: they queue on Prisma's advisory lock and the later ones find nothing
 * to do. Refuses (MigrationError) when a recorded migration failed or its file was edited since.
 */
export async function applyMigrations(
  databaseUrl: string,
  logger?: Logger,
  options: ApplyMigrationsOptions = {},
): Promise<MigrationReport> {
  const migrations = await readMigrations(options.migrationsDir);
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'segcat-migrate' });
  await client.connect();
  try {
    await client.query(`SET lock_timeout = '${LOCK_TIMEOUT}'`);
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]).catch((error: Error) => {
      throw new MigrationError(`could not take the migration lock within ${LOCK_TIMEOUT}: ${error.message}`);
    });
    try {
      await client.query('RESET lock_timeout');
      await client.query(CREATE_MIGRATIONS_TABLE);
      const { rows } = await client.query<MigrationRow>(
        'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at',
      );
      const pending = checkHistory(migrations, rows, logger);
      for (const migration of pending) await applyOne(client, migration, logger);
      const applied = pending.map((m) => m.name);
      const alreadyApplied = migrations.filter((m) => !applied.includes(m.name)).map((m) => m.name);
      return { applied, alreadyApplied };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

/** Compares the recorded history with the folders; returns the migrations still to apply. */
function checkHistory(migrations: MigrationFile[], rows: MigrationRow[], logger?: Logger): MigrationFile[] {
  // Rolled-back rows are history only: Prisma applies those migrations again, and so do we.
  const live = rows.filter((row) => row.rolled_back_at === null);
  const failed = live.find((row) => row.finished_at === null);
  if (failed) {
    throw new MigrationError(
      `migration ${failed.migration_name} failed in an earlier run and the database may be half-migrated; ` +
        `fix it by hand, then mark it with \`npx prisma migrate resolve --applied|--rolled-back ${failed.migration_name}\``,
    );
  }
  const recorded = new Map(live.map((row) => [row.migration_name, row]));
  for (const migration of migrations) {
    const row = recorded.get(migration.name);
    if (row && row.checksum !== migration.checksum) {
      throw new MigrationError(
        `migration ${migration.name} was modified after it was applied (checksum ${row.checksum} recorded, ` +
          `${migration.checksum} on disk); restore the original migration.sql and add a new migration instead`,
      );
    }
  }
  const known = new Set(migrations.map((m) => m.name));
  const unknown = [...recorded.keys()].filter((name) => !known.has(name));
  // A newer segcat may have migrated this database; an older one can still try to work with it.
  if (unknown.length > 0) logger?.warn({ migrations: unknown }, 'database has migrations this version does not know');
  return migrations.filter((m) => !recorded.has(m.name));
}

/**
 * Runs one migration and records it in a single transaction, so a failure leaves neither a
 * half-applied schema nor a failed row behind: the next start simply tries again.
 */
async function applyOne(client: pg.Client, migration: MigrationFile, logger?: Logger): Promise<void> {
  const started = Date.now();
  await client.query('BEGIN');
  try {
    await client.query(migration.sql);
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
      [randomUUID(), migration.checksum, migration.name],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(`migration ${migration.name} failed and was rolled back: ${reason}`, { cause: error });
  }
  logger?.info({ migration: migration.name, ms: Date.now() - started }, 'applied database migration');
}
