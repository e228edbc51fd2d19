/**
 * Crash recovery of the queue's side of the catalogue: images whose segmentation job a dead worker
 * or a lost transaction left behind get one again.
 */
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { addJob, jobExists } from '../jobs/job-sql.js';

/** segment_image jobs are keyed by image id (TASK_SPECS): an image's job key as SQL. */
const IMAGE_JOB_KEY = Prisma.raw('i.id::text');

/** Repairs of image state after a crash. */
export class RecoveryRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * After a crash: images left PROCESSING whose job no worker holds any more go back to PENDING,
   * and images waiting with no job at all get one. Returns how many images were touched.
   */
  async requeueAbandoned(): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      const reset = await tx.$executeRaw`
        UPDATE "Image" i SET status = 'PENDING'
        WHERE i.status = 'PROCESSING'
          AND NOT ${jobExists(IMAGE_JOB_KEY, { locked: true })}`;
      const jobless = await tx.$queryRaw<{ id: string }[]>`
        SELECT i.id::text AS id FROM "Image" i
        WHERE i.status IN ('PENDING', 'PROCESSING')
          AND NOT ${jobExists(IMAGE_JOB_KEY)}`;
      for (const { id } of jobless) await addJob(tx, 'segment_image', { imageId: id });
      return reset + jobless.length;
    });
  }
}
