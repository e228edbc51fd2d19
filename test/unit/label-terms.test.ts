import { InvalidInputError } from '../../src/services/errors.js';
import { LabelVocabulary, OTHER_WORDS, editDistance, normaliseLabel, pluralOf } from '../../src/services/label-terms.js';
import { COCO_CATEGORIES, COCO_SUPERCATEGORIES } from '../../src/vision/coco-categories.js';

const CLASSES = COCO_CATEGORIES.map((category) => category.name);
const vocabulary = new LabelVocabulary(CLASSES);

/** The name each word resolves to. */
const nameOf = (word: string) => vocabulary.resolve([word])[0]!.name;
/** The error a search for `words` gets. */
function refusal(words: string[]): string {
  try {
    vocabulary.resolve(words);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return (error as Error).message;
  }
  throw new Error(`${words.join(', ')} was accepted`);
}

describe('search words', () => {
  it('reads labels without regard to case, surrounding spaces or underscores', () => {
    expect(normaliseLabel('  Dining_Table ')).toBe('dining table');
    expect(normaliseLabel('hot \t dog')).toBe('hot dog');
    expect(vocabulary.resolve([' Dining_table '])).toEqual([{ term: ' Dining_table ', name: 'dining table', kind: 'CLASS', classes: ['dining table'] }]);
  });

  it('take the regular plural of every class, and the irregular ones from the table', () => {
    const plurals = Object.fromEntries(['dog', 'horse', 'bus', 'bench', 'wine glass', 'toothbrush', 'hot dog', 'tv', 'knife', 'mouse', 'person', 'accessory'].map((name) => [name, pluralOf(name)]));
    expect(plurals).toEqual({
      dog: 'dogs',
      horse: 'horses',
      bus: 'buses',
      bench: 'benches',
      'wine glass': 'wine glasses',
      toothbrush: 'toothbrushes',
      'hot dog': 'hot dogs',
      tv: 'tvs',
      knife: 'knives',
      mouse: 'mice',
      person: 'people',
      accessory: 'accessories',
    });
    for (const name of ['sheep', 'skis', 'scissors', 'broccoli', 'sports']) expect(pluralOf(name)).toBeUndefined();
    for (const name of CLASSES) {
      const plural = pluralOf(name);
      if (plural) expect(nameOf(plural)).toBe(name);
    }
    expect(nameOf('ski')).toBe('skis');
  });

  it('map the everyday words of the issue to their classes', () => {
    const expected: Record<string, string> = {
      birds: 'bird',
      people: 'person',
      man: 'person',
      women: 'person',
      children: 'person',
      kid: 'person',
      boy: 'person',
      girls: 'person',
      sofa: 'couch',
      tv: 'tv',
      television: 'tv',
      motorbike: 'motorcycle',
      aeroplane: 'airplane',
      plane: 'airplane',
      puppy: 'dog',
      kitten: 'cat',
      dogs: 'dog',
      horses: 'horse',
      buses: 'bus',
      knives: 'knife',
      mice: 'mouse',
      skis: 'skis',
    };
    expect(Object.fromEntries(Object.keys(expected).map((word) => [word, nameOf(word)]))).toEqual(expected);
  });

  it('keep the table unambiguous: each word names one existing class or category, and no name is another word', () => {
    const names = [...CLASSES, ...COCO_SUPERCATEGORIES];
    const pluralOwners = new Map(names.map((name) => [pluralOf(name), name]));
    const words = Object.values(OTHER_WORDS).flat();
    expect(new Set(words).size).toBe(words.length);
    for (const [name, listed] of Object.entries(OTHER_WORDS)) {
      expect(names).toContain(name);
      for (const word of listed) {
        expect(word).toBe(normaliseLabel(word));
        expect(names).not.toContain(word);
        expect(pluralOwners.get(word) ?? name).toBe(name);
      }
    }
    for (const plural of pluralOwners.keys()) if (plural) expect(names).not.toContain(plural);
  });

  it('read a category as all its classes, and person as the class it is', () => {
    const [animal] = vocabulary.resolve(['Animals']);
    expect(animal).toEqual({ term: 'Animals', name: 'animal', kind: 'CATEGORY', classes: ['bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe'] });
    expect(vocabulary.resolve(['vehicle'])[0]!.classes).toContain('motorcycle');
    expect(vocabulary.resolve(['person'])[0]).toEqual({ term: 'person', name: 'person', kind: 'CLASS', classes: ['person'] });
    expect(vocabulary.classesOf(['animal', 'dogs', 'people'])).toEqual(new Set([...animal!.classes, 'person']));
    expect(vocabulary.classesOf([])).toBeUndefined();
  });

  it('know only the classes of the current model', () => {
    const small = new LabelVocabulary(['person', 'dog', 'car']);
    expect(small.resolve(['animal'])[0]!.classes).toEqual(['dog']);
    expect(small.resolve(['vehicles'])[0]!.classes).toEqual(['car']);
    expect([...small.categories.keys()]).toEqual(['person', 'vehicle', 'animal']);
    expect(() => small.resolve(['cat'])).toThrow(InvalidInputError);
    expect(() => small.resolve(['kitchen'])).toThrow(InvalidInputError);
  });

  it('refuse a word that names nothing, suggesting the closest classes or categories', () => {
    expect(refusal(['hrose'])).toBe('unknown class "hrose": did you mean horse?');
    expect(refusal(['dog', 'Aminal'])).toBe('unknown class "Aminal": did you mean animal?');
    // "sofas" is one edit away: the suggestion is the class it names.
    expect(refusal(['sofs'])).toMatch(/^unknown class "sofs": did you mean .*couch/);
    expect(refusal(['unicorn'])).toMatch(/^unknown class "unicorn"; search for a COCO class .* a category/);
    expect(refusal(['hrose', 'unicorn', 'hrose'])).toMatch(/^unknown class "hrose": did you mean horse\?; unknown class "unicorn"; /);
    expect(refusal(Array.from({ length: 101 }, () => 'dog'))).toMatch(/at most 100 labels/);
  });

  it('count edits as optimal string alignment, stopping at a limit', () => {
    expect(editDistance('hrose', 'horse')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('dog', 'dog')).toBe(0);
    expect(editDistance('elephant', 'cat', 3)).toBe(3);
    expect(editDistance('giraffe', 'giraffes', 3)).toBe(1);
  });
});
