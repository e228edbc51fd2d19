/**
 * The queue as users see it: images per status, batches and their progress, and
 * re-segmentation (with the current model or another one).
 */
import { newBatch, type BatchProgress, type BatchRepository } from '../db/batch.repository.js';
import type { ImageReadRepository } from '../db/image-read.repository.js';
import type { ImageWriteRepository } from '../db/image-write.repository.js';
import type { Quality } from '../vision/types.js';
import type { VisionRegistry } from '../vision/vision-engine.js';
import { checkId } from './catalogue.service.js';
import { InvalidInputError } from './errors.js';

export type { BatchProgress };

/** Images per status. */
export interface QueueCounts {
  pending: number;
  processing: number;
  done: number;
  failed: number;
}

/** Which images to segment again, and with which model. */
export interface ResegmentRequest {
  ids?: string[] | null;
  all?: boolean | null;
  outdated?: boolean | null;
  /** Manifest name; the current model when absent. */
  model?: string | null;
  /** How thoroughly to segment; the configured quality when absent. */
  quality?: Quality | null;
}

/** Dependencies of the queue service. */
export interface QueueDeps {
  images: ImageReadRepository;
  imageWrites: ImageWriteRepository;
  batches: BatchRepository;
  models: Pick<VisionRegistry, 'current' | 'get'>;
}

/** Largest number of batches listed at once. */
const MAX_BATCHES = 100;

/** How often waitForBatch reads a batch's progress. */
const BATCH_POLL_MS = 1000;

/** Queue state and re-segmentation. */
export class QueueService {
  constructor(private readonly deps: QueueDeps) {}

  /** Images per status. */
  async counts(): Promise<QueueCounts> {
    const counts = await this.deps.images.countByStatus();
    return { pending: counts.PENDING, processing: counts.PROCESSING, done: counts.DONE, failed: counts.FAILED };
  }

  /** Recent batches, newest first. */
  async batches(options: { active?: boolean | null; first?: number | null }): Promise<BatchProgress[]> {
    const first = options.first ?? 20;
    if (!Number.isInteger(first) || first < 1 || first > MAX_BATCHES) {
      throw new InvalidInputError(`first must be between 1 and ${MAX_BATCHES}, got ${first}`);
    }
    return this.deps.batches.batchProgress({ activeOnly: options.active ?? false, limit: first });
  }

  /** One batch's progress; null when there is no such batch. */
  async batch(id: string): Promise<BatchProgress | null> {
    const [progress] = await this.deps.batches.batchProgress({ activeOnly: false, limit: 1, ids: [id] });
    return progress ?? null;
  }

  /**
   * Resolves with a batch's progress once none of its images is waiting or being segmented (a
   * worker must be running somewhere); `onProgress` hears it every second meanwhile.
   */
  async waitForBatch(id: string, onProgress: (progress: BatchProgress) => void = () => undefined): Promise<BatchProgress> {
    for (;;) {
      const progress = await this.batch(id);
      if (!progress) throw new InvalidInputError(`no batch with id ${id}`);
      onProgress(progress);
      if (progress.pending + progress.processing === 0) return progress;
      await new Promise((resolve) => setTimeout(resolve, BATCH_POLL_MS));
    }
  }

  /**
   * Queues images for segmentation again. Exactly one of `ids`, `all` and `outdated` says which.
   * The worker replaces each image's segments with the new model's in one transaction, so
   * results of two models are never mixed. When nothing matches, nothing is queued and no batch
   * is made (`batch` is null).
   */
  async resegment(request: ResegmentRequest): Promise<{ batch: BatchProgress | null; queued: number }> {
    const chosen = [request.ids && request.ids.length > 0, request.all === true, request.outdated === true].filter(Boolean);
    if (chosen.length !== 1) {
      throw new InvalidInputError('say which images to re-segment: exactly one of ids, all: true or outdated: true');
    }
    const modelName = request.model ?? this.deps.models.current.model.name;
    const quality = request.quality ?? undefined;
    const engine = await this.deps.models.get(modelName, quality).catch((error: unknown) => {
      const what = `model ${JSON.stringify(modelName)}${quality ? ` at quality ${quality}` : ''}`;
      throw new InvalidInputError(`${what} cannot be used: ${error instanceof Error ? error.message : String(error)}`);
    });
    const ids = request.ids?.length
      ? await this.existingIds([...new Set(request.ids.map(checkId))])
      : await this.deps.images.idsToResegment({ outdatedFor: request.outdated ? engine.model : undefined });
    if (ids.length === 0) return { batch: null, queued: 0 };
    const batch = newBatch('resegment');
    // Queued in chunks so that a whole catalogue does not become one huge transaction.
    for (let start = 0; start < ids.length; start += 500) {
      await this.deps.imageWrites.enqueue(ids.slice(start, start + 500), { batch, model: request.model ?? undefined, quality });
    }
    // Every one deleted before it could be queued: no batch was made.
    return { batch: await this.batch(batch.id), queued: ids.length };
  }

  private async existingIds(ids: string[]): Promise<string[]> {
    const found = new Set((await this.deps.images.findByIds(ids)).map((image) => image?.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) throw new InvalidInputError(`no image with id ${missing.join(', ')}`);
    return ids;
  }
}
