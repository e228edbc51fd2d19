/**
 * Images entering the catalogue: receive, check, store, record, queue.
 *
 * Order matters for "a rejected upload leaves nothing behind": the bytes go to a temporary file
 * (hashed as they stream), are checked, and only then are moved to their content address and
 * recorded, together with their segmentation job, in one transaction.
 *
 * Originals and thumbnails are named after their bytes, so an image being deleted and a new upload
 * of the same bytes (on this server or another sharing DATA_DIR) name the same files. Both touch
 * them only under the content lock (ImageWriteRepository.withContentLock) and after looking at the rows:
 * the files are removed only when no row references them, and written before the row that does.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Image } from '../models.js';
import { newBatch, type BatchRef, type BatchRepository } from '../db/batch.repository.js';
import type { ImageReadRepository } from '../db/image-read.repository.js';
import type { ContentRecords, ImageWriteRepository } from '../db/image-write.repository.js';
import { FileTooLargeError, IncomingStreamError, type TempFile } from '../storage/atomic-write.js';
import type { FileStore } from '../storage/file-store.js';
import * as layout from '../storage/layout.js';
import { loggedStages } from './stage-timings.js';
import { excessJpegMetadata, JPEG_METADATA_HEAD_BYTES, MAX_JPEG_METADATA_BYTES } from '../vision/formats.js';
import { InvalidInputError, NotFoundError, PayloadTooLargeError } from './errors.js';
import { isSettled, type ImageWaiter } from './image-waiter.js';
import { ImageRejectedError, type ImageInfo, type VisionEngine } from './vision.port.js';

/** An image sent by a client. */
export interface IncomingFile {
  /** Name the client gave it; kept for display only. */
  filename: string;
  stream: Readable;
}

/** Result of one upload. */
export interface IngestResult {
  image: Image;
  /** The same bytes were already catalogued. */
  duplicate: boolean;
  /** Segmentation has finished (DONE or FAILED); false when it is still to come. */
  settled: boolean;
}

/** How to add images. */
export interface IngestOptions {
  /** Resolve only once segmentation has finished, or once UPLOAD_WAIT_MS has passed. */
  wait: boolean;
  /** Aborted when the caller no longer wants the answer: stops a wait early. */
  signal?: AbortSignal;
  /** Put the images in this batch, for progress (several files uploaded together get their own). */
  batch?: BatchRef;
}

/** Dependencies of the ingest service. */
export interface IngestDeps {
  images: ImageReadRepository;
  imageWrites: ImageWriteRepository;
  batches: BatchRepository;
  store: FileStore;
  vision: Pick<VisionEngine, 'acceptImage'>;
  waiter: ImageWaiter;
  logger: Logger;
  maxUploadBytes: number;
  /** Longest a `wait` lasts before the images are returned unsettled (UPLOAD_WAIT_MS). */
  uploadWaitMs: number;
}

/** Longest file name kept for display. */
const MAX_FILENAME_LENGTH = 255;

/** Receives images and queues their segmentation. */
export class IngestService {
  constructor(private readonly deps: IngestDeps) {}

  /**
   * Adds one image. With `wait`, resolves once its segmentation has finished (DONE or FAILED), or
   * unsettled when UPLOAD_WAIT_MS, the signal or shutdown ends the wait first; otherwise at once,
   * with the image PENDING.
   */
  async ingest(file: IncomingFile, options: IngestOptions): Promise<IngestResult> {
    const [result] = await this.ingestMany([file], options);
    return result!;
  }

