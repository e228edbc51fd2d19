/**
 * The query-limits validation rule on its own, against segcat's real schema: introspection is
 * free, data fields are bounded, and the walk is linear however fragments are spread.
 */
import { buildSchema, getIntrospectionQuery, parse, validate, specifiedRules, type GraphQLError } from 'graphql';
import { loadTypeDefs } from '../../src/graphql/server.js';
import { MAX_ALIASES, MAX_QUERY_COST, MAX_ROOT_FIELDS, queryLimits } from '../../src/graphql/limits.js';

const schema = buildSchema(loadTypeDefs());

function check(query: string): readonly GraphQLError[] {
  return validate(schema, parse(query), [...specifiedRules, queryLimits()]);
}

/** `{ ...F0 } fragment F0 on Query { ...F1 ...F1 } … fragment F<n> on Query { __typename }` */
function doublingFragments(count: number, leaf = '__typename'): string {
  const fragments = Array.from({ length: count }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  return `{ ...F0 } ${fragments.join(' ')} fragment F${count} on Query { ${leaf} }`;
}

it('accepts the standard introspection query that Apollo Sandbox, GraphiQL and codegen send', () => {
  expect(check(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }))).toEqual([]);
});

it('still bounds data fields next to introspection', () => {
  const deep = `{ __schema { queryType { name } } images { edges { node { segments { image { segments { image { segments { image { segments { image { id } } } } } } } } } } } }`;
  expect(check(deep).map((error) => error.message)).toContain('the query is nested 12 levels deep; the limit is 10');
});

it('measures each fragment once: 40 doubling fragments are refused at once, by what they expand to', () => {
  expect(check(doublingFragments(40)).map((error) => error.message)).toEqual([
    `the operation asks for ${2 ** 40} top-level fields; the limit is ${MAX_ROOT_FIELDS}: send several requests`,
  ]);
  expect(check(doublingFragments(4))).toEqual([]);
});

it('multiplies a doubled data field through fragments, and refuses it', () => {
  const errors = check(doublingFragments(40, 'labels { label }'));
  expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(/top-level fields; the limit is 20/), expect.stringMatching(/would cost about \d+ objects/)]);
});

it('refuses more aliases than the limit', () => {
  const aliases = Array.from({ length: MAX_ALIASES + 1 }, (_, i) => `a${i}: __typename`).join(' ');
  expect(check(`{ ${aliases} }`).map((error) => error.message)).toContain(`the document uses ${MAX_ALIASES + 1} aliases; the limit is ${MAX_ALIASES}`);
});

it('refuses more top-level fields than the limit, even without aliases', () => {
  const fields = Array.from({ length: MAX_ROOT_FIELDS + 1 }, () => 'images(first: 1) { totalCount }').join(' ');
  expect(check(`{ ${fields} }`).map((error) => error.message)).toEqual([
    `the operation asks for ${MAX_ROOT_FIELDS + 1} top-level fields; the limit is ${MAX_ROOT_FIELDS}: send several requests`,
  ]);
});

it('charges mutations that do work far more than reads', () => {
  const extract = (i: number) => `x${i}: extractSegments(input: { imageId: "00000000-0000-0000-0000-000000000000" }) { extractions { id } }`;
  const few = Array.from({ length: 5 }, (_, i) => extract(i)).join(' ');
  const many = Array.from({ length: 11 }, (_, i) => extract(i)).join(' ');
  expect(check(`mutation { ${few} }`)).toEqual([]);
  expect(check(`mutation { ${many} }`).map((error) => error.message)).toEqual([
    expect.stringMatching(new RegExp(`would cost about \\d+ objects; the limit is ${MAX_QUERY_COST}`)),
  ]);
  const reads = Array.from({ length: 11 }, (_, i) => `r${i}: image(id: "00000000-0000-0000-0000-000000000000") { id }`).join(' ');
  expect(check(`{ ${reads} }`)).toEqual([]);
});
