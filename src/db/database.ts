/**
 * segcat's database, opened once at start-up: the server named by DATABASE_URL, or else an embedded
 * PostgreSQL under DATA_DIR; migrated; with the process's one Prisma client.
 */
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { PoolUsage } from '../observability/probes.js';
import { createPooledPrismaClient, type PrismaClient } from './client.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { applyMigrations } from './migrate.js';

const CONNECT_TIMEOUT_MS = 5_000;

/** An open, migrated database. */
export interface Database {
  /** Connection URL (for other connections: the queue, LISTEN). */
  url: string;
  /** The database as messages name it, without credentials: "the database at host:port/name". */
  name: string;
  /** The process's Prisma client. */
  prisma: PrismaClient;
  /** Resolves when the database answers a trivial query; for health checks. */
  ping(): Promise<void>;
  /** The Prisma client's connection pool right now (metrics). */
  poolUsage(): PoolUsage;
  /** Disconnects the client, then stops the embedded server if there is one; safe to call twice. */
  close(): Promise<void>;
}

/** Thrown when PostgreSQL cannot be reached or refuses segcat; the message is one line saying what to do. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

/** Connection failures of the pg driver and Prisma: the server is down, restarting or unreachable. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', // sockets
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', // PostgreSQL: shutting down, starting, connection lost
  'P1001', 'P1002', 'P1017', 'P2024', // Prisma: cannot reach, timed out, connection closed, pool timeout
]);

/** Whether an error (or one of its causes) means PostgreSQL could not be reached or went away. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 8; depth += 1) {
    if (current instanceof DatabaseUnavailableError) return true;
    const { code, cause, message } = current as { code?: unknown; cause?: unknown; message?: unknown };
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (typeof message === 'string' && /Connection terminated|connection timeout|Can't reach database server/i.test(message)) return true;
    current = cause;
  }
  return false;
}

/** Opens the configured database and applies pending migrations. */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, logger });
  const url = config.databaseUrl ?? embedded!.url;
  let prisma: { prisma: PrismaClient; usage: () => PoolUsage } | undefined;
  try {
    await assertReachable(url);
    const report = await applyMigrations(url, logger);
    logger.debug({ ...report }, 'database migrations checked');
    prisma = createPooledPrismaClient(url);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const { prisma: client, usage } = prisma;
  let closing: Promise<void> | undefined;
  return {
    url,
    name: embedded ? `the embedded database in ${path.join(config.dataDir, 'postgres')}` : `the database at ${describeLocation(url)}`,
    prisma: client,
    ping: async () => {
      await client.$queryRaw`SELECT 1`;
    },
    poolUsage: usage,
    close: () =>
      (closing ??= (async () => {
        await client.$disconnect();
        await embedded?.stop();
      })()),
  };
}

/** Connects once, so that a server that is down fails fast with a message a person can act on. */
export async function assertReachable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
  } catch (error) {
    throw new DatabaseUnavailableError(describeConnectError(url, error), { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** host:port/database of a PostgreSQL URL, without its credentials. */
function describeLocation(url: string): string {
  const { hostname, port, pathname, username } = new URL(url);
  return `${hostname || 'localhost'}:${port || 5432}/${decodeURIComponent(pathname.slice(1)) || username}`;
}

/** One line: where, what went wrong, what to do. */
function describeConnectError(url: string, error: unknown): string {
  const { hostname, port, pathname, username } = new URL(url);
  const where = `${hostname || 'localhost'}:${port || 5432}`;
  const database = decodeURIComponent(pathname.slice(1)) || username;
  const code = (error as { code?: string }).code;
  const reason = error instanceof Error ? error.message : String(error);
  switch (code) {
    case '28P01':
    case '28000':
      return `PostgreSQL at ${where} refused user "${username}" (${reason}); check the credentials in DATABASE_URL`;
    case '3D000':
      return `PostgreSQL at ${where} has no database "${database}"; create it (createdb ${database}) or fix DATABASE_URL`;
    default:
      return (
        `cannot reach PostgreSQL at ${where} (${code ?? reason}); start the server, ` +
        'or fix DATABASE_URL (leave it unset to use the embedded PostgreSQL)'
      );
  }
}
