import type { MutationResolvers, QueryResolvers, QueueStatusResolvers, SegmentationQuality } from '../../generated/graphql.js';
import type { Quality } from '../../vision/types.js';

/** SegmentationQuality's values as SEGCAT_QUALITY spells them. */
const QUALITY: Record<SegmentationQuality, Quality> = { FAST: 'fast', ACCURATE: 'accurate' };

/** `queue`: counts now, batches when selected. */
export const QueueQuery: Pick<QueryResolvers, 'queue'> = {
  queue: (_, __, { services }) => services.queue.counts(),
};

/** Batches of the queue status. */
export const QueueStatus: QueueStatusResolvers = {
  batches: (_, { active, first }, { services }) => services.queue.batches({ active, first }),
};

/** `resegmentImages`. */
export const QueueMutation: Pick<MutationResolvers, 'resegmentImages'> = {
  resegmentImages: (_, { input }, { services }) =>
    services.queue.resegment({ ...input, quality: input.quality ? QUALITY[input.quality] : undefined }),
};