  /**
   * Adds several images, all or none: every file is received and checked before any is recorded,
   * and one bad file rejects the request with a message naming each bad file.
   */
  async ingestMany(files: IncomingFile[], options: IngestOptions): Promise<IngestResult[]> {
    const started = performance.now();
    const received: Received[] = [];
    const stages: { receive: number; check: number; record?: number }[] = [];
    try {
      const problems: string[] = [];
      for (const file of files) {
        const filename = displayName(file.filename);
        try {
          const begun = performance.now();
          const temp = await this.receive(file.stream);
          const checking = performance.now();
          received.push(await this.check(filename, temp));
          stages.push({ receive: checking - begun, check: performance.now() - checking });
        } catch (error) {
          if (!(error instanceof InvalidInputError) || files.length === 1) throw error;
          problems.push(error.message);
        }
      }
      if (problems.length > 0) throw new InvalidInputError(`nothing was added: ${problems.join('; ')}`);
      // Several files uploaded together form a batch, so their progress can be followed as one.
      // Duplicates are in it too: the batch counts each distinct image once.
      const batch = options.batch ?? (received.length > 1 ? newBatch('upload') : undefined);
      const results: Omit<IngestResult, 'settled'>[] = [];
      for (const [index, item] of received.entries()) {
        const recording = performance.now();
        const result = await this.record(item);
        stages[index]!.record = performance.now() - recording;
        results.push(result);
        if (batch) await this.deps.batches.addToBatch(batch, [result.image.id]);
      }
      for (const [index, result] of results.entries()) {
        this.deps.logger.info(
          {
            imageId: result.image.id,
            duplicate: result.duplicate,
            bytes: received[index]!.temp.bytes,
            ms: elapsed(started),
            // receive: the bytes to a temporary file; check: decode, thumbnail and model input; record: files and rows.
            stages: loggedStages(stages[index]!),
          },
          'image received',
        );
      }
      const wait = { timeoutMs: this.deps.uploadWaitMs, signal: options.signal };
      return Promise.all(
        results.map(async ({ image, duplicate }) => {
          let current = image;
          if (options.wait && !isSettled(image.status)) current = await this.deps.waiter.waitUntilSettled(image.id, wait);
          return { image: current, duplicate, settled: isSettled(current.status) };
        }),
      );
    } finally {
      for (const item of received) await this.deps.store.discardTemp(item.temp);
    }
  }

  /** Removes an image with its rows and every file made from it; returns its id. */
  async deleteImage(id: string): Promise<string> {
    const { imageWrites, store } = this.deps;
    const deleted = await imageWrites.delete(id);
    if (!deleted) throw new NotFoundError('image', id);
    await store.remove([...deleted.derivedFiles, ...layout.derivedDirs(id, deleted.segmentIds)]);
    // By now an upload of the same bytes may have recorded a new image, which owns these files.
    const removed = await imageWrites.withContentLock(deleted.sha256, async (content) => {
      if (await content.find()) return false;
      await store.remove(deleted.contentFiles);
      return true;
    });
    this.deps.logger.info({ imageId: id, files: deleted.derivedFiles.length, originalRemoved: removed }, 'image deleted');
    return id;
  }

  private async receive(stream: Readable): Promise<TempFile> {
    try {
      return await this.deps.store.receive(stream, this.deps.maxUploadBytes);
    } catch (error) {
      if (error instanceof FileTooLargeError || (error instanceof IncomingStreamError && error.status === 413)) {
        throw new PayloadTooLargeError(
          `the file is larger than the upload limit of ${formatBytes(this.deps.maxUploadBytes)} (MAX_UPLOAD_BYTES)`,
        );
      }
      if (error instanceof IncomingStreamError) {
        throw new InvalidInputError(`the upload was interrupted before the whole file arrived (${error.message}); send it again`);
      }
      throw error;
    }
  }

  /**
   * Checks a received file; anything wrong is an InvalidInputError naming it. Bytes already
   * catalogued, with their original in place, need no check.
   */
  private async check(filename: string, temp: TempFile): Promise<Received> {
    const existing = await this.deps.images.findBySha256(temp.sha256);
    if (existing && (await this.deps.store.exists(existing.storagePath))) return { filename, temp };
    return this.accept(filename, temp);
  }

