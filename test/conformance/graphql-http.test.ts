/**
 * GraphQL over HTTP conformance: graphql-http's server audit (the spec's own test list) against a
 * running segcat, with the audit's plain fetch: JSON POSTs pass Apollo's CSRF prevention as any
 * conforming client's do, so nothing is added to its requests.
 */
import { auditServer, type AuditResult } from 'graphql-http';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Audits segcat does not pass, and why. Each is checked to fail for that reason; any other audit
 * that is not ok fails the run.
 */
const ACCEPTED: Record<string, string> = {
  '5A70': 'GET without Content-Type is refused by CSRF prevention (any page can make a browser send it)',
  D6D5: 'GET without Content-Type is refused by CSRF prevention (any page can make a browser send it)',
  '6A70': 'GET without Content-Type is refused by CSRF prevention (any page can make a browser send it)',
};

let server: TestServer;
let results: AuditResult[];

beforeAll(async () => {
  server = await startTestServer();
  results = await auditServer({ url: `${server.url}/graphql` });
  const count = (status: AuditResult['status']) => results.filter((result) => result.status === status).length;
  const notOk = results.filter((result) => result.status !== 'ok').map((result) => `${result.id} (${result.status})`);
  console.log(
    `graphql-http audit: ${results.length} audits, ok ${count('ok')}, notice ${count('notice')}, warn ${count('warn')}, ` +
      `error ${count('error')}; not ok: ${notOk.join(', ') || 'none'}`,
  );
});

afterAll(() => server?.stop());

/** The audit's failures as readable lines. */
const explain = (failures: AuditResult[]) => failures.map((result) => `${result.id} ${result.name}: ${'reason' in result ? result.reason : ''}`);

it('ran the whole audit', () => {
  expect(results.length).toBeGreaterThan(50);
});

it('meets every MUST of the GraphQL-over-HTTP spec', () => {
  expect(explain(results.filter((result) => result.status === 'error'))).toEqual([]);
});

it('meets every SHOULD and MAY except the accepted ones', () => {
  expect(explain(results.filter((result) => result.status !== 'ok' && !(result.id in ACCEPTED)))).toEqual([]);
});

it.each(Object.entries(ACCEPTED))('fails %s only for the accepted reason: %s', async (id) => {
  const result = results.find((candidate) => candidate.id === id);
  if (result?.status === 'ok' || !result) throw new Error(`${id} is ${result ? 'ok' : 'gone'} now: take it out of ACCEPTED`);
  expect(result.response.status).toBe(400);
  expect(await result.response.text()).toMatch(/Cross-Site Request Forgery.*apollo-require-preflight/s);
});

it.each([
  ['572B', 'document parsing failure'],
  ['FDE2', 'document validation failure'],
  ['7B9B', 'variable coercion failure'],
])('answers %s (%s) with 200 under application/json', (id) => {
  expect(results.find((result) => result.id === id)).toMatchObject({ status: 'ok' });
});

describe('status codes of request errors by Accept header', () => {
  const invalid = async (accept?: string) => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) },
      body: JSON.stringify({ query: '{ images { edges { node { nope } } } }' }),
    });
    const body = await response.json();
    return { status: response.status, type: response.headers.get('content-type'), code: body.errors?.[0]?.extensions?.code };
  };

  it.each([
    ['no Accept', undefined],
    ['*/*', '*/*'],
    ['application/json first', 'application/json, application/graphql-response+json'],
    ['application/json weighted higher', 'application/graphql-response+json;q=0.5, application/json'],
  ])('answers 200 and application/json with %s', async (_what, accept) => {
    expect(await invalid(accept)).toEqual({ status: 200, type: 'application/json; charset=utf-8', code: 'BAD_USER_INPUT' });
  });

  it.each([
    ['Apollo Client 4 sends', 'application/graphql-response+json,application/json;q=0.9'],
    ['listed first at equal weight', 'application/graphql-response+json, application/json'],
    ['alone', 'application/graphql-response+json'],
  ])('answers 400 and application/graphql-response+json when preferred: %s', async (_what, accept) => {
    expect(await invalid(accept)).toEqual({ status: 400, type: 'application/graphql-response+json; charset=utf-8', code: 'BAD_USER_INPUT' });
  });

  it('still answers 400 to a request that is not GraphQL over HTTP at all', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ qeury: '{ __typename }' }),
    });
    expect(response.status).toBe(400);
  });
});
