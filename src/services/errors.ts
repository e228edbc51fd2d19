/**
 * Domain errors. Services throw these; src/graphql/errors.ts is the one place that maps them to
 * GraphQL error codes. Anything else that escapes is an internal error and is masked.
 */

/** The request was wrong: bad arguments, not an image, corrupt, too many pixels. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}

/** A thing the request names does not exist. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
  constructor(what: string, id: string) {
    super(`${what} ${JSON.stringify(id)} does not exist`);
  }
}

/** A body or file exceeds a configured size limit. */
export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
}

/** The request lacks a valid key for what it asks. */
export class UnauthenticatedError extends Error {
  override name = 'UnauthenticatedError';
}

/**
 * The server's disk is full (ENOSPC, or the quota ran out): nothing was stored, and the same
 * request can succeed once space is freed. Never the client's fault; never names a path.
 */
export class InsufficientStorageError extends Error {
  override name = 'InsufficientStorageError';
  constructor(options?: ErrorOptions) {
    super("the server's disk is full; try again later", options);
  }
}
