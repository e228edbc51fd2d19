/**
 * The one place where errors become GraphQL error codes. The set is closed (README, "Using the API"):
 * BAD_USER_INPUT, NOT_FOUND, PAYLOAD_TOO_LARGE, UNAUTHENTICATED, INSUFFICIENT_STORAGE,
 * INTERNAL_SERVER_ERROR. Anything not known to be the client's fault or a full disk is logged
 * and masked.
 */
import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../db/database.js';
import { MAX_JSON_BODY } from './limits.js';
import {
  InsufficientStorageError,
  InvalidInputError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthenticatedError,
} from '../services/errors.js';
import { isDiskFull } from '../storage/atomic-write.js';

/** The error codes clients can see. */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHENTICATED'
  | 'INSUFFICIENT_STORAGE'
  | 'INTERNAL_SERVER_ERROR';

/** Apollo's own codes for requests that are malformed: all the client's fault. */
const CLIENT_ERROR_CODES = new Set<string>([
  ApolloServerErrorCode.GRAPHQL_PARSE_FAILED,
  ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
  ApolloServerErrorCode.BAD_USER_INPUT,
  ApolloServerErrorCode.BAD_REQUEST,
  ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_FOUND,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
]);

/** What a client is told about an error, over HTTP. */
export interface DescribedError {
  status: number;
  code: ErrorCode;
  message: string;
}

/** A request refused by the HTTP layer before GraphQL ran (multipart parsing, upload budget, missing key). */
export class RequestRefusedError extends Error {
  override name = 'RequestRefusedError';
  /** Errors with `expose` may be shown to the client as they are. */
  readonly expose = true;
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Said when PostgreSQL cannot be reached: the request may well work a little later. */
export const DATABASE_UNAVAILABLE_MESSAGE = 'the database is unavailable; try again shortly';

/**
 * Errors raised by the HTTP plumbing rather than by segcat's services: the JSON body parser, the
 * multipart parser (directly, or through an upload's promise inside a resolver), the database
 * going away, and a full disk (the multipart spool writes outside the file store). Undefined for
 * anything else.
 */
export function describeRequestError(error: unknown): DescribedError | undefined {
  if (isDatabaseUnavailable(error)) return { status: 503, code: 'INTERNAL_SERVER_ERROR', message: DATABASE_UNAVAILABLE_MESSAGE };
  if (error instanceof InsufficientStorageError || isDiskFull(error)) {
    return { status: 507, code: 'INSUFFICIENT_STORAGE', message: new InsufficientStorageError().message };
  }
  if (error instanceof RequestRefusedError) return { status: error.status, code: error.code, message: error.message };
  const { status, type, message } = (error ?? {}) as { status?: unknown; type?: unknown; message?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  const text = String(message ?? 'bad request');
  if (type === 'entity.too.large') {
    return {
      status,
      code: 'PAYLOAD_TOO_LARGE',
      message: `the request body is larger than the limit of ${MAX_JSON_BODY} for JSON; send files as multipart uploads`,
    };
  }
  if (status === 413) return { status, code: 'PAYLOAD_TOO_LARGE', message: text };
  if (status === 499) return { status, code: 'BAD_USER_INPUT', message: 'the client disconnected before the request was complete' };
  return { status, code: 'BAD_USER_INPUT', message: text };
}

/** The code for a domain error, or undefined when the error is not one. */
export function codeOf(error: unknown): ErrorCode | undefined {
  if (error instanceof InvalidInputError) return 'BAD_USER_INPUT';
  if (error instanceof NotFoundError) return 'NOT_FOUND';
  if (error instanceof PayloadTooLargeError) return 'PAYLOAD_TOO_LARGE';
  if (error instanceof UnauthenticatedError) return 'UNAUTHENTICATED';
  if (error instanceof InsufficientStorageError) return 'INSUFFICIENT_STORAGE';
  return undefined;
}

/**
 * The HTTP status of a GraphQL response that carries this error, when it is not the usual one:
 * 503 while the database is away, 507 when the disk is full. Both say "try again later" to
 * clients and proxies.
 */
export function serverStatusOf(error: unknown): number | undefined {
  const status = describeRequestError(error)?.status;
  return status !== undefined && status >= 500 ? status : undefined;
}

/** Apollo `formatError`: maps codes, masks the unknown, and strips stack traces in production. */
export function createErrorFormatter(logger: Logger, production: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const request = codeOf(original) ? undefined : describeRequestError(original);
    if (request) {
      if (request.status >= 500) logger.error({ err: original, path: formatted.path }, 'GraphQL operation failed');
      return { message: request.message, path: formatted.path, locations: formatted.locations, extensions: { code: request.code } };
    }
    const domainCode = codeOf(original);
    // The operator has to act on this one, even though the client is told what happened.
    if (domainCode === 'INSUFFICIENT_STORAGE') logger.error({ err: original, path: formatted.path }, 'the disk is full');
    const apolloCode = formatted.extensions?.code;
    const code: ErrorCode | undefined =
      domainCode ??
      (apolloCode === 'UNAUTHENTICATED' ? 'UNAUTHENTICATED' : undefined) ??
      (typeof apolloCode === 'string' && CLIENT_ERROR_CODES.has(apolloCode) ? 'BAD_USER_INPUT' : undefined);
    if (!code) {
      logger.error({ err: original, path: formatted.path }, 'unexpected error in GraphQL operation');
      return {
        message: 'Internal server error',
        path: formatted.path,
        locations: formatted.locations,
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      };
    }
    const extensions: Record<string, unknown> = { ...formatted.extensions, code };
    if (production) delete extensions.stacktrace;
    return { ...formatted, extensions };
  };
}
