import type { MutationResolvers, QueryResolvers, QueueStatusResolvers } from '../../generated/graphql.js';

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
  resegmentImages: (_, { input }, { services }) => services.queue.resegment(input),
};
