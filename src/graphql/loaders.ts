/**
 * DataLoaders, made fresh for each request, so that a page of images with their segments and
 * cut-outs costs one query per level instead of one per row.
 */
import DataLoader from 'dataloader';
import type { Extraction, Image, Segment } from '../generated/prisma/client.js';
import type { SearchRepository } from '../db/search.repository.js';

/** Score above which a class counts among an image's `labels`. */
export const IMAGE_LABEL_MIN_SCORE = 0.5;

/** The per-request loaders. */
export interface Loaders {
  image: DataLoader<string, Image | null>;
  segment: DataLoader<string, Segment | null>;
  segmentsOfImage: DataLoader<string, Segment[]>;
  labelsOfImage: DataLoader<string, string[]>;
  extractionsOfSegment: DataLoader<string, Extraction[]>;
}

/** New loaders over the search repository. */
export function createLoaders(search: SearchRepository): Loaders {
  return {
    image: new DataLoader((ids) => search.imagesByIds(ids)),
    segment: new DataLoader((ids) => search.segmentsByIds(ids)),
    segmentsOfImage: new DataLoader((ids) => search.segmentsOfImages(ids)),
    labelsOfImage: new DataLoader((ids) => search.labelsOfImages(ids, IMAGE_LABEL_MIN_SCORE)),
    extractionsOfSegment: new DataLoader((ids) => search.extractionsOfSegments(ids)),
  };
}
