/**
 * What search words mean. People search with everyday words ("birds", "people", "sofa",
 * "animal"), the model names COCO classes: this module is the one place that maps the first to the
 * second, for every search of the service layer (images, segments, an image's segments, cut-outs).
 *
 * Glossary:
 * - class: a name the model gives a segment (`dog`, `dining table`).
 * - category: a COCO supercategory (`animal`, `vehicle`), standing for all of its classes.
 * - word: anything else a search accepts, standing for one class or category: the plurals of
 *   class and category names (`dogs`, `buses`, `knives`, `animals`) and the reviewed OTHER_WORDS.
 * - term: one entry of a search's `labels`, resolved to the set of classes it stands for.
 */
import { COCO_CATEGORIES, COCO_SUPERCATEGORIES } from '../vision/coco-categories.js';
import { InvalidInputError } from './errors.js';

/** What one search word stands for. */
export interface LabelTerm {
  /** The word as it was given. */
  term: string;
  /** The class or category it names: `bird` for "Birds", `couch` for "sofa". */
  name: string;
  /** CLASS when it names one class, CATEGORY when it names a COCO supercategory. */
  kind: 'CLASS' | 'CATEGORY';
  /** The classes it matches, in COCO order. */
  classes: string[];
}

/** Most terms one search may name (more can only repeat: there are 80 classes and 12 categories). */
export const MAX_LABEL_TERMS = 100;

/**
 * Everyday words for a class or category, reviewed by hand: each word stands for exactly the name
 * it is listed under. Plurals of the names themselves are derived (`pluralOf`), so only the
 * plurals of these words are listed.
 */
export const OTHER_WORDS: Readonly<Record<string, readonly string[]>> = {
  person: [
    'people', 'persons', 'human', 'humans', 'man', 'men', 'woman', 'women', 'child', 'children',
    'kid', 'kids', 'boy', 'boys', 'girl', 'girls', 'baby', 'babies',
  ],
  bicycle: ['bike', 'bikes'],
  car: ['automobile', 'automobiles'],
  motorcycle: ['motorbike', 'motorbikes'],
  airplane: ['aeroplane', 'aeroplanes', 'plane', 'planes', 'aircraft'],
  truck: ['lorry', 'lorries'],
  boat: ['ship', 'ships'],
  'fire hydrant': ['hydrant', 'hydrants'],
  cat: ['kitten', 'kittens', 'kitty', 'kitties'],
  dog: ['puppy', 'puppies'],
  horse: ['pony', 'ponies'],
  sheep: ['lamb', 'lambs'],
  cow: ['cattle', 'calf', 'calves'],
  handbag: ['purse', 'purses'],
  suitcase: ['luggage'],
  skis: ['ski'],
  'sports ball': ['ball', 'balls'],
  'tennis racket': ['racket', 'rackets', 'racquet', 'racquets'],
  'wine glass': ['wineglass', 'wineglasses'],
  cup: ['mug', 'mugs'],
  'hot dog': ['hotdog', 'hotdogs'],
  donut: ['doughnut', 'doughnuts'],
  couch: ['sofa', 'sofas'],
  'potted plant': ['plant', 'plants', 'houseplant', 'houseplants'],
  'dining table': ['table', 'tables'],
  tv: ['television', 'televisions'],
  remote: ['remote control', 'remote controls'],
  'cell phone': ['phone', 'phones', 'cellphone', 'cellphones', 'mobile phone', 'mobile phones', 'smartphone', 'smartphones'],
  refrigerator: ['fridge', 'fridges'],
  'teddy bear': ['teddy', 'teddies'],
  'hair drier': ['hair dryer', 'hair dryers', 'hairdryer', 'hairdryers'],
  sports: ['sport'],
};

/** Plurals the English -s/-es/-ies rule gets wrong; null where the name has no other plural form. */
const IRREGULAR_PLURALS: Readonly<Record<string, string | null>> = {
  person: 'people',
  mouse: 'mice',
  knife: 'knives',
  sheep: null,
  skis: null,
  scissors: null,
  broccoli: null,
  sports: null,
  furniture: null,
};

/**
 * A label as segcat compares it: lower case, underscores as spaces, single spaces, trimmed (so
 * " Dining_Table " is "dining table"). The only label normaliser of the service layer.
 */
export function normaliseLabel(text: string): string {
  return text.toLowerCase().replace(/[\s_]+/g, ' ').trim();
}

