/**
 * Pictures made from segments: cut-outs (one segment alone, cropped to its box, stored once per
 * segment, format and background) and overlays (the image with every segment tinted), all kept
 * in the file store.
 */
import type { Extraction, ExtractionBackground, ExtractionFormat, Segment } from '../generated/prisma/client.js';
import type { ImageRepository } from '../db/image.repository.js';
import type { SearchRepository } from '../db/search.repository.js';
import type { FileStore } from '../storage/file-store.js';
import { InvalidInputError, NotFoundError } from './errors.js';
import type { VisionEngine } from './vision.port.js';

/** How to cut out. */
export interface CutoutOptions {
  background: ExtractionBackground;
  format: ExtractionFormat;
}

/** Dependencies of the extraction service. */
export interface ExtractionDeps {
  images: ImageRepository;
  search: SearchRepository;
  store: FileStore;
  vision: Pick<VisionEngine, 'readMask' | 'extract' | 'overlay'>;
}

/** Makes and records cut-outs. */
export class ExtractionService {
  constructor(private readonly deps: ExtractionDeps) {}

  /** Cuts out one segment (or returns the stored cut-out). */
  async extractSegment(segmentId: string, options: CutoutOptions): Promise<Extraction> {
    const [segment] = await this.deps.search.segmentsByIds([segmentId]);
    if (!segment) throw new NotFoundError('segment', segmentId);
    return this.cutOut(segment, options);
  }

  /** Cuts out every segment of an image matching the labels and score, best score first. */
  async extractSegments(
    imageId: string,
    filter: { labels?: string[] | null; minScore: number },
    options: CutoutOptions,
  ): Promise<Extraction[]> {
    const image = await this.deps.images.findById(imageId);
    if (!image) throw new NotFoundError('image', imageId);
    if (image.status !== 'DONE') {
      throw new InvalidInputError(`image ${imageId} is ${image.status}; segments can be cut out once it is DONE`);
    }
    const [segments = []] = await this.deps.search.segmentsOfImages([imageId]);
    const labels = filter.labels && filter.labels.length > 0 ? new Set(filter.labels) : undefined;
    const chosen = segments.filter((s) => s.score >= filter.minScore && (!labels || labels.has(s.label)));
    const extractions: Extraction[] = [];
    for (const segment of chosen) extractions.push(await this.cutOut(segment, options));
    return extractions;
  }

  /**
   * The relative path of an image's overlay picture, rendered on first request and cached until
   * the image is segmented again.
   */
  async overlay(imageId: string): Promise<string> {
    const { search, store, vision } = this.deps;
    const [image] = await search.imagesByIds([imageId]);
    if (!image) throw new NotFoundError('image', imageId);
    if (image.status !== 'DONE' || !image.segmentedAt) {
      throw new InvalidInputError(`image ${imageId} is ${image.status}; its overlay exists once it is DONE`);
    }
    const path = store.overlayPath(imageId, String(image.segmentedAt.getTime()));
    if (await store.exists(path)) return path;
    const [segments = []] = await search.segmentsOfImages([imageId]);
    const masks = await Promise.all(
      segments.map(async (segment) => ({
        label: segment.label,
        score: segment.score,
        mask: await vision.readMask(store.absolute(segment.maskPath), boxOf(segment)),
      })),
    );
    await store.write(path, await vision.overlay(store.absolute(image.storagePath), masks));
    return path;
  }

  private async cutOut(segment: Segment, options: CutoutOptions): Promise<Extraction> {
    const { images, store, vision } = this.deps;
    const key = { segmentId: segment.id, ...options };
    const existing = await images.findExtraction(key);
    if (existing && (await store.exists(existing.path))) return existing;
    const [image] = await this.deps.search.imagesByIds([segment.imageId]);
    if (!image) throw new NotFoundError('image', segment.imageId);
    const mask = await vision.readMask(store.absolute(segment.maskPath), boxOf(segment));
    const picture = await vision.extract(store.absolute(image.storagePath), mask, {
      background: options.background === 'WHITE' ? 'white' : 'transparent',
      format: options.format === 'WEBP' ? 'webp' : 'png',
    });
    const path = store.cutoutPath(segment.id, options.background, options.format);
    await store.write(path, picture.data);
    return images.upsertExtraction({
      ...key,
      path,
      width: picture.width,
      height: picture.height,
      bytes: picture.data.length,
    });
  }
}

function boxOf(segment: Segment) {
  return { x: segment.x, y: segment.y, width: segment.width, height: segment.height };
}
