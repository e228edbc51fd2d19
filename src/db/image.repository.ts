/**
 * Catalogue writes: images entering, their segmentation results, cut-outs and deletion.
 *
 * Rows that point at files are written only after those files are durable (see FileStore), and a
 * segmentation result replaces the previous one in a single transaction, so readers see either the
 * old segments or the new ones, never a mix.
 */
import { Prisma } from '../generated/prisma/client.js';
import type { Extraction, Image, PrismaClient } from '../generated/prisma/client.js';
import { IMAGE_EVENTS_CHANNEL, SEGMENT_IMAGE_MAX_ATTEMPTS, SEGMENT_IMAGE_TASK, type SegmentImagePayload } from '../jobs/job-names.js';

/** What is known of an image when it enters the catalogue. */
export interface NewImage {
  sha256: string;
  filename: string;
  mimeType: string;
  bytes: number;
  width: number;
  height: number;
  storagePath: string;
  thumbnailPath: string;
  batchId?: string;
}

/** One segment of a segmentation result, its mask file already written. */
export interface NewSegment {
  label: string;
  classId: number;
  score: number;
  x: number;
  y: number;
  width: number;
  height: number;
  area: number;
  maskPath: string;
}

/** A whole segmentation result for one image. */
export interface SegmentationRecord {
  modelName: string;
  modelVersion: string;
  segments: NewSegment[];
  backgroundMaskPath: string;
  backgroundArea: number;
}

/** A cut-out about to be recorded. */
export type NewExtraction = Pick<Extraction, 'segmentId' | 'format' | 'background' | 'path' | 'width' | 'height' | 'bytes'>;

/** A batch and the state of its images. */
export interface BatchProgress {
  id: string;
  source: string;
  total: number;
  done: number;
  failed: number;
  pending: number;
  createdAt: Date;
}

/** Thrown by `create` when another upload of the same bytes won the race. */
export class DuplicateImageError extends Error {
  override name = 'DuplicateImageError';
}