/** The plural of a class or category name (its last word), or undefined when it has none. */
export function pluralOf(name: string): string | undefined {
  const words = name.split(' ');
  const last = words.pop()!;
  const irregular = name in IRREGULAR_PLURALS ? IRREGULAR_PLURALS[name] : IRREGULAR_PLURALS[last];
  if (irregular === null) return undefined;
  const plural = irregular ?? (/(s|x|z|ch|sh)$/.test(last) ? `${last}es` : /[^aeiou]y$/.test(last) ? `${last.slice(0, -1)}ies` : `${last}s`);
  return [...words, plural].join(' ');
}

/** The words a model's classes can be searched by, built once from the class list. */
export class LabelVocabulary {
  /** Every accepted word (names included) and the class or category it names. */
  private readonly words = new Map<string, string>();
  /** The model's classes of each category, in COCO order. */
  private readonly categoryClasses = new Map<string, string[]>();
  private readonly classes: ReadonlySet<string>;

  /** `knownClasses`: the current model's class names; other COCO classes are not searchable. */
  constructor(knownClasses: readonly string[]) {
    this.classes = new Set(knownClasses);
    for (const category of COCO_SUPERCATEGORIES) {
      const members = COCO_CATEGORIES.filter((c) => c.supercategory === category && this.classes.has(c.name)).map((c) => c.name);
      if (members.length > 0) this.categoryClasses.set(category, members);
    }
    const names = [...this.classes, ...this.categoryClasses.keys()];
    for (const name of names) this.words.set(name, name);
    for (const name of names) {
      const plural = pluralOf(name);
      if (plural && !this.words.has(plural)) this.words.set(plural, name);
      for (const word of OTHER_WORDS[name] ?? []) this.words.set(word, name);
    }
  }

  /** The model's classes of each category that has any, in COCO order. */
  get categories(): ReadonlyMap<string, readonly string[]> {
    return this.categoryClasses;
  }

  /**
   * Each term resolved, in the order given. Unknown terms are refused together, each with the
   * closest classes or categories as a suggestion.
   */
  resolve(terms: readonly string[]): LabelTerm[] {
    if (terms.length > MAX_LABEL_TERMS) {
      throw new InvalidInputError(`at most ${MAX_LABEL_TERMS} labels can be searched at once, got ${terms.length}; a category such as "animal" stands for all its classes`);
    }
    const unknown = terms.filter((term) => !this.words.has(normaliseLabel(term)));
    if (unknown.length > 0) throw new InvalidInputError([...new Set(unknown)].map((term) => this.unknownTerm(term)).join('; '));
    return terms.map((term) => {
      const name = this.words.get(normaliseLabel(term))!;
      // A name that is both (person) is a class: the category holds nothing else.
      if (this.classes.has(name)) return { term, name, kind: 'CLASS', classes: [name] };
      return { term, name, kind: 'CATEGORY', classes: [...this.categoryClasses.get(name)!] };
    });
  }

  /** The classes any of the terms stands for; undefined for no terms (meaning: any class). */
  classesOf(terms: readonly string[] | null | undefined): Set<string> | undefined {
    if (!terms || terms.length === 0) return undefined;
    return new Set(this.resolve(terms).flatMap((term) => term.classes));
  }

  private unknownTerm(term: string): string {
    const closest = this.closestNames(normaliseLabel(term));
    const hint =
      closest.length > 0
        ? `: did you mean ${closest.join(' or ')}?`
        : '; search for a COCO class ("dog", "dining table"), a category ("animal", "vehicle") or a plural of them (the `labels` and `categories` queries list what the catalogue holds)';
    return `unknown class ${JSON.stringify(term)}${hint}`;
  }

  /**
   * The names whose words are nearest to `text` by edit distance, when near enough to be a typo;
   * among equally near words, those `text` begins (an unfinished "giraf" is a giraffe, not a girl).
   */
  private closestNames(text: string): string[] {
    const allowed = text.length <= 4 ? 1 : text.length <= 8 ? 2 : 3;
    let best = allowed + 1;
    let nearest: [string, string][] = [];
    for (const entry of this.words) {
      const distance = editDistance(text, entry[0], best + 1);
      if (distance < best) [best, nearest] = [distance, [entry]];
      else if (distance === best) nearest.push(entry);
    }
    const begun = nearest.filter(([word]) => word.startsWith(text));
    return [...new Set((begun.length > 0 ? begun : nearest).map(([, name]) => name))].slice(0, 3);
  }
}

/**
 * Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`: optimal string
 * alignment distance, so "hrose" is one edit from "horse". Returns `limit` as soon as the
 * distance is known to be at least that.
 */
export function editDistance(a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let previousMin = 0;
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, before[j - 2]! + 1);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    // Two rows at the limit: no later cell can come back under it (a swap reaches back two rows).
    if (rowMin >= limit && previousMin >= limit) return limit;
    [before, previous, previousMin] = [previous, current, rowMin];
  }
  return previous[b.length]!;
}
