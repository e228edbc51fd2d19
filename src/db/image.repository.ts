/**
 * Catalogue writes: images entering, their segmentation results, cut-outs and deletion.
 *
 * Rows that point at files are written only after those files are durable (see FileStore), and a
 * segmentation result replaces the previous one in a single transaction, so readers see either the
 * old segments or the new ones, never a mix.
 */
import { randomUUID } from 'node:crypto';
import { Prisma } from '../generated/prisma/client.js';
import type { Extraction, Image, PrismaClient } from '../generated/prisma/client.js';
import { IMAGE_EVENTS_CHANNEL, SEGMENT_IMAGE_MAX_ATTEMPTS, SEGMENT_IMAGE_TASK, type SegmentImagePayload } from '../jobs/job-names.js';
import type { FileOwner } from '../storage/file-store.js';

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

/** Where a batch came from. */
export type BatchSource = 'upload' | 'import' | 'resegment';

/**
 * A batch to put images in. Its row is written together with its first images (see `enqueue`
 * and `addToBatch`), so no batch is ever made without any.
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

/**
 * What may be done about one content address (the sha256 of some bytes) while its lock is held:
 * see `ImageRepository.withContentLock`.
 */
export interface ContentRecords {
  /** The image with these bytes, if catalogued. */
  find(): Promise<Image | null>;
  /**
   * Records a new PENDING image with these bytes and queues its segmentation, so that no image is
   * ever left without a job or a job without its image.
   */
  create(image: NewImage): Promise<Image>;
  /**
   * Records that an image's original and thumbnail were stored again: a FAILED image goes back to
   * PENDING with a new job. Returns the image, or null when it is gone.
   */
  restored(id: string, thumbnailPath: string): Promise<Image | null>;
}

/** What a deleted image leaves on disk, for the caller to remove once the deletion has committed. */
export interface DeletedImage {
  sha256: string;
  /** Original and thumbnail: named after the bytes, so a new image of the same bytes may own them. */
  contentFiles: string[];
  /** Masks and cut-outs: named after ids no other row will ever have. */
  derivedFiles: string[];
  /** Its segments, whose cut-out folders go too. */
  segmentIds: string[];
}

/** What a segmentation result replaced, for the caller to remove once it has committed. */
export interface ReplacedSegmentation {
  /** Old masks and cut-outs that the new result does not use. */
  files: string[];
  /** The replaced segments, whose cut-out folders go too. */
  segmentIds: string[];
}

/** Advisory-lock key space of content addresses; the second key is hashtext(sha256). */
const CONTENT_LOCK_SPACE = 0x5eca7;

/**
 * Transaction limits under a content lock: its work moves an upload of up to MAX_UPLOAD_BYTES into
 * place (fsync included), and under load it may wait a while for a pooled connection.
 */
