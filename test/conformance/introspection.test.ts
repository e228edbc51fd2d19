/**
 * Introspection as tools use it: the full query Apollo Sandbox and graphql-js send, and
 * graphql-codegen loading the schema from the live URL, each giving back exactly the SDL in
 * schema/; and production still refusing it.
 */
import { generate } from '@graphql-codegen/cli';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { PACKAGE_ROOT } from '../../src/config.js';
import { loadTypeDefs } from '../../src/graphql/server.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Everything graphql-js can ask about a schema, as Sandbox asks it. */
const INTROSPECTION = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
});

let development: TestServer;
let production: TestServer;

beforeAll(async () => {
  [development, production] = await Promise.all([
    startTestServer({ NODE_ENV: 'development' }),
    startTestServer({ NODE_ENV: 'production' }),
  ]);
});

afterAll(async () => {
  await development?.stop();
  await production?.stop();
});

/** A schema as SDL, in an order that does not depend on how it was built. */
const sdl = (schema: GraphQLSchema) => printSchema(lexicographicSortSchema(schema));

it('answers the full introspection query with exactly the schema in schema/', async () => {
  const response = await development.graphql<IntrospectionQuery>(INTROSPECTION);
  expect(response.errors).toBeUndefined();
  expect(response.status).toBe(200);
  expect(sdl(buildClientSchema(response.data!))).toBe(sdl(buildSchema(loadTypeDefs())));
});

/** graphql-codegen's `typescript` plugin output for one schema source: a URL or a glob under the package. */
async function typesFrom(schema: string): Promise<string> {
  const [output] = await generate(
    {
      cwd: PACKAGE_ROOT,
      schema,
      silent: true,
      // codegen's own loader require()s the plugin's CommonJS build, which Jest cannot link to its ESM dependencies.
      pluginLoader: (name: string) => import(name),
      generates: { 'types.ts': { plugins: ['typescript'] } },
    },
    false,
  );
  return output!.content;
}

/** The plugin documents a scalar only when its schema came from SDL (it reads the AST node), never from a URL. */
const withoutScalarDocs = (types: string) =>
  types.replace(/^export type Scalars = \{[^]*?^\};$/m, (block) => block.replace(/^ *\/\*\*[^]*?\*\/\n/gm, ''));

it('lets graphql-codegen generate from the live URL what it generates from schema/', async () => {
  const [live, local] = await Promise.all([typesFrom(`${development.url}/graphql`), typesFrom('schema/*.graphql')]);
  expect(local).toMatch(/^export type Image = \{$/m);
  expect(withoutScalarDocs(live)).toBe(withoutScalarDocs(local));
});

it('refuses introspection in production', async () => {
  const full = await production.graphql(INTROSPECTION);
  expect(full.data).toBeUndefined();
  expect(full.errors?.map((error) => error.message)).toContainEqual(expect.stringMatching(/introspection is not allowed/i));
  const small = await production.graphql('{ __type(name: "Image") { fields { name } } }');
  expect(small.data).toBeUndefined();
  expect(small.errors?.[0]?.message).toMatch(/introspection is not allowed/i);
});
