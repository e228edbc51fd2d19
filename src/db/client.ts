/**
 * The Prisma client: the generated client over the `pg` driver adapter. Create one per process at
 * start-up and pass it to the repositories; each holds a connection pool.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';

/** The generated Prisma client type, for code that receives the process's client. */
export type { PrismaClient } from '../generated/prisma/client.js';

/** Options of `createPrismaClient`. */
export interface PrismaClientOptions {
  /** Most connections in the pool (default 10, node-postgres's default). */
  poolSize?: number;
}

/** Connects lazily: the first query opens the pool's first connection. */
export function createPrismaClient(databaseUrl: string, options: PrismaClientOptions = {}): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: options.poolSize ?? 10,
    application_name: 'segcat',
  });
  return new PrismaClient({ adapter });
}