const CONTENT_LOCK_TRANSACTION = { maxWait: 15_000, timeout: 60_000 };

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

  /**
   * Puts images, already queued or settled, in a batch (an upload of several files, an import):
   * the batch follows each one's current run. Adding an image twice changes nothing.
   */
  async addToBatch(batch: BatchRef, imageIds: string[]): Promise<void> {
    await this.prisma.$transaction(async (tx) => joinBatch(tx, batch, imageIds));
  }

  /**
   * Runs `work` holding the lock on one content address, which every process on this database
   * shares. Originals and thumbnails are named after their bytes, so a deleted image and a new
   * upload of the same bytes name the same files: whoever writes or removes them does so in
   * `work`, after looking at the rows in it. So a file is removed only when no row references it,
   * and an image is recorded only once its files are in place. The lock is released when `work`
   * ends (it belongs to the transaction `work` runs in).
   */
  async withContentLock<T>(sha256: string, work: (content: ContentRecords) => Promise<T>): Promise<T> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${CONTENT_LOCK_SPACE}::int, hashtext(${sha256}))`;
      return work({
        find: () => tx.image.findUnique({ where: { sha256 } }),
        create: async (image) => {
          const created = await tx.image.create({ data: { ...image, status: 'PENDING' } });
          await addSegmentationJob(tx, created.id);
          return created;
        },
        restored: async (id, thumbnailPath) => {
          const [image] = await tx.$queryRaw<{ status: Image['status'] }[]>`SELECT status FROM "Image" WHERE id = ${id}::uuid FOR UPDATE`;
          if (!image) return null;
          const requeue = image.status === 'FAILED';
          const updated = await tx.image.update({
            where: { id },
            data: { thumbnailPath, ...(requeue && { status: 'PENDING', error: null }) },
          });
          if (requeue) {
            await addSegmentationJob(tx, id);
            await notify(tx, [id], 'PENDING');
          }
          return updated;
        },
      });
    }, CONTENT_LOCK_TRANSACTION);
  }

  /**
   * Queues segmentation again (re-segmentation, or an image whose job was lost), optionally with
   * another model and in a batch. Batches whose run of an image has ended keep its outcome: the
   * new run is not theirs.
   */
  async enqueue(imageIds: string[], options: { batch?: BatchRef; model?: string } = {}): Promise<void> {
    const { batch, model } = options;
    await this.prisma.$transaction(async (tx) => {
      // The rows are locked first, so a run that ends now either ends before (and is kept) or after.
      await tx.$executeRaw`
        WITH image AS (SELECT id, status FROM "Image" WHERE id = ANY(${imageIds}::uuid[]) FOR UPDATE)
        UPDATE "BatchImage" m SET outcome = image.status FROM image
        WHERE m."imageId" = image.id AND m.outcome IS NULL AND image.status IN ('DONE', 'FAILED')`;
      await tx.image.updateMany({ where: { id: { in: imageIds } }, data: { status: 'PENDING', error: null } });
      for (const id of imageIds) {
        await addSegmentationJob(tx, id, model);
      }
      if (batch) await joinBatch(tx, batch, imageIds);
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

  /** Marks an image as being segmented now; false when it is gone. */
  async markProcessing(id: string): Promise<boolean> {
    const { count } = await this.prisma.image.updateMany({ where: { id }, data: { status: 'PROCESSING', error: null } });
    return count === 1;
  }

  /**
   * Replaces an image's segments with a new result and marks it DONE. Returns what the replaced
   * result leaves for the caller to remove once this has committed, or null (having recorded
   * nothing) when the image is gone: deleted while it was being segmented.
   */
  async saveSegmentation(id: string, record: SegmentationRecord): Promise<ReplacedSegmentation | null> {
    if (await this.saveFirstSegmentation(id, record)) return { files: [], segmentIds: [] };
    return this.prisma.$transaction(async (tx) => {
      // Locked first, as `delete` does: the two take turns.
      const locked = await tx.$queryRaw<unknown[]>`SELECT 1 FROM "Image" WHERE id = ${id}::uuid FOR UPDATE`;
      if (locked.length === 0) return null;
      const previous = await tx.image.findUniqueOrThrow({
        where: { id },
        select: {
          backgroundMaskPath: true,
          segments: { select: { id: true, maskPath: true, extractions: { select: { path: true } } } },
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
      return {
        files: replaced.filter((file): file is string => file !== null && !kept.has(file)),
        segmentIds: previous.segments.map((segment) => segment.id),
      };
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

  /** Marks an image FAILED with a reason people can read (nothing, when it is gone). */
  async markFailed(id: string, reason: string): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.image.updateMany({ where: { id }, data: { status: 'FAILED', error: reason } });
      if (count === 1) await notify(tx, [id], 'FAILED');
    });
  }

  /**
   * Records a cut-out, or updates the one for the same segment, format and background; null,
   * having recorded nothing, when the segment is gone (its image was deleted or re-segmented).
   */
  async upsertExtraction(extraction: NewExtraction): Promise<Extraction | null> {
    const { segmentId, format, background } = extraction;
    try {
      return await this.prisma.extraction.upsert({
        where: { segmentId_format_background: { segmentId, format, background } },
        create: extraction,
        update: { path: extraction.path, width: extraction.width, height: extraction.height, bytes: extraction.bytes },
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003') return null;
      throw error;
    }
  }

  /**
   * Whether a row points to this stored file: the only files ever served. `owner` (from the file
   * store) names the row to look in, so this is one lookup by key.
   */
  async referencesFile(path: string, owner: FileOwner): Promise<boolean> {
    const { root, key } = owner;
    if (root === 'originals' || root === 'thumbnails') {
      return (await this.prisma.image.count({ where: { sha256: key, OR: [{ storagePath: path }, { thumbnailPath: path }] } })) > 0;
    }
    if (root === 'cutouts') return (await this.prisma.extraction.count({ where: { segmentId: key, path } })) > 0;
    // Overlays are a cache with no row of their own: they belong to their image while it exists.
    if (root === 'overlays') return (await this.prisma.image.count({ where: { id: key } })) > 0;
    const [found] = await this.prisma.$queryRaw<{ found: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM "Image" WHERE id = ${key}::uuid AND "backgroundMaskPath" = ${path})
          OR EXISTS (SELECT 1 FROM "Segment" WHERE "imageId" = ${key}::uuid AND "maskPath" = ${path}) AS found`;
    return found?.found === true;
  }

  /** The stored cut-out for a segment, format and background, if any. */
  async findExtraction(key: Pick<Extraction, 'segmentId' | 'format' | 'background'>): Promise<Extraction | null> {
    return this.prisma.extraction.findUnique({ where: { segmentId_format_background: key } });
  }

  /**
   * Deletes an image and its rows; returns what it leaves on disk, for removal once this has
   * committed (null when there is no such image).
   */
  async delete(id: string): Promise<DeletedImage | null> {
    return this.prisma.$transaction(async (tx) => {
      // Locked first: a segmentation result being saved either commits before, and its segments
      // are listed below, or finds the image gone. A cut-out recorded before the segments are
      // deleted is in its segment's folder, which is listed; one recorded after fails.
      const locked = await tx.$queryRaw<unknown[]>`SELECT 1 FROM "Image" WHERE id = ${id}::uuid FOR UPDATE`;
      if (locked.length === 0) return null;
      const image = await tx.image.findUniqueOrThrow({
        where: { id },
        include: { segments: { select: { id: true, maskPath: true, extractions: { select: { path: true } } } } },
      });
      await tx.image.delete({ where: { id } });
      await notify(tx, [id], 'DELETED');
      await tx.$executeRaw`SELECT graphile_worker.remove_job(${id}::text)`;
      return {
        sha256: image.sha256,
        contentFiles: [image.storagePath, image.thumbnailPath].filter((file): file is string => file !== null),
        derivedFiles: [
          image.backgroundMaskPath,
          ...image.segments.flatMap((segment) => [segment.maskPath, ...segment.extractions.map((e) => e.path)]),
        ].filter((file): file is string => file !== null),
        segmentIds: image.segments.map((segment) => segment.id),
      };
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

/**
 * Records the images as members of the batch, and the batch itself with its first ones. Images
 * deleted meanwhile are left out (locking the rest until the transaction ends).
 */
async function joinBatch(tx: Transaction, batch: BatchRef, imageIds: string[]): Promise<void> {
  const present = await tx.$queryRaw<{ id: string }[]>`SELECT id::text FROM "Image" WHERE id = ANY(${imageIds}::uuid[]) FOR KEY SHARE`;
  if (present.length === 0) return;
  await tx.$executeRaw`INSERT INTO "ImportBatch" (id, source) VALUES (${batch.id}::uuid, ${batch.source}) ON CONFLICT (id) DO NOTHING`;
  await tx.$executeRaw`
    INSERT INTO "BatchImage" ("batchId", "imageId") SELECT ${batch.id}::uuid, unnest(${present.map((row) => row.id)}::uuid[])
    ON CONFLICT DO NOTHING`;
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
