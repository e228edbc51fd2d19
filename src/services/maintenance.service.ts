/**
 * Keeps the catalogue's rows and DATA_DIR's files in agreement: `check` walks rows against files
 * (every original, thumbnail, mask and cut-out a row points to exists) and files against rows
 * (unreferenced-files.ts); `repair` acts on what it found; `reconcile` repairs at start what a
 * crash left; `backfillThumbnails` makes missing thumbnails. This is the logic behind `segcat
 * check`, `segcat thumbnails`, /health?deep=1 and start-up reconciliation.
 *
 * A row may be replaced while it is walked, so every file found missing is looked up again before
 * it is reported. Thumbnails are named after their bytes, so they are written only under the
 * content lock, as uploads and deletions do (ImageWriteRepository.withContentLock).
 */
import { randomUUID } from 'node:crypto';
import type { CatalogueRepository, ImageFiles } from '../db/catalogue.repository.js';
import type { ImageReadRepository } from '../db/image-read.repository.js';
import type { ImageWriteRepository } from '../db/image-write.repository.js';
import type { RecoveryRepository } from '../db/recovery.repository.js';
import type { SegmentationRepository } from '../db/segmentation.repository.js';
import type { FileStore } from '../storage/file-store.js';
import { thumbnailPath } from '../storage/layout.js';
import { settleAll } from '../storage/parallel.js';
import type { ExtractionService } from './extraction.service.js';
import type { QueueService } from './queue.service.js';
import { UnreferencedFiles } from './unreferenced-files.js';
import type { VisionEngine } from './vision.port.js';

/** The error an image gets when `segcat check --repair` finds its original gone. */
export const MISSING_ORIGINAL = 'the original file is missing from DATA_DIR; upload it again';

/** What a row points to. */
export type StoredFileKind = 'original' | 'thumbnail' | 'mask' | 'background mask' | 'cut-out';

/** A file a row points to that is not in DATA_DIR. */
export interface MissingFile {
  imageId: string;
  kind: StoredFileKind;
  /** Relative to DATA_DIR. */
  path: string;
}

/** Both directions of an integrity check. */
export interface IntegrityReport {
  /** Images whose rows were walked. */
  images: number;
  /** Files those rows point to. */
  referencedFiles: number;
  /** Stored files found in DATA_DIR. */
  storedFiles: number;
  /** Rows → files: files rows point to that are missing. */
  missing: MissingFile[];
  /** Files → rows: stored files no row points to, in DATA_DIR longer than the staleness threshold. */
  unreferenced: string[];
  /** Unreferenced files younger than that, left alone: another server may be recording them now. */
  recent: number;
}

/** What `repair` did. */
export interface RepairReport {
  /** Images whose masks were gone, queued for segmentation again. */
  requeued: string[];
  /** Images whose original was gone, marked FAILED with MISSING_ORIGINAL. */
  failed: string[];
  /** Thumbnails made again. */
  thumbnails: number;
  /** Cut-outs made again. */
  cutouts: number;
  /** Unreferenced files moved into DATA_DIR/quarantine/. */
  quarantined: number;
  /** Repairs that failed, one line each. */
  errors: string[];
}

/** What start-up reconciliation did. */
export interface ReconcileReport {
  /** Jobs a dead worker held, unlocked. */
  jobs: number;
  /** Images stuck PROCESSING or without a job, queued again. */
  requeued: number;
  /** Unreferenced files moved into DATA_DIR/quarantine/. */
  quarantined: number;
  /** Quarantined files past their retention, deleted. */
  purged: number;
}

/** What `backfillThumbnails` did. */
export interface ThumbnailBackfill {
  made: number;
  /** Images whose thumbnail file was there already. */
  present: number;
  failed: number;
}

/** Dependencies of the maintenance service. */
export interface MaintenanceDeps {
  images: ImageReadRepository;
  imageWrites: ImageWriteRepository;
  segmentations: SegmentationRepository;
  catalogue: CatalogueRepository;
  recovery: RecoveryRepository;
  /** Unlocks jobs whose worker died (with `olderThanMs`, only those locked longer ago); returns how many. */
  unlockAbandonedJobs: (olderThanMs?: number) => Promise<number>;
  store: FileStore;
  queue: Pick<QueueService, 'resegment'>;
  extraction: Pick<ExtractionService, 'extractSegment'>;
  vision: Pick<VisionEngine, 'thumbnail'>;
}

/** Images read from the database at a time. */
const PAGE = 200;
/**
 * Files looked up at once. Below the AWS SDK's 50 connections to a server: it counts a request's
 * wait for a free connection against its connection timeout, so a page's files all at once (a
 * thousand and more) failed `segcat check` on a slow S3 server.
 */
