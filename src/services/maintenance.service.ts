/**
 * Keeps the catalogue's rows and DATA_DIR's files in agreement: `check` walks rows against files
 * (every original, thumbnail, mask and cut-out a row points to exists) and files against rows
 * (every stored file is one a row points to, or the overlay of an image that exists); `repair` acts
 * on what it found; start-up moves files no row points to into the quarantine instead of deleting
 * them. This is the logic behind `segcat check`, /health?deep=1 and start-up reconciliation.
 *
 * With DATABASE_URL other servers may be between writing a file and recording its row, so an
 * unreferenced file counts only once it is older than SEGCAT_STALE_MINUTES; and a row may be
 * replaced while it is walked, so every file found missing is looked up again before it is reported.
 */
import { randomUUID } from 'node:crypto';
import type { CatalogueRepository, ImageFiles } from '../db/catalogue.repository.js';
import type { ImageRepository } from '../db/image.repository.js';
import type { FileStore } from '../storage/file-store.js';
import type { ExtractionService } from './extraction.service.js';
import type { QueueService } from './queue.service.js';
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

/** Dependencies of the maintenance service. */
export interface MaintenanceDeps {
  images: ImageRepository;
  catalogue: CatalogueRepository;
  store: FileStore;
  queue: Pick<QueueService, 'resegment'>;
  extraction: Pick<ExtractionService, 'extractSegment'>;
  vision: Pick<VisionEngine, 'thumbnail'>;
}

/** Images read from the database at a time. */
const PAGE = 200;

/** Integrity checks, repairs and the quarantine. */
export class MaintenanceService {
  constructor(private readonly deps: MaintenanceDeps) {}

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
    const { stored, unreferenced, recent } = await this.unreferencedFiles(options.olderThanMs);
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
    result.quarantined = await this.quarantine(report.unreferenced, options.olderThanMs);
    return result;
  }

  /** Repairs one image as `repair` describes, from its rows as they are now; queues re-segmentation in `requeue`. */
  private async repairImage(image: ImageFiles, result: RepairReport, requeue: string[]): Promise<void> {
    const missing = await this.missingIn([image]);
    const kinds = new Set(missing.map((file) => file.kind));
    try {
      if (kinds.has('original')) {
        await this.deps.images.markFailed(image.id, MISSING_ORIGINAL);
        result.failed.push(image.id);
      } else if (kinds.has('mask') || kinds.has('background mask')) {
        requeue.push(image.id);
      } else {
        if (kinds.has('thumbnail')) {
          await this.remakeThumbnail(image);
          result.thumbnails += 1;
        }
        result.cutouts += await this.remakeCutouts(image, missing);
      }
    } catch (error) {
      result.errors.push(`image ${image.id}: ${this.deps.store.redactPaths(messageOf(error))}`);
    }
  }

  /**
   * Moves stored files no row points to into DATA_DIR/quarantine/ (start-up reconciliation, after a
   * crash between writing a file and recording its row). Returns how many were moved.
   */
  async quarantineUnreferenced(olderThanMs?: number): Promise<number> {
    return this.quarantine((await this.unreferencedFiles(olderThanMs)).unreferenced, olderThanMs);
  }

  /** Deletes quarantined files older than the retention; returns how many. */
  async purgeQuarantine(retentionMs: number): Promise<number> {
    return this.deps.store.quarantine.purge(retentionMs);
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

  /** Makes an image's thumbnail again from its original, and records it. */
  async remakeThumbnail(image: Pick<ImageFiles, 'id' | 'sha256' | 'storagePath'>): Promise<void> {
    const { store, vision, images } = this.deps;
    const thumbnailPath = store.thumbnailPath(image.sha256);
    const thumbnail = await vision.thumbnail(store.absolute(image.storagePath));
    await store.write(thumbnailPath, thumbnail.data);
    await images.setThumbnail(image.id, thumbnailPath);
  }

  private async remakeCutouts(image: ImageFiles, missing: MissingFile[]): Promise<number> {
    const lost = new Set(missing.filter((file) => file.kind === 'cut-out').map((file) => file.path));
    let made = 0;
    for (const segment of image.segments) {
      for (const extraction of segment.extractions.filter((e) => lost.has(e.path))) {
        await this.deps.extraction.extractSegment(segment.id, { format: extraction.format, background: extraction.background });
        made += 1;
      }
    }
    return made;
  }

  /** The files of these images that are missing. */
  private async missingIn(images: ImageFiles[]): Promise<MissingFile[]> {
    const checked = await Promise.all(
      images.flatMap((image) =>
        filesOf(image).map(async (file) => ((await this.deps.store.exists(file.path)) ? undefined : { imageId: image.id, ...file })),
      ),
    );
    return checked.filter((file): file is MissingFile => file !== undefined);
  }

  /** Reads the rows of these files' images again and returns the files still missing: a row replaced meanwhile is not a loss. */
  private async confirmMissing(suspects: MissingFile[]): Promise<MissingFile[]> {
    if (suspects.length === 0) return [];
    return this.missingIn(await this.deps.catalogue.storedFilesOf({ ids: [...new Set(suspects.map((file) => file.imageId))] }));
  }

  /**
   * Stored files no row points to (an overlay belongs to its image while that exists). With
   * `olderThanMs`, files younger than that are only counted as `recent`.
   */
  private async unreferencedFiles(olderThanMs?: number): Promise<{ stored: number; unreferenced: string[]; recent: number }> {
    const { store, images } = this.deps;
    // Listed before the rows are read: a file recorded in between is then seen as referenced.
    const stored = await store.listStoredFiles();
    const referenced = await images.referencedFiles();
    const candidates = stored.filter((file) => !referenced.has(file));
    const owners = candidates.map((file) => store.ownerOf(file));
    const overlayOwners = [...new Set(owners.filter((owner) => owner?.root === 'overlays').map((owner) => owner!.key))];
    const existing = new Set<string>();
    for (let start = 0; start < overlayOwners.length; start += 1000) {
      for (const image of await images.findByIds(overlayOwners.slice(start, start + 1000))) existing.add(image.id);
    }
    const unreferenced: string[] = [];
    let recent = 0;
    for (const [index, file] of candidates.entries()) {
      const owner = owners[index];
      if (owner?.root === 'overlays' && existing.has(owner.key)) continue;
      const modified = await store.modifiedAt(file);
      if (modified === undefined) continue;
      if (isRecent(modified, olderThanMs)) recent += 1;
      else unreferenced.push(file);
    }
    return { stored: stored.length, unreferenced, recent };
  }

  /** Quarantines files, each checked again for age just before: one written meanwhile stays. */
  private async quarantine(files: string[], olderThanMs?: number): Promise<number> {
    const stale: string[] = [];
    for (const file of files) {
      const modified = await this.deps.store.modifiedAt(file);
      if (modified !== undefined && !isRecent(modified, olderThanMs)) stale.push(file);
    }
    return this.deps.store.quarantine.move(stale);
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

function isRecent(modifiedMs: number, olderThanMs: number | undefined): boolean {
  return olderThanMs !== undefined && Date.now() - modifiedMs < olderThanMs;
}
