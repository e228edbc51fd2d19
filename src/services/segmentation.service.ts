/**
 * Segments one catalogued image: run the model, write the mask files, then replace
 * the image's segments in one transaction. This is the body of the queue's segmentation job, so
 * it must be safe to run again for the same image (after a crash, a retry or a re-segmentation),
 * and the image may be deleted while it runs: then it removes what it wrote and ends quietly.
 */
import type { Logger } from 'pino';
import type { ImageReadRepository } from '../db/image-read.repository.js';
import type { NewSegment, SegmentationRepository } from '../db/segmentation.repository.js';
import type { SegmentationObserver } from '../observability/probes.js';
import { StoredFileMissingError, type FileStore } from '../storage/file-store.js';
import * as layout from '../storage/layout.js';
import { loggedStages } from './stage-timings.js';
import type { Quality } from '../vision/types.js';
import { ImageRejectedError, type VisionEngine } from './vision.port.js';

/** Dependencies of the segmentation service. */
export interface SegmentationDeps {
  images: ImageReadRepository;
  segmentations: SegmentationRepository;
  store: FileStore;
  /** The current model's engine, and others by name and quality. */
  models: { current: VisionEngine; get(name: string, quality?: Quality): Promise<VisionEngine> };
  logger: Logger;
  /** Hears the stage timings of each recorded segmentation (metrics). */
  metrics?: SegmentationObserver;
}

/** How a segmentation run ended. */
export type SegmentationOutcome = 'done' | 'failed' | 'skipped';

/** Runs segmentation for queued images. */
export class SegmentationService {
  constructor(private readonly deps: SegmentationDeps) {}

  /**
   * Segments an image and records the result. A file that cannot be decoded fails the image at
   * once (retrying cannot help); other errors are thrown for the queue to retry, and
   * `lastAttempt` marks the image FAILED when no retry is left.
   */
  async segmentImage(imageId: string, options: { lastAttempt: boolean; model?: string; quality?: Quality }): Promise<SegmentationOutcome> {
    const { images, segmentations, logger } = this.deps;
    const begun = performance.now();
    const image = await images.findById(imageId);
    if (!image) return 'skipped';
    const written: string[] = [];
    try {
      const { models } = this.deps;
      const vision = options.model || options.quality ? await models.get(options.model ?? models.current.model.name, options.quality) : models.current;
      // A job delivered again after it completed (a worker died before acknowledging it) has nothing to do.
      if (image.status === 'DONE' && image.modelName === vision.model.name && image.modelVersion === vision.model.version) {
        return 'skipped';
      }
      if (!(await segmentations.markProcessing(imageId))) return await this.discardDeleted(imageId);
      const started = performance.now();
      // Read only if the engine no longer holds the input it made when the image came in.
      const result = await vision.segment(() => this.deps.store.read(image.storagePath), { key: image.sha256 });
      const filesStarted = performance.now();
      const record = await this.writeFiles(vision, image, result, written);
      const saveStarted = performance.now();
      const replaced = await segmentations.saveSegmentation(imageId, record);
      if (!replaced) return await this.discardDeleted(imageId);
      const { preprocessMs, inferenceMs, postprocessMs } = result.timings;
      const stages = {
        decode: preprocessMs,
        model: inferenceMs,
        post: postprocessMs,
        files: saveStarted - filesStarted,
        // Reading the row and marking it PROCESSING, then saving the result.
        database: started - begun + (performance.now() - saveStarted),
      };
      this.deps.metrics?.segmented(stages);
      // A different model's folder held only the replaced masks.
      const oldModelDir = image.modelName && image.modelName !== vision.model.name ? [layout.maskDir(image.id, image.modelName)] : [];
      await this.deps.store.remove([...replaced.files, ...replaced.segmentIds.map((id) => layout.cutoutDir(id)), ...oldModelDir]);
      logger.info(
        {
          imageId,
          model: vision.model.name,
          segments: result.segments.length,
          ms: Math.round(performance.now() - begun),
          // Where the time went; what is left of `ms` was spent waiting for the model (its runs
          // are queued one at a time) and for the event loop.
          stages: loggedStages(stages),
        },
        'image segmented',
      );
      return 'done';
    } catch (error) {
      // Deleted meanwhile: its original went (the model could not read it), or its mask folder
      // went while the masks were being written.
      if ((await images.findById(imageId).catch(() => image)) === null) return await this.discardDeleted(imageId);
      // A re-run with the same model writes the same names as the current result: those files are
      // still what the image's rows point to, so they stay.
      const current = new Set(await images.filesOf(imageId).catch(() => written));
      await this.deps.store.remove(written.filter((file) => !current.has(file)));
      // A missing original will not come back by retrying: `segcat check --repair` or a new upload brings it.
      const permanent = error instanceof ImageRejectedError || error instanceof StoredFileMissingError;
      if (!permanent && !options.lastAttempt) throw error;
      const reason = this.deps.store.redactPaths(error instanceof Error ? error.message : String(error));
      logger.warn({ imageId, err: error }, 'segmentation failed');
      await segmentations.markFailed(imageId, permanent ? reason : `segmentation failed: ${reason}`);
      return 'failed';
    }
  }

  /**
   * Ends the job of an image deleted while it ran: no row can point into its folders any more (ids
   * are never reused), so whatever this run wrote there, and the folders, go.
   */
  private async discardDeleted(imageId: string): Promise<SegmentationOutcome> {
    await this.deps.store.remove(layout.derivedDirs(imageId));
    this.deps.logger.info({ imageId }, 'image deleted while being segmented; its masks were discarded');
    return 'skipped';
  }

  /** Writes the masks and the background mask; every path written is pushed to `written`. */
  private async writeFiles(
    vision: VisionEngine,
    image: { id: string; filename: string },
    result: Awaited<ReturnType<VisionEngine['segment']>>,
    written: string[],
  ) {
    const { store } = this.deps;
    const model = vision.model.name;
    const root = layout.maskFileRoot(image.filename);
    const backgroundMaskPath = layout.maskPath(image.id, model, vision.backgroundFileName(root));
    // Per-class NMS leaves no two segments with the same label and box, so names are unique.
    const segments: NewSegment[] = result.segments.map((segment) => ({
      label: segment.label,
      classId: segment.classId,
      score: segment.score,
      ...segment.mask.box,
      area: segment.area,
      maskPath: layout.maskPath(image.id, model, vision.maskFileName(root, segment)),
    }));
    written.push(...segments.map((segment) => segment.maskPath), backgroundMaskPath);
    // Deflate runs on libuv's threads, so the masks encode side by side; then one batch write
    // makes them all durable together (it settles only once every write has ended, so the
    // cleanup on failure sees all written files).
    const [background, ...masks] = await Promise.all([
      vision.encodeBackground(result.segments, result.width, result.height),
      ...result.segments.map((segment) => vision.encodeMask(segment.mask, result.width, result.height)),
    ]);
    await store.writeMany([
      { path: backgroundMaskPath, data: background!.png },
      ...segments.map((segment, index) => ({ path: segment.maskPath, data: masks[index] as Buffer })),
    ]);
    const backgroundArea = background!.area;
    return {
      modelName: vision.model.name,
      modelVersion: vision.model.version,
      segments,
      backgroundMaskPath,
      backgroundArea,
    };
  }
}