const EXISTS_AT_ONCE = 32;

/** Integrity checks, repairs and the quarantine. */
export class MaintenanceService {
  private readonly unreferenced: UnreferencedFiles;

  constructor(private readonly deps: MaintenanceDeps) {
    this.unreferenced = new UnreferencedFiles(deps);
  }

  /** Walks rows against files and files against rows; `olderThanMs` as for `unreferencedFiles`. */
  async check(options: { olderThanMs?: number } = {}): Promise<IntegrityReport> {
    let images = 0;
    let referencedFiles = 0;
    const missing: MissingFile[] = [];
    for (let after: string | undefined; ; ) {
      const page = await this.deps.catalogue.storedFilesOf({ after, limit: PAGE });
      if (page.length === 0) break;
      after = page.at(-1)!.id;
      images += page.length;
      referencedFiles += page.reduce((count, image) => count + filesOf(image).length, 0);
      missing.push(...(await this.confirmMissing(await this.missingIn(page))));
    }
    const { stored, unreferenced, recent } = await this.unreferenced.find(options.olderThanMs);
    return { images, referencedFiles, storedFiles: stored, missing, unreferenced, recent };
  }

  /**
   * Acts on a check's findings, each re-read first: an image whose original is gone is marked
   * FAILED; one whose masks are gone is queued for segmentation again (which also replaces its
   * cut-outs); a lost thumbnail or cut-out is made again; unreferenced files are quarantined.
   */
  async repair(report: IntegrityReport, options: { olderThanMs?: number } = {}): Promise<RepairReport> {
    const result: RepairReport = { requeued: [], failed: [], thumbnails: 0, cutouts: 0, quarantined: 0, errors: [] };
    const ids = [...new Set(report.missing.map((file) => file.imageId))];
    const requeue: string[] = [];
    for (let start = 0; start < ids.length; start += PAGE) {
      for (const image of await this.deps.catalogue.storedFilesOf({ ids: ids.slice(start, start + PAGE) })) {
        await this.repairImage(image, result, requeue);
      }
    }
    if (requeue.length > 0) {
      try {
        await this.deps.queue.resegment({ ids: requeue });
        result.requeued = requeue;
      } catch (error) {
        result.errors.push(`re-queueing ${requeue.length} images: ${messageOf(error)}`);
      }
    }
    result.quarantined = await this.unreferenced.quarantine(report.unreferenced, options.olderThanMs);
    return result;
  }

  /** Repairs one image as `repair` describes, from its rows as they are now; queues re-segmentation in `requeue`. */
  private async repairImage(image: ImageFiles, result: RepairReport, requeue: string[]): Promise<void> {
    const missing = await this.missingIn([image]);
    const kinds = new Set(missing.map((file) => file.kind));
    try {
      if (kinds.has('original')) {
        await this.deps.segmentations.markFailed(image.id, MISSING_ORIGINAL);
        result.failed.push(image.id);
      } else if (kinds.has('mask') || kinds.has('background mask')) {
        requeue.push(image.id);
      } else {
        if (kinds.has('thumbnail') && (await this.remakeThumbnail(image))) result.thumbnails += 1;
        result.cutouts += await this.remakeCutouts(image, missing);
      }
    } catch (error) {
      result.errors.push(`image ${image.id}: ${this.deps.store.redactPaths(messageOf(error))}`);
    }
  }

  /**
   * Repairs what a crash (kill -9, power loss) can leave: jobs locked by a dead worker, images stuck
   * PROCESSING or without a job, and files written whose rows never committed, which go to
   * DATA_DIR/quarantine/ (a file is never deleted on the word of a database alone); then deletes
   * quarantined files older than `retentionMs`. With `olderThanMs`, other processes may be
   * mid-work, so only what is older than that counts as left over.
   */
  async reconcile(options: { olderThanMs?: number; retentionMs: number }): Promise<ReconcileReport> {
    const { olderThanMs } = options;
    const jobs = await this.deps.unlockAbandonedJobs(olderThanMs);
    const requeued = await this.deps.recovery.requeueAbandoned();
    const quarantined = await this.unreferenced.quarantine((await this.unreferenced.find(olderThanMs)).unreferenced, olderThanMs);
    const purged = await this.deps.store.quarantine.purge(options.retentionMs);
    return { jobs, requeued, quarantined, purged };
  }

