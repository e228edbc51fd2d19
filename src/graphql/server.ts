/**
 * The Apollo Server: SDL from schema/*.graphql, one resolver map per type, error mapping, access
 * checks and query limits.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { PACKAGE_ROOT } from '../config.js';
import type { Resolvers } from '../generated/graphql.js';
import type { GraphQLContext } from './context.js';
import { createErrorFormatter, serverStatusOf } from './errors.js';
import { legacyJsonStatusPlugin } from './http-status.plugin.js';
import { MAX_QUERY_TOKENS, queryLimits } from './limits.js';
import { knownOperationTypes } from './operation-types.js';
import { ImageConnection, SegmentConnection } from './resolvers/connection.resolvers.js';
import { ExportMutation } from './resolvers/export.resolvers.js';
import { Extraction } from './resolvers/extraction.resolvers.js';
import { Image } from './resolvers/image.resolvers.js';
import { Mutation } from './resolvers/mutation.resolvers.js';
import { Query } from './resolvers/query.resolvers.js';
import { QueueMutation, QueueQuery, QueueStatus } from './resolvers/queue.resolvers.js';
import { Segment } from './resolvers/segment.resolvers.js';
import { DateTime, Upload } from './scalars.js';

/** The whole schema's SDL, read from schema/*.graphql. */
export function loadTypeDefs(): string {
  const dir = path.join(PACKAGE_ROOT, 'schema');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => readFileSync(path.join(dir, file), 'utf8'))
    .join('\n');
}

/** Every resolver, by type. */
export const resolvers: Resolvers = {
  DateTime,
  Upload,
  Query: { ...Query, ...QueueQuery },
  Mutation: { ...Mutation, ...QueueMutation, ...ExportMutation },
  QueueStatus,
  Image,
  Segment,
  Extraction,
  ImageConnection,
  SegmentConnection,
};

/** Refuses operations the caller's key does not allow, before anything runs. */
const accessPlugin: ApolloServerPlugin<GraphQLContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, contextValue }) {
        const isWrite = operation?.operation === 'mutation';
        const allowed = isWrite ? contextValue.access.write : contextValue.access.read;
        if (!allowed) {
          throw new GraphQLError(
            isWrite
              ? 'mutations need an API key: send `Authorization: Bearer <SEGCAT_API_KEY>`'
              : 'reading the catalogue needs a key: send `Authorization: Bearer <SEGCAT_READ_KEY>`',
            { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } },
          );
        }
      },
    };
  },
};

/**
 * Answers 503 when the database was unreachable and 507 when the disk was full, so clients and
 * load balancers know to retry later.
 */
const serverTroublePlugin: ApolloServerPlugin<GraphQLContext> = {
  async requestDidStart() {
    return {
      async didEncounterErrors({ errors, response }) {
        const status = errors.map((error) => serverStatusOf(unwrapResolverError(error))).find((found) => found !== undefined);
        if (status !== undefined) response.http.status = status;
      },
    };
  },
};

/** What the Apollo Server is built with. */
export interface ApolloOptions {
  logger: Logger;
  /** No Sandbox, no introspection, no stack traces. */
  production: boolean;
  /** More plugins (request metrics). */
  plugins?: ApolloServerPlugin<GraphQLContext>[];
}

/** Creates (but does not start) the Apollo Server. */
export function createApolloServer(options: ApolloOptions): ApolloServer<GraphQLContext> {
  return new ApolloServer<GraphQLContext>({
    typeDefs: loadTypeDefs(),
    resolvers: resolvers as never,
    csrfPrevention: true,
    // segcat stops Apollo itself, in order with the HTTP server, queue and database.
    stopOnTerminationSignals: false,
    introspection: !options.production,
    includeStacktraceInErrorResponses: !options.production,
    validationRules: [knownOperationTypes, queryLimits()],
    parseOptions: { maxTokens: MAX_QUERY_TOKENS },
    // graphql-js's "Did you mean …?" hints would map the schema for anyone refused introspection.
    hideSchemaDetailsFromClientErrors: options.production,
    formatError: createErrorFormatter(options.logger, options.production),
    plugins: [
      accessPlugin,
      serverTroublePlugin,
      legacyJsonStatusPlugin,
      ...(options.plugins ?? []),
      options.production
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
    ],
  });
}
