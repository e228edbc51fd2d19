import type { BoundingBox, SegmentResolvers } from '../../generated/graphql.js';
import { NotFoundError } from '../../services/errors.js';

/** Segment fields that are not plain columns. */
export const Segment: SegmentResolvers = {
  image: async (segment, _, { loaders }) => {
    const image = await loaders.image.load(segment.imageId);
    if (!image) throw new NotFoundError('image', segment.imageId);
    return image;
  },
  bbox: (segment): BoundingBox => ({ x: segment.x, y: segment.y, width: segment.width, height: segment.height }),
  maskUrl: (segment, _, { urls }) => urls.file(segment.maskPath),
  extractions: (segment, _, { loaders }) => loaders.extractionsOfSegment.load(segment.id),
};