  /** Checks the files of up to `size` images from a random place in the catalogue: cheap enough for /health. */
  async sample(size: number): Promise<{ images: number; files: number; missing: MissingFile[] }> {
    const { catalogue } = this.deps;
    const from = await catalogue.storedFilesOf({ after: randomUUID(), limit: size });
    const wrapped = from.length < size ? await catalogue.storedFilesOf({ limit: size - from.length }) : [];
    const images = [...new Map([...from, ...wrapped].map((image) => [image.id, image])).values()];
    return {
      images: images.length,
      files: images.reduce((count, image) => count + filesOf(image).length, 0),
      missing: await this.confirmMissing(await this.missingIn(images)),
    };
  }

  /**
   * Makes the grid thumbnails that images lack (catalogued before thumbnails existed, or whose
   * file is gone), or with `force` every one. `onImage` hears of each image made or failed.
   */
  async backfillThumbnails(options: {
    force: boolean;
    onImage?: (image: { id: string; filename: string }, error?: string) => void;
  }): Promise<ThumbnailBackfill> {
    const { images, store } = this.deps;
    const counts: ThumbnailBackfill = { made: 0, present: 0, failed: 0 };
    for (let after: string | undefined; ; ) {
      const page = await images.page(after, PAGE);
      if (page.length === 0) return counts;
      after = page.at(-1)!.id;
      for (const image of page) {
        // A row can point at a thumbnail whose file is gone (DATA_DIR restored from an older backup).
        if (!options.force && image.thumbnailPath && (await store.exists(image.thumbnailPath))) {
          counts.present += 1;
          continue;
        }
        try {
          if (!(await this.remakeThumbnail(image))) continue;
          counts.made += 1;
          options.onImage?.(image);
        } catch (error) {
          counts.failed += 1;
          options.onImage?.(image, messageOf(error));
        }
      }
    }
  }

  /**
   * Makes an image's thumbnail again from its original, and records it; false, having written
   * nothing, when the image was deleted meanwhile.
   */
  private async remakeThumbnail(image: Pick<ImageFiles, 'sha256' | 'storagePath'>): Promise<boolean> {
    const { store, vision, imageWrites } = this.deps;
    // Decoded before the lock is taken: uploads and deletions of these bytes need not wait for it.
    const thumbnail = await vision.thumbnail(await store.read(image.storagePath));
    return imageWrites.withContentLock(image.sha256, async (content) => {
      const current = await content.lockImage();
      if (!current) return false;
      const path = thumbnailPath(image.sha256);
      await store.write(path, thumbnail.data);
      await content.setThumbnail(current.id, path);
      return true;
    });
  }

  private async remakeCutouts(image: ImageFiles, missing: MissingFile[]): Promise<number> {
    const lost = new Set(missing.filter((file) => file.kind === 'cut-out').map((file) => file.path));
    let made = 0;
    for (const segment of image.segments) {
      for (const extraction of segment.extractions.filter((e) => lost.has(e.path))) {
        await this.deps.extraction.extractSegment(segment.id, { format: extraction.format, background: extraction.background, refined: extraction.refined });
        made += 1;
      }
    }
    return made;
  }

  /** The files of these images that are missing, looked up EXISTS_AT_ONCE at a time. */
  private async missingIn(images: ImageFiles[]): Promise<MissingFile[]> {
    const files = images.flatMap((image) => filesOf(image).map((file) => ({ imageId: image.id, ...file })));
    const present: boolean[] = [];
    await settleAll([...files.keys()], EXISTS_AT_ONCE, async (index) => {
      present[index] = await this.deps.store.exists(files[index]!.path);
    });
    return files.filter((_, index) => !present[index]);
  }

  /** Reads the rows of these files' images again and returns the files still missing: a row replaced meanwhile is not a loss. */
  private async confirmMissing(suspects: MissingFile[]): Promise<MissingFile[]> {
    if (suspects.length === 0) return [];
    return this.missingIn(await this.deps.catalogue.storedFilesOf({ ids: [...new Set(suspects.map((file) => file.imageId))] }));
  }
}

/** Every file an image's rows point to, with what it is. */
function filesOf(image: ImageFiles): { kind: StoredFileKind; path: string }[] {
  const files: { kind: StoredFileKind; path: string }[] = [{ kind: 'original', path: image.storagePath }];
  if (image.thumbnailPath) files.push({ kind: 'thumbnail', path: image.thumbnailPath });
  if (image.backgroundMaskPath) files.push({ kind: 'background mask', path: image.backgroundMaskPath });
  for (const segment of image.segments) {
    files.push({ kind: 'mask', path: segment.maskPath });
    for (const extraction of segment.extractions) files.push({ kind: 'cut-out', path: extraction.path });
  }
  return files;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
