/**
 * HTTP status codes as the GraphQL-over-HTTP spec gives them for the legacy `application/json`
 * response type: a well-formed request whose document does not parse or validate, names no
 * operation it holds, or whose variables do not coerce, is answered 200 with `errors`, where
 * Apollo Server answers 400. A client that prefers `application/graphql-response+json` keeps the
 * 400 the spec asks for there, and every other status (401, 405, 413, 503, a refused CSRF check)
 * is left alone.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { Kind, type GraphQLError } from 'graphql';

/** The single-result media types a client can ask for. */
type ResponseMediaType = 'application/json' | 'application/graphql-response+json';

/** Apollo's codes for errors in the GraphQL request itself, as opposed to the HTTP request. */
const REQUEST_ERROR_CODES = new Set<string>([
  ApolloServerErrorCode.GRAPHQL_PARSE_FAILED,
  ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
  ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
]);

/** Parse, validation, operation-resolution and variable-coercion errors, and nothing else. */
function isRequestError(error: GraphQLError): boolean {
  const code = String(error.extensions.code);
  if (REQUEST_ERROR_CODES.has(code)) return true;
  // Apollo codes a variable that does not coerce BAD_USER_INPUT, as resolvers may code their own
  // errors; only the former points at the operation's variable definition.
  return code === ApolloServerErrorCode.BAD_USER_INPUT && error.nodes?.[0]?.kind === Kind.VARIABLE_DEFINITION;
}

/** Answers request errors 200 when the response will be `application/json`. */
export const legacyJsonStatusPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ request, response, errors }) {
        if (!request.http || response.http.status !== 400 || !errors?.length || !errors.every(isRequestError)) return;
        if (negotiateResponseType(request.http.headers.get('accept')) !== 'application/json') return;
        response.http.status = 200;
        // Stated here so that Apollo's own negotiation cannot pair this status with the other type.
        response.http.headers.set('content-type', 'application/json; charset=utf-8');
      },
    };
  },
};

/** How well one media type is accepted: the best-matching range's quality, specificity and position. */
interface Acceptance {
  q: number;
  specificity: number;
  position: number;
}

/**
 * The media type a response gets for this Accept header, ranked as Apollo Server (the `negotiator`
 * package) ranks them: quality, then how specific the matching range is, then the range's
 * position; `application/json` on a tie and when there is no header. Undefined when neither is
 * acceptable.
 */
function negotiateResponseType(accept: string | undefined): ResponseMediaType | undefined {
  if (!accept?.trim()) return 'application/json';
  const json = acceptance(accept, 'application/json');
  const graphql = acceptance(accept, 'application/graphql-response+json');
  if (!graphql) return json && 'application/json';
  if (!json) return 'application/graphql-response+json';
  const order = graphql.q - json.q || graphql.specificity - json.specificity || json.position - graphql.position;
  return order > 0 ? 'application/graphql-response+json' : 'application/json';
}

/** The Accept range that matches `mediaType` most specifically; undefined when none does, or with q=0. */
function acceptance(accept: string, mediaType: ResponseMediaType): Acceptance | undefined {
  const [type] = mediaType.split('/');
  let best: Acceptance | undefined;
  accept.split(',').forEach((range, position) => {
    const [essence = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    const specificity = essence === mediaType ? 2 : essence === `${type}/*` ? 1 : essence === '*/*' ? 0 : -1;
    if (specificity < 0) return;
    const quality = parameters.find((parameter) => parameter.startsWith('q='));
    const q = quality === undefined ? 1 : Number(quality.slice(2));
    if (!best || specificity > best.specificity || (specificity === best.specificity && q > best.q)) {
      best = { q, specificity, position };
    }
  });
  return best && best.q > 0 ? best : undefined;
}
