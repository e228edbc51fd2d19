/**
 * The one place where errors become GraphQL error codes. The set is closed (DESIGN.md):
 * BAD_USER_INPUT, NOT_FOUND, PAYLOAD_TOO_LARGE, UNAUTHENTICATED, INTERNAL_SERVER_ERROR.
 * Anything not known to be the client's fault is logged and masked.
 */
import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { InvalidInputError, NotFoundError, PayloadTooLargeError, UnauthenticatedError } from '../services/errors.js';

/** The error codes clients can see. */
export type ErrorCode = 'BAD_USER_INPUT' | 'NOT_FOUND' | 'PAYLOAD_TOO_LARGE' | 'UNAUTHENTICATED' | 'INTERNAL_SERVER_ERROR';

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

/** The code for a domain error, or undefined when the error is not one. */
export function codeOf(error: unknown): ErrorCode | undefined {
  if (error instanceof InvalidInputError) return 'BAD_USER_INPUT';
  if (error instanceof NotFoundError) return 'NOT_FOUND';
  if (error instanceof PayloadTooLargeError) return 'PAYLOAD_TOO_LARGE';
  if (error instanceof UnauthenticatedError) return 'UNAUTHENTICATED';
  return undefined;
}

/** Apollo `formatError`: maps codes, masks the unknown, and strips stack traces in production. */
export function createErrorFormatter(logger: Logger, production: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const domainCode = codeOf(original);
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