/** Catalogue writes. */
export class ImageRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** The image with these bytes, if catalogued. */
  async findBySha256(sha256: string): Promise<Image | null> {
    return this.prisma.image.findUnique({ where: { sha256 } });
  }

  /** An image by id. */
  async findById(id: string): Promise<Image | null> {
    return this.prisma.image.findUnique({ where: { id } });
  }

  /** Images by id (missing ones are left out). */
  async findByIds(ids: string[]): Promise<Image[]> {
    return this.prisma.image.findMany({ where: { id: { in: ids } } });
  }

  /** A page of every image, in id order, for maintenance passes over the whole catalogue. */
  async page(after: string | undefined, limit: number): Promise<Image[]> {
    return this.prisma.image.findMany({
      orderBy: { id: 'asc' },
      take: limit,
      ...(after ? { where: { id: { gt: after } } } : {}),
    });
  }

  /** Records an image's (re)made thumbnail. */
  async setThumbnail(id: string, thumbnailPath: string): Promise<void> {
    await this.prisma.image.update({ where: { id }, data: { thumbnailPath } });
  }

  /** Records a group of images submitted together, for progress; returns its id. */
  async createBatch(source: 'upload' | 'import' | 'resegment', total: number): Promise<string> {
    const batch = await this.prisma.importBatch.create({ data: { source, total } });
    return batch.id;
  }

  /**
   * Records a new PENDING image and queues its segmentation in the same transaction, so that no
   * image is ever left without a job or a job without its image.
   */
  async createAndEnqueue(image: NewImage): Promise<Image> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const created = await tx.image.create({ data: { ...image, status: 'PENDING' } });
        await addSegmentationJob(tx, created.id);
        return created;
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new DuplicateImageError(`an image with sha256 ${image.sha256} already exists`);
      }
      throw error;
    }
  }

  /** Queues segmentation again (re-segmentation, or an image whose job was lost), optionally with another model. */
  async enqueue(imageIds: string[], options: { batchId?: string; model?: string } = {}): Promise<void> {
    const { batchId, model } = options;
    await this.prisma.$transaction(async (tx) => {
      await tx.image.updateMany({
        where: { id: { in: imageIds } },
        data: { status: 'PENDING', error: null, ...(batchId && { batchId }) },
      });
      for (const id of imageIds) {
        await addSegmentationJob(tx, id, model);
      }
      await notify(tx, imageIds, 'PENDING');
    });
  }

  /**
   * After a crash: images left PROCESSING whose job no worker holds any more go back to PENDING,
   * and images waiting with no job at all get one. Returns how many images were touched.
   */
  async requeueAbandoned(): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      const reset = await tx.$executeRaw`
        UPDATE "Image" i SET status = 'PENDING'
        WHERE i.status = 'PROCESSING'
          AND NOT EXISTS (SELECT 1 FROM graphile_worker._private_jobs j WHERE j.key = i.id::text AND j.locked_at IS NOT NULL)`;
      const jobless = await tx.$queryRaw<{ id: string }[]>`
        SELECT i.id::text AS id FROM "Image" i
        WHERE i.status IN ('PENDING', 'PROCESSING')
          AND NOT EXISTS (SELECT 1 FROM graphile_worker._private_jobs j WHERE j.key = i.id::text)`;
      for (const { id } of jobless) await addSegmentationJob(tx, id);
      return reset + jobless.length;
    });
  }

  /** Every stored file a row points to (originals, thumbnails, masks, cut-outs). */
  async referencedFiles(): Promise<Set<string>> {
    const rows = await this.prisma.$queryRaw<{ path: string }[]>`
      SELECT "storagePath" AS path FROM "Image"
      UNION ALL SELECT "thumbnailPath" FROM "Image" WHERE "thumbnailPath" IS NOT NULL
      UNION ALL SELECT "backgroundMaskPath" FROM "Image" WHERE "backgroundMaskPath" IS NOT NULL
      UNION ALL SELECT "maskPath" FROM "Segment"
      UNION ALL SELECT path FROM "Extraction"`;
    return new Set(rows.map((row) => row.path));
  }

  /** The mask files an image's current rows point to. */
  async filesOf(id: string): Promise<string[]> {
    const image = await this.prisma.image.findUnique({
      where: { id },
      select: { backgroundMaskPath: true, segments: { select: { maskPath: true } } },
    });
    if (!image) return [];
    return [image.backgroundMaskPath, ...image.segments.map((segment) => segment.maskPath)].filter((file): file is string => file !== null);
  }

  /** Marks an image as being segmented now. */
  async markProcessing(id: string): Promise<void> {
    await this.prisma.image.update({ where: { id }, data: { status: 'PROCESSING', error: null } });
  }

  /**
   * Replaces an image's segments with a new result and marks it DONE. Returns the files of the
   * replaced result (old masks and cut-outs) for the caller to remove once this has committed.
   */
  async saveSegmentation(id: string, record: SegmentationRecord): Promise<string[]> {
    if (await this.saveFirstSegmentation(id, record)) return [];
    return this.prisma.$transaction(async (tx) => {
      const previous = await tx.image.findUniqueOrThrow({
        where: { id },
        select: {
          backgroundMaskPath: true,
          segments: { select: { maskPath: true, extractions: { select: { path: true } } } },
        },
      });
      await tx.segment.deleteMany({ where: { imageId: id } });
      await tx.imageLabel.deleteMany({ where: { imageId: id } });
      const image = await tx.image.update({
        where: { id },
        data: {
          status: 'DONE',
          error: null,
          modelName: record.modelName,
          modelVersion: record.modelVersion,
          backgroundMaskPath: record.backgroundMaskPath,
          backgroundArea: record.backgroundArea,
          segmentedAt: new Date(),
        },
      });
      await tx.segment.createMany({ data: record.segments.map((segment) => ({ ...segment, imageId: id })) });
      await tx.imageLabel.createMany({
        data: summariseLabels(record.segments).map((label) => ({ ...label, imageId: id, imageCreatedAt: image.createdAt })),
      });
      await notify(tx, [id], 'DONE');
      const kept = new Set([...record.segments.map((segment) => segment.maskPath), record.backgroundMaskPath]);
      const replaced = [
        previous.backgroundMaskPath,
        ...previous.segments.flatMap((segment) => [segment.maskPath, ...segment.extractions.map((e) => e.path)]),
      ];
      return replaced.filter((file): file is string => file !== null && !kept.has(file));
    });
  }

  /**
   * The common case, an image segmented for the first time (it has no model yet, so no segments
   * or labels either), as one statement: one round trip instead of a transaction's nine. Returns
   * false, having changed nothing, when the image was segmented before or is gone.
   */
  private async saveFirstSegmentation(id: string, record: SegmentationRecord): Promise<boolean> {
    const segments = record.segments;
    const labels = summariseLabels(segments);
    const column = <K extends keyof NewSegment>(key: K) => segments.map((segment) => segment[key]);
    const rows = await this.prisma.$queryRaw<unknown[]>`
      WITH image AS (
        UPDATE "Image" SET status = 'DONE', error = NULL, "modelName" = ${record.modelName}, "modelVersion" = ${record.modelVersion},
          "backgroundMaskPath" = ${record.backgroundMaskPath}, "backgroundArea" = ${record.backgroundArea}::int,
          "segmentedAt" = now(), "updatedAt" = now()
        WHERE id = ${id}::uuid AND "modelName" IS NULL
        RETURNING id, "createdAt"
      ), segments AS (
        INSERT INTO "Segment" ("imageId", label, "classId", score, x, y, width, height, area, "maskPath")
        SELECT image.id, s.* FROM image, unnest(${column('label')}::text[], ${column('classId')}::int[], ${column('score')}::real[],
          ${column('x')}::int[], ${column('y')}::int[], ${column('width')}::int[], ${column('height')}::int[], ${column('area')}::int[],
          ${column('maskPath')}::text[]) AS s
      ), labels AS (
        INSERT INTO "ImageLabel" ("imageId", "imageCreatedAt", label, "maxScore", "segmentCount")
        SELECT image.id, image."createdAt", l.* FROM image, unnest(${labels.map((l) => l.label)}::text[],
          ${labels.map((l) => l.maxScore)}::real[], ${labels.map((l) => l.segmentCount)}::int[]) AS l
      )
      SELECT pg_notify(${IMAGE_EVENTS_CHANNEL}, ${JSON.stringify({ id, status: 'DONE' })})::text FROM image`;
    return rows.length === 1;
  }

  /** Marks an image FAILED with a reason people can read. */
  async markFailed(id: string, reason: string): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await tx.image.update({ where: { id }, data: { status: 'FAILED', error: reason } });
      await notify(tx, [id], 'FAILED');
    });
  }

  /** Records a cut-out, or returns the existing one for the same segment, format and background. */
  async upsertExtraction(extraction: NewExtraction): Promise<Extraction> {
    const { segmentId, format, background } = extraction;
    return this.prisma.extraction.upsert({
      where: { segmentId_format_background: { segmentId, format, background } },
      create: extraction,
      update: { path: extraction.path, width: extraction.width, height: extraction.height, bytes: extraction.bytes },
    });
  }

  /** The stored cut-out for a segment, format and background, if any. */
  async findExtraction(key: Pick<Extraction, 'segmentId' | 'format' | 'background'>): Promise<Extraction | null> {
    return this.prisma.extraction.findUnique({ where: { segmentId_format_background: key } });
  }

  /** Deletes an image and its rows; returns every file that belonged to it, for removal after. */
  async delete(id: string): Promise<string[] | null> {
    return this.prisma.$transaction(async (tx) => {
      const image = await tx.image.findUnique({
        where: { id },
        include: { segments: { select: { maskPath: true, extractions: { select: { path: true } } } } },
      });
      if (!image) return null;
      await tx.image.delete({ where: { id } });
      await notify(tx, [id], 'DELETED');
      await tx.$executeRaw`SELECT graphile_worker.remove_job(${id}::text)`;
      return [
        image.storagePath,
        image.thumbnailPath,
        image.backgroundMaskPath,
        ...image.segments.flatMap((segment) => [segment.maskPath, ...segment.extractions.map((e) => e.path)]),
      ].filter((file): file is string => file !== null);
    });
  }

  /** Ids of images to re-segment: all of them, or those not segmented by this model and version. */
  async idsToResegment(filter: { outdatedFor?: { name: string; version: string } }): Promise<string[]> {
    const outdated = filter.outdatedFor;
    const rows = await this.prisma.image.findMany({
      where: outdated
        ? { OR: [{ modelName: { not: outdated.name } }, { modelVersion: { not: outdated.version } }, { modelName: null }, { status: 'FAILED' }] }
        : {},
      select: { id: true },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((row) => row.id);
  }

  /** Recent batches with how many of their images are done, failed and still waiting. */
  async batchProgress(options: { activeOnly: boolean; limit: number; ids?: string[] }): Promise<BatchProgress[]> {
    return this.prisma.$queryRaw<BatchProgress[]>`
      SELECT b.id, b.source, b.total, b."createdAt",
             (count(i.id) FILTER (WHERE i.status = 'DONE'))::int AS done,
             (count(i.id) FILTER (WHERE i.status = 'FAILED'))::int AS failed,
             (count(i.id) FILTER (WHERE i.status IN ('PENDING', 'PROCESSING')))::int AS pending
      FROM "ImportBatch" b LEFT JOIN "Image" i ON i."batchId" = b.id
      ${options.ids ? Prisma.sql`WHERE b.id = ANY(${options.ids}::uuid[])` : Prisma.empty}
      GROUP BY b.id
      ${options.activeOnly ? Prisma.sql`HAVING count(i.id) FILTER (WHERE i.status IN ('PENDING', 'PROCESSING')) > 0` : Prisma.empty}
      ORDER BY b."createdAt" DESC LIMIT ${options.limit}`;
  }

  /** How many images are in each status. */
  async countByStatus(): Promise<Record<Image['status'], number>> {
    const rows = await this.prisma.image.groupBy({ by: ['status'], _count: { _all: true } });
    const counts = { PENDING: 0, PROCESSING: 0, DONE: 0, FAILED: 0 };
    for (const row of rows) counts[row.status] = row._count._all;
    return counts;
  }
}

type Transaction = Prisma.TransactionClient;

/**
 * Queues a segmentation job inside the caller's transaction. The job key is the image id, so an
 * image has at most one job waiting however often it is queued.
 */
async function addSegmentationJob(tx: Transaction, imageId: string, model?: string): Promise<void> {
  const payload: SegmentImagePayload = model ? { imageId, model } : { imageId };
  await tx.$executeRaw`SELECT graphile_worker.add_job(${SEGMENT_IMAGE_TASK}, ${JSON.stringify(payload)}::json, job_key := ${imageId}::text, max_attempts := ${SEGMENT_IMAGE_MAX_ATTEMPTS}::int)`;
}

/** Tells waiting uploads (in any process) that these images changed state. */
async function notify(tx: Transaction, ids: string[], status: Image['status'] | 'DELETED'): Promise<void> {
  for (const id of ids) {
    await tx.$executeRaw`SELECT pg_notify(${IMAGE_EVENTS_CHANNEL}, ${JSON.stringify({ id, status })})`;
  }
}

/** Per class: its best score and how many segments it has (the content of ImageLabel rows). */
function summariseLabels(segments: NewSegment[]): { label: string; maxScore: number; segmentCount: number }[] {
  const byLabel = new Map<string, { maxScore: number; segmentCount: number }>();
  for (const segment of segments) {
    const entry = byLabel.get(segment.label) ?? { maxScore: 0, segmentCount: 0 };
    entry.maxScore = Math.max(entry.maxScore, segment.score);
    entry.segmentCount += 1;
    byLabel.set(segment.label, entry);
  }
  return [...byLabel].map(([label, entry]) => ({ label, ...entry }));
}
