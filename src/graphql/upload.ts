/**
 * The `Upload` scalar of the GraphQL multipart request spec. src/http/multipart.ts puts a
 * `PendingUpload` where the map says each file goes; a resolver awaits it and gets the file's name
 * and a stream of its bytes (spooled on disk, readable any number of times while the request lasts).
 */
import type { Readable } from 'node:stream';
import { GraphQLError, GraphQLScalarType } from 'graphql';

/** One file of a multipart request. */
export interface FileUpload {
  /** The name the client gave (a display name only). */
  filename: string;
  /** The MIME type the client claimed (never trusted). */
  mimetype: string;
  /** The part's transfer encoding. */
  encoding: string;
  /** A new stream of the file's bytes; throws if the file could not be received. */
  createReadStream(): Readable;
}

/** A file announced in the map, which arrives (or fails) later in the request body. */
export class PendingUpload {
  /** Settles when the file's part starts, or the request fails first. */
  readonly promise: Promise<FileUpload>;
  /** Set once the part has started. */
  file: FileUpload | undefined;
  private settle!: { resolve: (file: FileUpload) => void; reject: (error: Error) => void };

  constructor() {
    this.promise = new Promise<FileUpload>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A file nobody asked for may fail without anyone awaiting it.
    this.promise.catch(() => undefined);
  }

  resolve(file: FileUpload): void {
    this.file = file;
    this.settle.resolve(file);
  }

  reject(error: Error): void {
    this.settle.reject(error);
  }
}

const NOT_MULTIPART = 'an Upload must be sent as a file of a multipart request (see https://github.com/jaydenseric/graphql-multipart-request-spec)';

/** The scalar: only variables filled in by the multipart parser are accepted. */
export const UploadScalar = new GraphQLScalarType<Promise<FileUpload>, never>({
  name: 'Upload',
  parseValue(value) {
    if (value instanceof PendingUpload) return value.promise;
    throw new GraphQLError(NOT_MULTIPART, { extensions: { code: 'BAD_USER_INPUT' } });
  },
  parseLiteral() {
    throw new GraphQLError(NOT_MULTIPART, { extensions: { code: 'BAD_USER_INPUT' } });
  },
  serialize() {
    throw new GraphQLError('Upload is an input type only');
  },
});
