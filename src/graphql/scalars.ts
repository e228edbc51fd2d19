import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { UploadScalar } from './upload.js';

/** DateTime: ISO-8601 strings on the wire, Date inside. */
export const DateTime = behaviourOf(new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize: (value) => {
    if (value instanceof Date) return value.toISOString();
    throw new TypeError(`DateTime cannot represent ${String(value)}`);
  },
  parseValue: (value) => parseDate(value),
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
}));

function parseDate(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new GraphQLError(`DateTime expects an ISO-8601 string, got ${JSON.stringify(value)}`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return date;
}

/** Upload: files of a GraphQL multipart request (see src/http/multipart.ts). */
export const Upload = behaviourOf(UploadScalar);

/**
 * A scalar's behaviour without its name and description: given a GraphQLScalarType, Apollo's
 * schema builder would copy its description over the SDL's in schema/scalars.graphql, and
 * introspection would disagree with the schema files.
 */
function behaviourOf<TInternal, TExternal>(scalar: GraphQLScalarType<TInternal, TExternal>): GraphQLScalarType<TInternal, TExternal> {
  const { serialize, parseValue, parseLiteral } = scalar;
  return { serialize, parseValue, parseLiteral } as GraphQLScalarType<TInternal, TExternal>;
}
