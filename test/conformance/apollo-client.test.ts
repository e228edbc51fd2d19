/**
 * A browser-style client against a running segcat: Apollo Client 4 with apollo-upload-client's
 * UploadHttpLink, as a web app would use them. Upload, duplicate upload, search, cut-outs and errors
 * go through the client's own request building and response parsing.
 */
import { ApolloClient, CombinedGraphQLErrors, InMemoryCache, gql } from '@apollo/client';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import sharp from 'sharp';
import { photo, startTestServer, type TestServer } from '../support/server.js';

const UPLOAD = gql`
  mutation Upload($file: Upload!) {
    uploadImage(input: { file: $file }) { duplicate image { id status labels } }
  }
`;
const SEARCH = gql`
  query Search($labels: [String!]) {
    images(filter: { labels: $labels }) { totalCount edges { node { id filename } } }
  }
`;
const CUT_OUT = gql`
  mutation CutOut($imageId: ID!) {
    extractSegments(input: { imageId: $imageId, labels: ["dog"] }) { extractions { id url width height } }
  }
`;
const IMAGE = gql`
  query Image($id: ID!) { image(id: $id) { id } }
`;

let server: TestServer;
let client: ApolloClient;

beforeAll(async () => {
  server = await startTestServer();
  client = new ApolloClient({
    cache: new InMemoryCache(),
    // Multipart requests are "simple" to a browser: Apollo's CSRF prevention asks for this header.
    link: new UploadHttpLink({ uri: `${server.url}/graphql`, headers: { 'Apollo-Require-Preflight': 'true' } }),
  });
});

afterAll(async () => {
  client?.stop();
  await server?.stop();
});

/** dog.jpg as a browser's file input hands it over. */
async function dogFile(): Promise<File> {
  return new File([await photo('dog.jpg')], 'dog.jpg', { type: 'image/jpeg' });
}

let imageId: string;

it('uploads a photo and gets it back segmented', async () => {
  const { data } = await client.mutate({ mutation: UPLOAD, variables: { file: await dogFile() } });
  expect(data.uploadImage.duplicate).toBe(false);
  expect(data.uploadImage.image.status).toBe('DONE');
  expect(data.uploadImage.image.labels).toContain('dog');
  imageId = data.uploadImage.image.id;
});

it('says the same photo uploaded again is a duplicate of the first', async () => {
  const { data } = await client.mutate({ mutation: UPLOAD, variables: { file: await dogFile() } });
  expect(data.uploadImage).toMatchObject({ duplicate: true, image: { id: imageId } });
});

it('finds the photo by what is in it, and not by what is not', async () => {
  const dogs = await client.query({ query: SEARCH, variables: { labels: ['dog'] }, fetchPolicy: 'network-only' });
  expect(dogs.data?.images.totalCount).toBe(1);
  expect(dogs.data?.images.edges[0].node).toMatchObject({ id: imageId, filename: 'dog.jpg' });
  const giraffes = await client.query({ query: SEARCH, variables: { labels: ['giraffe'] }, fetchPolicy: 'network-only' });
  expect(giraffes.data?.images.totalCount).toBe(0);
});

it('cuts the dog out as a transparent PNG the client can fetch', async () => {
  const { data } = await client.mutate({ mutation: CUT_OUT, variables: { imageId } });
  expect(data.extractSegments.extractions.length).toBeGreaterThan(0);
  for (const extraction of data.extractSegments.extractions) {
    const response = await fetch(extraction.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    const png = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect(png).toMatchObject({ format: 'png', width: extraction.width, height: extraction.height, hasAlpha: true });
  }
});

it('hands the client a bad id as a GraphQL error with BAD_USER_INPUT', async () => {
  const error = await client.query({ query: IMAGE, variables: { id: 'not-a-uuid' } }).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(CombinedGraphQLErrors.is(error)).toBe(true);
  expect((error as CombinedGraphQLErrors).errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

it('hands the client a query the server does not validate as a GraphQL error, not a transport failure', async () => {
  const error = await client.query({ query: gql`{ images { nope } }` }).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(CombinedGraphQLErrors.is(error)).toBe(true);
  expect((error as CombinedGraphQLErrors).errors[0]?.message).toMatch(/Cannot query field "nope"/);
});
