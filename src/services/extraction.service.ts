/**
 * Pictures made from segments: cut-outs (one segment alone, cropped to its box, stored once per
 * segment, format and background) and overlays (the image with every segment tinted), all kept
 * in the file store.
 *
 * The image may be deleted (or re-segmented) while a picture is being made. A picture is written
 * first and its owner checked after: a cut-out's row cannot be recorded for a segment that is gone,
 * and then the picture is removed and the request answered NOT_FOUND.
 */
import type { Extraction, ExtractionBackground, ExtractionFormat, Image, Segment } from '../models.js';
import type { ImageReadRepository } from '../db/image-read.repository.js';
import type { SearchRepository } from '../db/search.repository.js';
import type { SegmentationRepository } from '../db/segmentation.repository.js';
import type { FileStore } from '../storage/file-store.js';
import * as layout from '../storage/layout.js';
import { InvalidInputError, NotFoundError } from './errors.js';
import type { LabelVocabulary } from './label-terms.js';
import type { VisionEngine } from './vision.port.js';

/** How a cut-out looks: its background and file format (the GraphQL enums), and whether its mask is refined. */
export interface ExtractionStyle {
  background: ExtractionBackground;
  format: ExtractionFormat;
  /** Cut along the photo's edges (vision/refine.ts); the stored mask is not changed. */
  refined: boolean;
}

/** Dependencies of the extraction service. */
export interface ExtractionDeps {
  images: ImageReadRepository;
  search: SearchRepository;
  /** Where cut-outs are recorded. */
  segmentations: SegmentationRepository;
  store: FileStore;
  vision: Pick<VisionEngine, 'readMask' | 'extractMany' | 'overlay'>;
  /** What the search words of `extractSegments` mean. */
  vocabulary: LabelVocabulary;
}

/** Makes and records cut-outs. */
export class ExtractionService {
  constructor(private readonly deps: ExtractionDeps) {}

  /** Cuts out one segment (or returns the stored cut-out). */
  async extractSegment(segmentId: string, options: ExtractionStyle): Promise<Extraction> {
    const [segment] = await this.deps.search.segmentsByIds([segmentId]);
    if (!segment) throw new NotFoundError('segment', segmentId);
    const image = await this.deps.images.findById(segment.imageId);
    if (!image) throw new NotFoundError('segment', segmentId);
    const [extraction] = await this.cutOut(image, [segment], options, () => new NotFoundError('segment', segmentId));
    return extraction!;
  }

  /**
   * Cuts out every segment of an image of a class the search words `labels` name (any class when
   * none are given) that scores at least `minScore`, best score first.
   */
  async extractSegments(
    imageId: string,
    filter: { labels?: string[] | null; minScore: number },
    options: ExtractionStyle,
  ): Promise<Extraction[]> {
    const labels = this.deps.vocabulary.classesOf(filter.labels);
    const image = await this.deps.images.findById(imageId);
    if (!image) throw new NotFoundError('image', imageId);
    if (image.status !== 'DONE') {
      throw new InvalidInputError(`image ${imageId} is ${image.status}; segments can be cut out once it is DONE`);
    }
    const [segments = []] = await this.deps.search.segmentsOfImages([imageId]);
    const chosen = segments.filter((s) => s.score >= filter.minScore && (!labels || labels.has(s.label)));
    return this.cutOut(image, chosen, options, () => new NotFoundError('image', imageId));
  }

  /**
   * The relative path of an image's overlay picture, rendered on first request and cached until
   * the image is segmented again.
   */
  async overlay(imageId: string): Promise<string> {
    const { images, search, store, vision } = this.deps;
    const image = await images.findById(imageId);
    if (!image) throw new NotFoundError('image', imageId);
    if (image.status !== 'DONE' || !image.segmentedAt) {
      throw new InvalidInputError(`image ${imageId} is ${image.status}; its overlay exists once it is DONE`);
    }
    const path = layout.overlayPath(imageId, String(image.segmentedAt.getTime()));
    if (await store.exists(path)) return path;
    try {
      const [segments = []] = await search.segmentsOfImages([imageId]);
      const masks = await Promise.all(
        segments.map(async (segment) => ({
          label: segment.label,
          score: segment.score,
          mask: await vision.readMask(await store.read(segment.maskPath), boxOf(segment)),
        })),
      );
      await store.write(path, await vision.overlay(await store.read(image.storagePath), masks));
    } catch (error) {
      if (await this.deps.images.findById(imageId)) throw error;
    }
    // Overlays have no row: one drawn for an image deleted meanwhile would outlive it.
    if (!(await this.deps.images.findById(imageId))) {
      await store.remove(layout.derivedDirs(imageId));
      throw new NotFoundError('image', imageId);
    }
    return path;
  }

  /**
   * Cut-outs of segments of one image, in the order given: stored ones are reused, the others are
   * made together from one decode of the image. `gone` is the error when a segment disappears
   * meanwhile.
   */
  private async cutOut(image: Image, segments: Segment[], options: ExtractionStyle, gone: () => Error): Promise<Extraction[]> {
    const { segmentations, search, store } = this.deps;
    const results = await Promise.all(
      segments.map(async (segment) => {
        const existing = await segmentations.findExtraction({ segmentId: segment.id, ...options });
        return existing && (await store.exists(existing.path)) ? existing : undefined;
      }),
    );
    const missing = segments.filter((_, index) => !results[index]);
    if (missing.length > 0) {
      let made: Map<string, Extraction>;
      try {
        made = await this.make(image, missing, options, gone);
      } catch (error) {
        // Deleted or re-segmented meanwhile (its mask or original may have gone first): what was
        // written for a segment that is gone belongs to no row, and never will.
        const alive = new Set((await search.segmentsByIds(missing.map((segment) => segment.id))).map((segment) => segment?.id));
        const lost = missing.filter((segment) => !alive.has(segment.id));
        if (lost.length === 0) throw error;
        await store.remove(lost.map((segment) => layout.cutoutDir(segment.id)));
        throw gone();
      }
      segments.forEach((segment, index) => (results[index] ??= made.get(segment.id)));
    }
    return results as Extraction[];
  }

  /** Makes, stores and records cut-outs; `gone` is thrown when a segment's row is gone. */
  private async make(image: Image, segments: Segment[], options: ExtractionStyle, gone: () => Error): Promise<Map<string, Extraction>> {
    const { segmentations, store, vision } = this.deps;
    const masks = await Promise.all(segments.map(async (segment) => vision.readMask(await store.read(segment.maskPath), boxOf(segment))));
    const pictures = await vision.extractMany(await store.read(image.storagePath), masks, {
      background: options.background === 'WHITE' ? 'white' : 'transparent',
      format: options.format === 'WEBP' ? 'webp' : 'png',
      refine: options.refined,
    });
    const made = new Map<string, Extraction>();
    for (const [index, segment] of segments.entries()) {
      const picture = pictures[index]!;
      const path = layout.cutoutPath(segment.id, options.background, options.format, options.refined);
      await store.write(path, picture.data);
      const extraction = await segmentations.upsertExtraction({
        segmentId: segment.id,
        ...options,
        path,
        width: picture.width,
        height: picture.height,
        bytes: picture.data.length,
      });
      if (!extraction) throw gone();
      made.set(segment.id, extraction);
    }
    return made;
  }
}

function boxOf(segment: Segment) {
  return { x: segment.x, y: segment.y, width: segment.width, height: segment.height };
}
