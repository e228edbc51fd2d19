/**
 * Small hostile documents, sent without a key to a server that has one: each is refused with a
 * clear BAD_USER_INPUT before it can occupy the server (bench:limits shows their CPU time).
 */
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ SEGCAT_API_KEY: 'the-key', SEGCAT_EMBEDDED_WORKER: 'false' });
});

afterAll(() => server?.stop());

const doublingFragments = (count: number) =>
  `{ ...F0 } ${Array.from({ length: count }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ')} fragment F${count} on Query { __typename }`;
const aliased = (count: number, field: string) => Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ');
const extractSegments = 'extractSegments(input: { imageId: "00000000-0000-0000-0000-000000000000" }) { extractions { id } }';

async function get(query: string) {
  const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent(query)}`, { headers: { 'apollo-require-preflight': 'true' } });
  return { status: response.status, ...(await response.json()) };
}

it('refuses 40 doubling fragments sent by GET, without a key, and stays up', async () => {
  const response = await get(doublingFragments(40));
  expect(response.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  expect(response.errors[0].message).toMatch(/top-level fields; the limit is 20/);
  expect((await fetch(`${server.url}/health`)).status).toBe(200);
});

it('answers a few doubling fragments, which expand to little', async () => {
  expect((await get(doublingFragments(3))).data).toEqual({ __typename: 'Query' });
});

it.each([
  ['9000 aliases of a search', `{ ${aliased(9000, 'images(first: 1) { totalCount }')} }`, /10000 tokens/],
  ['60 aliases inside a search', `{ images(first: 1) { edges { node { ${aliased(60, 'id')} } } } }`, /60 aliases; the limit is 50/],
  ['21 searches', `{ ${aliased(21, 'images(first: 1) { totalCount }')} }`, /21 top-level fields; the limit is 20/],
  ['2000 aliased extractSegments', `mutation { ${aliased(2000, extractSegments)} }`, /10000 tokens/],
  ['11 aliased extractSegments', `mutation { ${aliased(11, extractSegments)} }`, /would cost about \d+ objects; the limit is 20000/],
])('refuses %s before the key check', async (_name, query, message) => {
  const response = await server.graphql(query);
  expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(response.errors?.[0]?.message).toMatch(message);
});

it('still asks for the key when a mutation is within the limits', async () => {
  const response = await server.graphql(`mutation { ${aliased(2, extractSegments)} }`);
  expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
});
