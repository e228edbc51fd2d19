/**
 * The Prisma client: the generated client over the `pg` driver adapter. Create one per process at
 * start-up and pass it to the repositories; each holds a connection pool.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { poolUsage, type PoolUsage } from '../observability/probes.js';

/** The generated Prisma client type, for code that receives the process's client. */
export type { PrismaClient } from '../generated/prisma/client.js';

/** Options of `createPrismaClient`. */
export interface PrismaClientOptions {
  /** Most connections in the pool (default 10, node-postgres's default). */
  poolSize?: number;
}

/** Connects lazily: the first query opens the pool's first connection. */
export function createPrismaClient(databaseUrl: string, options: PrismaClientOptions = {}): PrismaClient {
  return createPooledPrismaClient(databaseUrl, options).prisma;
}

/** A Prisma client, and the use of its connection pool (for metrics). */
export function createPooledPrismaClient(databaseUrl: string, options: PrismaClientOptions = {}): { prisma: PrismaClient; usage: () => PoolUsage } {
  // The pool is made here, not by the adapter, so that its use can be read; the adapter still ends it.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolSize ?? 10, application_name: 'segcat' });
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  return { prisma: new PrismaClient({ adapter }), usage: () => poolUsage(pool) };
}
