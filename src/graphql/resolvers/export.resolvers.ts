import type { MutationResolvers } from '../../generated/graphql.js';

/** `exportCoco`: the file is written before the answer, and served under /files/. */
export const ExportMutation: Pick<MutationResolvers, 'exportCoco'> = {
  exportCoco: async (_, { input }, { services, urls, signal }) => {
    const exported = await services.cocoExport.exportToStore(input.filter ?? {}, { signal });
    return { ...exported, url: await urls.file(exported.path) };
  },
};
