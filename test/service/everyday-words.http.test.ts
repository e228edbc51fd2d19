/**
 * Searching with everyday words over HTTP, against the real model and database: categories
 * ("animal"), plurals and synonyms ("birds", "people", "puppy"), ALL and ANY over mixed terms,
 * suggestions for unknown words, facets by category, and the default minScore.
 *
 * What the model finds in the fixture photos (score ≥ 0.3): dog.jpg a dog, a bicycle and a truck;
 * eagle.jpg a bird; giraffe.jpg a giraffe and a zebra; horses.jpg five horses; kite.jpg people and
 * kites; person.jpg a person, a dog and a horse; scream.jpg a vase.
 */
import { startTestServer, uploadPhotos, type TestServer } from '../support/server.js';

const PHOTOS = ['dog.jpg', 'eagle.jpg', 'giraffe.jpg', 'horses.jpg', 'kite.jpg', 'person.jpg', 'scream.jpg'];
const ANIMAL_PHOTOS = ['dog.jpg', 'eagle.jpg', 'giraffe.jpg', 'horses.jpg', 'person.jpg'];

const SEARCH = `query($labels: [String!], $match: LabelMatch) {
  images(filter: { labels: $labels, match: $match }) { totalCount edges { node { filename } } }
}`;

let server: TestServer;
let ids: Map<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  ids = await uploadPhotos(server, PHOTOS);
});

afterAll(async () => {
  await server?.stop();
});

/** The file names a search returns, in result order. */
async function search(labels: string[], match: 'ALL' | 'ANY' = 'ALL'): Promise<string[]> {
  const response = await server.graphql(SEARCH, { labels, match });
  expect(response.errors).toBeUndefined();
  expect(response.data.images.totalCount).toBe(response.data.images.edges.length);
  return response.data.images.edges.map((edge: { node: { filename: string } }) => edge.node.filename);
}

const sorted = (names: string[]) => [...names].sort();

describe('categories', () => {
  it('"animal" finds every photo with an animal class and no other, best animal first', async () => {
    const found = await search(['animal']);
    expect(sorted(found)).toEqual(ANIMAL_PHOTOS);
    // dog.jpg's best animal (its dog, 0.83) is the weakest of the five: a category scores by its best class.
    expect(found.at(-1)).toBe('dog.jpg');
    expect(sorted(await search(['Animals ']))).toEqual(ANIMAL_PHOTOS);
    expect(await search(['vehicle'])).toEqual(['dog.jpg']);
  });

  it('keeps ALL and ANY when categories and classes are mixed', async () => {
    // ALL: an animal (any class) and a person; ANY: any animal class or a person.
    expect(await search(['animal', 'person'])).toEqual(['person.jpg']);
    expect(sorted(await search(['animal', 'person'], 'ANY'))).toEqual(sorted([...ANIMAL_PHOTOS, 'kite.jpg']));
    expect(await search(['animal', 'vehicle', 'dog'])).toEqual(['dog.jpg']);
    expect(await search(['animal', 'kite'])).toEqual([]);
    // ALL scores an image by its weakest term's best class: person.jpg's horse (0.93) is both its
    // best animal and its horse, so it leads horses.jpg (0.91), although its dog scores only 0.87.
    expect(await search(['animal', 'horse'])).toEqual(['person.jpg', 'horses.jpg']);
  });
});

describe('plurals and synonyms', () => {
  it('reads "birds", "people", "puppy" and "tv" as their classes', async () => {
    expect(await search(['birds'])).toEqual(['eagle.jpg']);
    expect(sorted(await search(['people']))).toEqual(['kite.jpg', 'person.jpg']);
    expect(sorted(await search(['puppy']))).toEqual(['dog.jpg', 'person.jpg']);
    expect(sorted(await search(['horses', 'Dogs'], 'ANY'))).toEqual(['dog.jpg', 'horses.jpg', 'person.jpg']);
    // No photo holds a television or a couch: the words are understood, and find nothing.
    expect(await search(['tv'])).toEqual([]);
    expect(await search(['television', 'sofa'], 'ANY')).toEqual([]);
  });

  it('says what each word means', async () => {
    const response = await server.graphql('query($terms: [String!]!) { labelTerms(terms: $terms) { term name kind classes } }', {
      terms: ['birds', 'sofa', 'People', 'animal'],
    });
    expect(response.errors).toBeUndefined();
    expect(response.data.labelTerms).toEqual([
      { term: 'birds', name: 'bird', kind: 'CLASS', classes: ['bird'] },
      { term: 'sofa', name: 'couch', kind: 'CLASS', classes: ['couch'] },
      { term: 'People', name: 'person', kind: 'CLASS', classes: ['person'] },
      { term: 'animal', name: 'animal', kind: 'CATEGORY', classes: ['bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe'] },
    ]);
  });

  it('refuses a word that names nothing as BAD_USER_INPUT, suggesting the closest class', async () => {
    for (const query of [SEARCH, '{ segments(filter: { labels: ["hrose"] }) { totalCount } }', 'query($labels: [String!]!) { labelTerms(terms: $labels) { name } }']) {
      const response = await server.graphql(query, { labels: ['hrose'] });
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.message).toBe('unknown class "hrose": did you mean horse?');
    }
    const nothingClose = await server.graphql(SEARCH, { labels: ['unicorn'] });
    expect(nothingClose.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(nothingClose.errors?.[0]?.message).toMatch(/^unknown class "unicorn"; search for a COCO class .*category/);
  });
});

