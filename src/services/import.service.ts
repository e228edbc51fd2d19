/**
 * Bulk import of folders: find the images (by content, not by name), skip what is catalogued,
 * queue the rest and follow them to DONE or FAILED. Safe to interrupt: images are recorded with
 * their job as they are queued, so a second run skips them and waits for any still queued.
 */
import path from 'node:path';
import { newBatch, type BatchRef } from '../db/batch.repository.js';
import type { ImageReadRepository } from '../db/image-read.repository.js';
import type { Image } from '../models.js';
import { hashFile, readFileStream, readHead, walkFiles } from '../storage/local-files.js';
import { sniffImageFormat, SNIFF_BYTES } from '../vision/formats.js';
import { InvalidInputError, PayloadTooLargeError } from './errors.js';
import { isSettled, type ImageEvents } from './image-waiter.js';
import type { IngestService } from './ingest.service.js';

/** Progress of an import, reported after every change. */
export interface ImportProgress {
  /** Image files found. */
  total: number;
  /** Files finished: imported, duplicate or failed. */
  done: number;
  imported: number;
  duplicates: number;
  failed: number;
  /** Catalogued by an earlier, interrupted run and still being segmented. */
  resumed: number;
}

/** A file that could not be imported, and why. */
export interface ImportFailure {
  file: string;
  reason: string;
}

/** Summary at the end of an import. */
export interface ImportSummary extends ImportProgress {
  failures: ImportFailure[];
  elapsedMs: number;
}

/** Dependencies of the import service. */
export interface ImportDeps {
  ingest: IngestService;
  images: ImageReadRepository;
  events: ImageEvents;
}

/** Imports folders and files into the catalogue. */
export class ImportService {
  constructor(private readonly deps: ImportDeps) {}

  /** Every file under the inputs (folders walked recursively) whose content is an image. */
  async findImages(inputs: string[]): Promise<string[]> {
    const found: string[] = [];
    for (const file of await walkFiles(inputs)) {
      if (sniffImageFormat(await readHead(file, SNIFF_BYTES))) found.push(file);
    }
    return found;
  }

  /**
   * Imports the files: hashes each, skips the catalogued, queues the rest (at most `window`
   * waiting at once, so memory stays flat however large the folder), and resolves once all have
   * settled. `onProgress` is called after every change.
   *
   * The default window keeps a few workers busy while staying within what the vision engine holds
   * of each checked image's model input (see PREPARED_INPUTS), so that an image imported here and
   * segmented in this process is decoded once.
   */
  async importFiles(files: string[], onProgress: (progress: ImportProgress) => void, window = IMPORT_WINDOW): Promise<ImportSummary> {
    const started = performance.now();
    const run = new ImportRun(this.deps, files.length, newBatch('import'), onProgress);
    // Only a settled (or deleted) image can finish a file: news of one being queued or started
    // needs no lookup.
    const unsubscribe = this.deps.events.subscribe((imageId, status) => {
      if (status !== 'PENDING' && status !== 'PROCESSING') run.check([imageId]);
    });
    // Backs up notifications lost while the listening connection was down.
    const sweep = setInterval(() => run.check([...run.waiting.keys()]), SWEEP_MS);
    const inFlight = new Set<Promise<void>>();
    try {
      run.report();
      for (const file of files) {
        while (inFlight.size >= window) await Promise.race(inFlight);
        const task = run.importOne(file);
        inFlight.add(task);
        // The task's own rejection surfaces through Promise.race/all below; this one only tidies up.
        task.finally(() => inFlight.delete(task)).catch(() => undefined);
      }
      await Promise.all(inFlight);
    } finally {
      unsubscribe();
      clearInterval(sweep);
    }
    return { ...run.progress, failures: run.failures, elapsedMs: performance.now() - started };
  }
}

const SWEEP_MS = 2000;

/** Files an import has queued and not yet seen settle, at most. */
const IMPORT_WINDOW = 16;

/** The state of one import while it runs. */
class ImportRun {
  readonly progress: ImportProgress;
  readonly failures: ImportFailure[] = [];
  /**
   * Files waiting for their image to settle, by image id. Several files can wait on one image when
   * a folder holds the same bytes twice: the first counts as imported, the others as duplicates.
   */
  readonly waiting = new Map<string, { file: string; resolve: () => void }[]>();
  /** Images this run added (as opposed to ones an interrupted earlier run left queued). */
  private readonly added = new Set<string>();

  constructor(
    private readonly deps: ImportDeps,
    total: number,
    /** The images this run adds go in it. */
    private readonly batch: BatchRef,
    private readonly onProgress: (progress: ImportProgress) => void,
  ) {
    this.progress = { total, done: 0, imported: 0, duplicates: 0, failed: 0, resumed: 0 };
  }

  report(): void {
    this.onProgress({ ...this.progress });
  }

  /** Imports one file and resolves once it has settled. */
  async importOne(file: string): Promise<void> {
    let image: Image;
    try {
      const known = await this.deps.images.findBySha256(await hashFile(file));
      if (known && isSettled(known.status)) return this.finish('duplicates');
      if (known) {
        if (!this.added.has(known.id) && !this.waiting.has(known.id)) this.progress.resumed += 1;
        image = known;
      } else {
        const result = await this.deps.ingest.ingest(
          { filename: path.basename(file), stream: readFileStream(file) },
          { wait: false, batch: this.batch },
        );
        image = result.image;
        if (!result.duplicate) this.added.add(image.id);
      }
    } catch (error) {
      if (!(error instanceof InvalidInputError || error instanceof PayloadTooLargeError)) throw error;
      return this.finish('failed', { file, reason: error.message });
    }
    await new Promise<void>((resolve) => {
      const waiters = this.waiting.get(image.id) ?? [];
      waiters.push({ file, resolve });
      this.waiting.set(image.id, waiters);
      // The job may have finished before we started listening for it.
      this.check([image.id]);
    });
  }

  /** Looks up images that may have settled and finishes the files waiting on them. */
  check(ids: string[]): void {
    const wanted = ids.filter((id) => this.waiting.has(id));
    if (wanted.length === 0) return;
    void this.deps.images.findByIds(wanted).then((images) => {
      for (const image of images) {
        if (!image) continue;
        const waiters = this.waiting.get(image.id);
        if (!waiters || !isSettled(image.status)) continue;
        this.waiting.delete(image.id);
        waiters.forEach(({ file, resolve }, index) => {
          if (index > 0) this.finish('duplicates');
          else if (image.status === 'FAILED') this.finish('failed', { file, reason: image.error ?? 'segmentation failed' });
          else this.finish('imported');
          resolve();
        });
      }
    }, () => undefined); // The database may be away; the next sweep asks again.
  }

  private finish(outcome: 'imported' | 'duplicates' | 'failed', failure?: ImportFailure): void {
    this.progress[outcome] += 1;
    this.progress.done += 1;
    if (failure) this.failures.push(failure);
    this.report();
  }
}
