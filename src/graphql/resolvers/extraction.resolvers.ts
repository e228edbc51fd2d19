import type { ExtractionResolvers } from '../../generated/graphql.js';
import { NotFoundError } from '../../services/errors.js';

/** Extraction fields that are not plain columns. */
export const Extraction: ExtractionResolvers = {
  segment: async (extraction, _, { loaders }) => {
    const segment = await loaders.segment.load(extraction.segmentId);
    if (!segment) throw new NotFoundError('segment', extraction.segmentId);
    return segment;
  },
  url: (extraction, _, { urls }) => urls.file(extraction.path),
};
