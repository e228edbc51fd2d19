/**
 * Batches (an upload of several files, an import, a re-segmentation): their members and progress.
 *
 * A member follows its image's current run until the run ends; the outcome is then kept in the
 * membership, so a batch's counts do not change when the image is queued again by someone else.
 */
import { randomUUID } from 'node:crypto';
import { Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../generated/prisma/client.js';

/** Where a batch came from. */
export type BatchSource = 'upload' | 'import' | 'resegment';

/**
 * A batch to put images in. Its row is written together with its first images (see `joinBatch`),
 * so no batch is ever made without any.
 */
export interface BatchRef {
  id: string;
  source: BatchSource;
}

/** A new batch, not yet recorded. */
export function newBatch(source: BatchSource): BatchRef {
  return { id: randomUUID(), source };
}

/**
 * A batch and the state of its images, counted from its members: each is in exactly one state, so
 * done + failed + pending + processing = total.
 */
export interface BatchProgress {
  id: string;
  source: string;
  total: number;
  done: number;
  failed: number;
  pending: number;
  processing: number;
  createdAt: Date;
}

/** Batch membership and progress. */
export class BatchRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Puts images, already queued or settled, in a batch: the batch follows each one's current run.
   * Adding an image twice changes nothing.
   */
  async addToBatch(batch: BatchRef, imageIds: string[]): Promise<void> {
    await this.prisma.$transaction(async (tx) => joinBatch(tx, batch, imageIds));
  }

  /**
   * Recent batches, newest first, with their members counted by state: the outcome a member's run
   * ended with, or while it runs, its image's status.
   */
  async batchProgress(options: { activeOnly: boolean; limit: number; ids?: string[] }): Promise<BatchProgress[]> {
    const conditions = [
      ...(options.ids ? [Prisma.sql`b.id = ANY(${options.ids}::uuid[])`] : []),
      ...(options.activeOnly ? [Prisma.sql`c.pending + c.processing > 0`] : []),
    ];
    // Counted per batch as the index on createdAt walks them, so a poll costs the batches it lists.
    return this.prisma.$queryRaw<BatchProgress[]>`
      SELECT b.id, b.source, b."createdAt", c.total, c.done, c.failed, c.pending, c.processing
      FROM "ImportBatch" b CROSS JOIN LATERAL (
        SELECT count(*)::int AS total,
               (count(*) FILTER (WHERE member.status = 'DONE'))::int AS done,
               (count(*) FILTER (WHERE member.status = 'FAILED'))::int AS failed,
               (count(*) FILTER (WHERE member.status = 'PENDING'))::int AS pending,
               (count(*) FILTER (WHERE member.status = 'PROCESSING'))::int AS processing
        FROM "BatchImage" m JOIN "Image" i ON i.id = m."imageId"
          CROSS JOIN LATERAL (SELECT COALESCE(m.outcome, i.status) AS status) member
        WHERE m."batchId" = b.id
      ) c
      ${conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty}
      ORDER BY b."createdAt" DESC LIMIT ${options.limit}`;
  }
}

/**
 * Records the images as members of the batch, and the batch itself with its first ones, in the
 * caller's transaction. Images deleted meanwhile are left out (locking the rest until it ends).
 */
export async function joinBatch(tx: Prisma.TransactionClient, batch: BatchRef, imageIds: string[]): Promise<void> {
  const present = await tx.$queryRaw<{ id: string }[]>`SELECT id::text FROM "Image" WHERE id = ANY(${imageIds}::uuid[]) FOR KEY SHARE`;
  if (present.length === 0) return;
  await tx.$executeRaw`INSERT INTO "ImportBatch" (id, source) VALUES (${batch.id}::uuid, ${batch.source}) ON CONFLICT (id) DO NOTHING`;
  await tx.$executeRaw`
    INSERT INTO "BatchImage" ("batchId", "imageId") SELECT ${batch.id}::uuid, unnest(${present.map((row) => row.id)}::uuid[])
    ON CONFLICT DO NOTHING`;
}

/**
 * Before the images are queued again, in the caller's transaction: locks their rows, and keeps in
 * their batches the outcome of runs that have ended, since the new run is not those batches'.
 * Locking first means a run that ends now either ends before (and is kept) or after.
 */
export async function keepEndedRuns(tx: Prisma.TransactionClient, imageIds: string[]): Promise<void> {
  await tx.$executeRaw`
    WITH image AS (SELECT id, status FROM "Image" WHERE id = ANY(${imageIds}::uuid[]) FOR UPDATE)
    UPDATE "BatchImage" m SET outcome = image.status FROM image
    WHERE m."imageId" = image.id AND m.outcome IS NULL AND image.status IN ('DONE', 'FAILED')`;
}
