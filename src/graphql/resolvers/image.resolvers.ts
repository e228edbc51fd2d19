import type { ImageResolvers } from '../../generated/graphql.js';

/** Image fields that are not plain columns. */
export const Image: ImageResolvers = {
  url: (image, _, { urls }) => urls.file(image.storagePath),
  thumbnailUrl: (image, _, { urls }) => (image.thumbnailPath ? urls.file(image.thumbnailPath) : null),
  backgroundMaskUrl: (image, _, { urls }) => (image.backgroundMaskPath ? urls.file(image.backgroundMaskPath) : null),
  overlayUrl: (image, _, { urls }) =>
    image.status === 'DONE' && image.segmentedAt
      ? urls.route(`/overlays/${image.id}.jpg?v=${image.segmentedAt.getTime()}`)
      : null,
  segments: async (image, { labels, minScore }, { loaders, services }) =>
    services.catalogue.filterSegments(await loaders.segmentsOfImage.load(image.id), { labels, minScore }),
  labels: (image, _, { loaders }) => loaders.labelsOfImage.load(image.id),
};
