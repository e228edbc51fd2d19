import type { QueryResolvers } from '../../generated/graphql.js';
import { checkId } from '../../services/catalogue.service.js';

/** Root queries: each one a call into the catalogue. */
export const Query: QueryResolvers = {
  image: (_, { id }, { loaders }) => loaders.image.load(checkId(id)),
  images: (_, { filter, first, after }, { services }) =>
    services.catalogue.findImages({ ...filter, first, after }),
  segments: (_, { filter, first, after }, { services }) =>
    services.catalogue.findSegments({ ...filter, first, after }),
  labels: (_, { minScore }, { services }) => services.catalogue.labels(minScore),
  categories: (_, { minScore }, { services }) => services.catalogue.categories(minScore),
  labelTerms: (_, { terms }, { services }) => services.catalogue.labelTerms(terms),
};
