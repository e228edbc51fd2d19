/**
 * DataLoaders, made fresh for each request, so that a page of images with their segments and
 * cut-outs costs one query per level instead of one per row.
 */
import DataLoader from 'dataloader';
import type { Extraction, Image, Segment } from '../models.js';
import type { CatalogueService } from '../services/catalogue.service.js';

/** The per-request loaders. */
export interface Loaders {
  image: DataLoader<string, Image | null>;
  segment: DataLoader<string, Segment | null>;
  segmentsOfImage: DataLoader<string, Segment[]>;
  labelsOfImage: DataLoader<string, string[]>;
  extractionsOfSegment: DataLoader<string, Extraction[]>;
}

/** New loaders over the catalogue's batch reads. */
export function createLoaders(catalogue: CatalogueService): Loaders {
  return {
    image: new DataLoader((ids) => catalogue.imagesByIds(ids)),
    segment: new DataLoader((ids) => catalogue.segmentsByIds(ids)),
    segmentsOfImage: new DataLoader((ids) => catalogue.segmentsOfImages(ids)),
    labelsOfImage: new DataLoader((ids) => catalogue.labelsOfImages(ids)),
    extractionsOfSegment: new DataLoader((ids) => catalogue.extractionsOfSegments(ids)),
  };
}
