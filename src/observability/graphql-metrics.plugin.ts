/**
 * An Apollo Server plugin that times each GraphQL request, from Apollo receiving it to its answer
 * (a `wait: true` upload's wait included), into `segcat_graphql_request_duration_seconds`.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLContext } from '../graphql/context.js';
import type { Metrics } from './metrics.js';

/** Times every GraphQL request into `metrics`. */
export function graphqlMetricsPlugin(metrics: Pick<Metrics, 'graphqlRequest'>): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ operation, operationName, contextValue }) {
          const type = operation?.operation;
          const allowed = type === 'mutation' ? contextValue.access.write : contextValue.access.read;
          metrics.graphqlRequest({ type, name: operationName, allowed }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}
