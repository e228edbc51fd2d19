/**
 * Image writes: images entering the catalogue (or given a new thumbnail) under their content
 * lock, queued for segmentation again, and deleted.
 *
 * An image is recorded together with its segmentation job, so that no image is ever left without
 * a job or a job without its image; rows that point at files are written only after those files
 * are durable (see storage/atomic-write.ts).
 */
import type { Image, PrismaClient } from '../generated/prisma/client.js';
import { addJob, removeJob } from '../jobs/job-sql.js';
import type { Quality } from '../vision/types.js';
import { joinBatch, keepEndedRuns, type BatchRef } from './batch.repository.js';
import { notifyImageEvents } from './image-events.js';

/** What is known of an image when it enters the catalogue. */
export type NewImage = Pick<Image, 'sha256' | 'filename' | 'mimeType' | 'bytes' | 'width' | 'height' | 'storagePath'> & { thumbnailPath: string };

/**
 * What may be done about one content address (the sha256 of some bytes) while its lock is held:
 * see `ImageWriteRepository.withContentLock`.
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
  /**
   * The image with these bytes with its row locked until the content lock is released, so that it
   * cannot be deleted meanwhile (a deletion waits, then lists the files recorded here); null when
   * none is catalogued.
   */
  lockImage(): Promise<Image | null>;
  /** Records an image's (re)made thumbnail; call lockImage first. */
  setThumbnail(id: string, thumbnailPath: string): Promise<void>;
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

/** Advisory-lock key space of content addresses; the second key is hashtext(sha256). */
const CONTENT_LOCK_SPACE = 0x5eca7;

/**
 * Transaction limits under a content lock: its work moves an upload of up to MAX_UPLOAD_BYTES into
 * place (fsync included), and under load it may wait a while for a pooled connection.
 */
const CONTENT_LOCK_TRANSACTION = { maxWait: 15_000, timeout: 60_000 };

/** Writes of images: recording and thumbnails (under the content lock), re-queueing and deletion. */
export class ImageWriteRepository {
  constructor(private readonly prisma: PrismaClient) {}

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
          await addJob(tx, 'segment_image', { imageId: created.id });
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
            await addJob(tx, 'segment_image', { imageId: id });
            await notifyImageEvents(tx, [id], 'PENDING');
          }
          return updated;
        },
        lockImage: async () => {
          const [row] = await tx.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM "Image" WHERE sha256 = ${sha256} FOR UPDATE`;
          return row ? tx.image.findUnique({ where: { id: row.id } }) : null;
        },
        setThumbnail: async (id, thumbnailPath) => {
          await tx.image.update({ where: { id }, data: { thumbnailPath } });
        },
      });
    }, CONTENT_LOCK_TRANSACTION);
  }

  /**
   * Queues segmentation again (re-segmentation, or an image whose job was lost), optionally with
   * another model or quality and in a batch. Batches whose run of an image has ended keep its
   * outcome: the new run is not theirs.
   */
  async enqueue(imageIds: string[], options: { batch?: BatchRef; model?: string; quality?: Quality } = {}): Promise<void> {
    const { batch, model, quality } = options;
    await this.prisma.$transaction(async (tx) => {
      await keepEndedRuns(tx, imageIds);
      await tx.image.updateMany({ where: { id: { in: imageIds } }, data: { status: 'PENDING', error: null } });
      for (const imageId of imageIds) {
        await addJob(tx, 'segment_image', { imageId, ...(model ? { model } : {}), ...(quality ? { quality } : {}) });
      }
      if (batch) await joinBatch(tx, batch, imageIds);
      await notifyImageEvents(tx, imageIds, 'PENDING');
    });
  }

  /**
   * Deletes an image and its rows, and its waiting segmentation job; returns what it leaves on
   * disk, for removal once this has committed (null when there is no such image).
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
      await notifyImageEvents(tx, [id], 'DELETED');
      // segment_image jobs are keyed by image id (TASK_SPECS).
      await removeJob(tx, id);
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
}