  /** Checks a received file's bytes and makes its thumbnail; anything wrong is an InvalidInputError naming it. */
  private async accept(filename: string, temp: TempFile): Promise<Received> {
    try {
      if (temp.bytes === 0) throw new InvalidInputError(`"${filename}" is empty (0 bytes); send an image file`);
      await this.checkMetadata(filename, temp);
      const { facts, thumbnail } = await this.deps.vision.acceptImage(temp.path, { key: temp.sha256 }).catch((error: unknown) => {
        // The vision module names its input, here the temporary file: that path is the server's business.
        if (error instanceof ImageRejectedError) {
          throw new InvalidInputError(`"${filename}": ${error.message.replaceAll(`${temp.path}: `, '').replaceAll(temp.path, 'the file')}`);
        }
        throw error;
      });
      return { filename, temp, facts, thumbnail: thumbnail.data };
    } catch (error) {
      await this.deps.store.discardTemp(temp);
      throw error;
    }
  }

  private async checkMetadata(filename: string, temp: TempFile): Promise<void> {
    const metadata = excessJpegMetadata(await this.deps.store.readTempHead(temp, JPEG_METADATA_HEAD_BYTES));
    if (metadata !== undefined) {
      throw new InvalidInputError(
        `"${filename}" carries ${formatBytes(metadata)} of metadata (EXIF, XMP, ICC), more than the limit of ` +
          `${formatBytes(MAX_JPEG_METADATA_BYTES)}; strip it (e.g. exiftool -all= "${filename}") and send it again`,
      );
    }
  }

  /**
   * Records a checked file under its content lock: a new image, or the one already catalogued
   * with these bytes (storing them again if its original is gone).
   */
  private async record(item: Received): Promise<Omit<IngestResult, 'settled'>> {
    let checked = item;
    for (;;) {
      const recorded = await this.deps.imageWrites.withContentLock(checked.temp.sha256, (content) => this.recordLocked(content, checked));
      if (recorded) return recorded;
      // The image these bytes matched when they were checked is gone, or has lost its original:
      // they are needed after all, checked, with their thumbnail.
      checked = await this.accept(item.filename, item.temp);
    }
  }

  /** The body of `record`, under the content lock; undefined when the bytes must be checked first. */
  private async recordLocked(content: ContentRecords, item: Received): Promise<Omit<IngestResult, 'settled'> | undefined> {
    const { store } = this.deps;
    const { temp, filename, facts, thumbnail } = item;
    const existing = await content.find();
    if (existing && (await store.exists(existing.storagePath))) return { image: existing, duplicate: true };
    if (!facts || !thumbnail) return undefined;
    const storagePath = existing?.storagePath ?? layout.originalPath(temp.sha256, facts.mimeType);
    const thumbnailPath = layout.thumbnailPath(temp.sha256);
    try {
      // Written even when a file of that name exists: nothing references it (there is no row, or
      // its row's original is missing), so it may be half of an earlier, interrupted upload.
      await store.commitTemp(temp, storagePath);
      // Made now rather than after segmentation, so that queued images already show in grids.
      await store.write(thumbnailPath, thumbnail);
      if (existing) {
        const image = await content.restored(existing.id, thumbnailPath);
        if (image) {
          this.deps.logger.warn({ imageId: image.id, status: image.status }, 'original was missing; stored it again');
          return { image, duplicate: true };
        }
      }
      const image = await content.create({
        sha256: temp.sha256,
        filename,
        mimeType: facts.mimeType,
        bytes: temp.bytes,
        width: facts.width,
        height: facts.height,
        storagePath,
        thumbnailPath,
      });
      return { image, duplicate: false };
    } catch (error) {
      // Still under the lock: no row references these files unless one did before.
      if (!existing) await store.remove([storagePath, thumbnailPath]);
      throw error;
    }
  }
}

/**
 * A received file after its checks: a valid image with its facts and thumbnail, or (without them)
 * bytes that matched a catalogued image when they were checked.
 */
interface Received {
  filename: string;
  temp: TempFile;
  facts?: ImageInfo;
  /** WebP thumbnail made while checking the file. */
  thumbnail?: Buffer;
}

/**
 * A file name fit for display: the last path component, without control characters, bounded.
 * It is never used to build a path.
 */
export function displayName(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return (clean === '' || clean === '.' || clean === '..' ? 'upload' : clean).slice(0, MAX_FILENAME_LENGTH);
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MB` : `${bytes} bytes`;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