describe('segments and cut-outs by category', () => {
  it('filters segments with a category, as many as its facet counts', async () => {
    const response = await server.graphql(`{
      segments(filter: { labels: ["animal"] }, first: 200) { totalCount edges { node { label score } } }
      categories { category segmentCount }
    }`);
    expect(response.errors).toBeUndefined();
    const labels = new Set(response.data.segments.edges.map((edge: { node: { label: string } }) => edge.node.label));
    expect(labels).toEqual(new Set(['bird', 'dog', 'horse', 'giraffe', 'zebra']));
    const animal = response.data.categories.find((entry: { category: string }) => entry.category === 'animal');
    expect(response.data.segments.totalCount).toBe(animal.segmentCount);
  });

  it("filters an image's own segments and its cut-outs with the same words", async () => {
    const image = await server.graphql('query($id: ID!) { image(id: $id) { animals: segments(labels: ["animals"]) { label } people: segments(labels: ["people"]) { label } } }', {
      id: ids.get('person.jpg'),
    });
    expect(image.data.image.animals.map((segment: { label: string }) => segment.label).sort()).toEqual(['dog', 'horse']);
    expect(image.data.image.people.map((segment: { label: string }) => segment.label)).toEqual(['person']);
    const cut = await server.graphql('mutation($id: ID!) { extractSegments(input: { imageId: $id, labels: ["birds"] }) { extractions { segment { label } } } }', {
      id: ids.get('eagle.jpg'),
    });
    expect(cut.errors).toBeUndefined();
    expect(cut.data.extractSegments.extractions).toEqual([{ segment: { label: 'bird' } }]);
    const typo = await server.graphql('mutation($id: ID!) { extractSegments(input: { imageId: $id, labels: ["brid"] }) { extractions { id } } }', {
      id: ids.get('eagle.jpg'),
    });
    expect(typo.errors?.[0]?.message).toBe('unknown class "brid": did you mean bird?');
  });
});

describe('facets by category', () => {
  it('counts each category once per image, with its classes, most images first', async () => {
    const response = await server.graphql('{ categories { category imageCount segmentCount classes { label imageCount segmentCount } } }');
    expect(response.errors).toBeUndefined();
    const categories = response.data.categories as { category: string; imageCount: number; segmentCount: number; classes: { label: string; imageCount: number; segmentCount: number }[] }[];
    const byName = new Map(categories.map((entry) => [entry.category, entry]));
    const animal = byName.get('animal')!;
    // Seven animal classes' worth of images, but five photos: each image counts once.
    expect(animal.imageCount).toBe(ANIMAL_PHOTOS.length);
    expect(animal.classes.map((entry) => entry.label).sort()).toEqual(['bird', 'dog', 'giraffe', 'horse', 'zebra']);
    expect(animal.segmentCount).toBe(animal.classes.reduce((sum, entry) => sum + entry.segmentCount, 0));
    expect(animal.classes.find((entry) => entry.label === 'horse')?.imageCount).toBe(2);
    expect(byName.get('vehicle')).toMatchObject({ imageCount: 1 });
    expect(byName.get('person')?.classes.map((entry) => entry.label)).toEqual(['person']);
    expect(byName.has('food')).toBe(false);
    const counts = categories.map((entry) => entry.imageCount);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
  });
});

describe('the default minScore', () => {
  it('is 0.3 for searches, segments and facets', async () => {
    // kite.jpg's three kites score about 0.84, 0.68 and 0.33: the last counts at 0.3, not at 0.5.
    const response = await server.graphql(`{
      byDefault: segments(filter: { labels: ["kite"] }) { totalCount }
      strict: segments(filter: { labels: ["kite"], minScore: 0.5 }) { totalCount }
      labels { label segmentCount }
      categories { category segmentCount }
    }`);
    expect(response.errors).toBeUndefined();
    expect(response.data.byDefault.totalCount).toBe(3);
    expect(response.data.strict.totalCount).toBe(2);
    expect(response.data.labels.find((entry: { label: string }) => entry.label === 'kite').segmentCount).toBe(3);
    expect(response.data.categories.find((entry: { category: string }) => entry.category === 'sports').segmentCount).toBe(3);
  });
});
