import type { FileUpload } from '../upload.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { checkId, DEFAULT_MIN_SCORE } from '../../services/catalogue.service.js';
import { InvalidInputError } from '../../services/errors.js';
import type { IncomingFile } from '../../services/ingest.service.js';

/** Mutations: each takes one `input` and returns a payload. Access is checked before they run. */
export const Mutation: MutationResolvers = {
  uploadImage: async (_, { input }, { services, signal }) =>
    services.ingest.ingest(await incoming(input.file), { wait: input.wait ?? true, signal }),

  uploadImages: async (_, { input }, { services, signal }) => {
    const files = await Promise.all(input.files.map(incoming));
    return { results: await services.ingest.ingestMany(files, { wait: input.wait ?? true, signal }) };
  },

  extractSegment: async (_, { input }, { services }) => ({
    extraction: await services.extraction.extractSegment(checkId(input.segmentId), {
      background: input.background ?? 'TRANSPARENT',
      format: input.format ?? 'PNG',
      refined: input.refine ?? false,
    }),
  }),

  extractSegments: async (_, { input }, { services }) => ({
    extractions: await services.extraction.extractSegments(
      checkId(input.imageId),
      { labels: input.labels, minScore: input.minScore ?? DEFAULT_MIN_SCORE },
      { background: input.background ?? 'TRANSPARENT', format: input.format ?? 'PNG', refined: input.refine ?? false },
    ),
  }),

  deleteImage: async (_, { input }, { services }) => ({ id: await services.ingest.deleteImage(checkId(input.id)) }),
};

async function incoming(file: Promise<FileUpload>): Promise<IncomingFile> {
  const upload = await file.catch((error: unknown) => {
    // The multipart parser's own errors carry an HTTP status (mapped in errors.ts); busboy's do
    // not, and they all mean the same: the client's body was malformed.
    if (typeof (error as { status?: unknown }).status === 'number') throw error;
    throw new InvalidInputError(`the multipart request could not be read (${(error as Error).message}); check the file names and send it again`);
  });
  return { filename: upload.filename, stream: upload.createReadStream() };
}
