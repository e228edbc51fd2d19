/**
 * A validation rule refusing operation types the schema has no root type for. graphql-js 16 only
 * notices a `subscription` when executing it, as an error without a code that would be masked as
 * INTERNAL_SERVER_ERROR; it is the client's mistake, so it gets BAD_USER_INPUT up front.
 */
import { GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';

/** Validation rule: every operation's type (query, mutation, subscription) exists in the schema. */
export function knownOperationTypes(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition(operation) {
      if (context.getSchema().getRootType(operation.operation)) return;
      context.reportError(
        new GraphQLError(`this API has no ${operation.operation} operations; send a query or a mutation`, {
          nodes: [operation],
          extensions: { code: 'BAD_USER_INPUT' },
        }),
      );
    },
  };
}
