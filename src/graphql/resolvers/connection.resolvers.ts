import type { ImageConnectionResolvers, SegmentConnectionResolvers } from '../../generated/graphql.js';

/** `totalCount` costs a count query, so it runs only when a client selects it. */
export const ImageConnection: ImageConnectionResolvers = {
  totalCount: (page) => page.totalCount(),
};

/** Same as ImageConnection. */
export const SegmentConnection: SegmentConnectionResolvers = {
  totalCount: (page) => page.totalCount(),
};
