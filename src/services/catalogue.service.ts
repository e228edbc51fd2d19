/**
 * Searching the catalogue: images by the classes they contain, segments, facets, and the batch
 * reads behind GraphQL's per-request DataLoaders. Arguments are checked here (page sizes, scores,
 * search words, cursors) so every transport gets the same rules; search words mean what
 * label-terms.ts says (a class, a category, a plural or another word for a class).
 */
import type { Extraction, Image, ImageStatus, Segment } from '../models.js';
import type { ImageReadRepository } from '../db/image-read.repository.js';
import type { ImageCursor, LabelFacet, ScoredImage, SearchRepository, SegmentCursor } from '../db/search.repository.js';
import { InvalidInputError } from './errors.js';
import type { ImageEvents } from './image-waiter.js';
import type { LabelTerm, LabelVocabulary } from './label-terms.js';

/** A page of results in the Relay connection shape. */
export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  /** Resolved only when asked for. */
  totalCount: () => Promise<number>;
}

/** A page of images. */
export type ImagePage = Page<Image>;
/** A page of segments. */
export type SegmentPage = Page<Segment>;
/** Images and segments per class. */
export type LabelCount = LabelFacet;

/** Images and segments per COCO supercategory, with the counts of its classes. */
export interface CategoryCount {
  category: string;
  /** Images with a segment of any of its classes (each image once). */
  imageCount: number;
  segmentCount: number;
  /** Its classes the catalogue holds, most images first. */
  classes: LabelCount[];
}

/** An image search as a client states it. */
export interface ImageSearch {
  labels?: string[] | null;
  match?: 'ALL' | 'ANY' | null;
  minScore?: number | null;
  status?: ImageStatus | null;
  first?: number | null;
  after?: string | null;
}

/** A segment search as a client states it. */
export interface SegmentSearch {
  labels?: string[] | null;
  minScore?: number | null;
  imageId?: string | null;
  first?: number | null;
  after?: string | null;
}

/** Largest page of images. */
export const MAX_IMAGE_PAGE = 100;
/** Largest page of segments. */
export const MAX_SEGMENT_PAGE = 200;
/**
 * minScore of a search that gives none (and of the SDL's defaults, which a unit test compares):
 * on labelled photos 0.3 finds about a third more of the images that hold what was asked for
 * than 0.5, and stays 95% right (README, "Measuring quality").
 */
export const DEFAULT_MIN_SCORE = 0.3;
/** Distinct minScores whose facet counts are kept. */
const MAX_CACHED_FACETS = 16;

/** Dependencies of the catalogue service. */
export interface CatalogueDeps {
  search: SearchRepository;
  images: Pick<ImageReadRepository, 'findByIds'>;
  /** What search words mean, for the current model's classes: any other word is an error. */
  vocabulary: LabelVocabulary;
  events: ImageEvents;
}

/** Read side of the catalogue. */
export class CatalogueService {
  private readonly search: SearchRepository;
  private readonly vocabulary: LabelVocabulary;

  /** Facet results by kind and minScore, with the catalogue version they were counted at. */
  private readonly facets = new Map<string, { counts: Promise<unknown>; version: number }>();
  /** Bumped whenever an image changes state. */
  private version = 0;

  constructor(private readonly deps: CatalogueDeps) {
    this.search = deps.search;
    this.vocabulary = deps.vocabulary;
    deps.events.subscribe(() => {
      this.version += 1;
      // Old counts are never asked for again; dropping them keeps the map to live minScores.
      this.facets.clear();
    });
  }

  /**
   * Images holding what the search words name, best match first; without words, newest first.
   * Each word stands for a set of classes: ALL needs one of each word's classes, ANY one class of
   * any word.
   */
  async findImages(args: ImageSearch): Promise<ImagePage> {
    const query = {
      terms: this.classSets(args.labels),
      matchAll: (args.match ?? 'ALL') === 'ALL',
      minScore: checkScore(args.minScore ?? DEFAULT_MIN_SCORE),
      status: args.status ?? undefined,
      limit: checkFirst(args.first ?? 20, MAX_IMAGE_PAGE),
      after: args.after ? decodeCursor<ImageCursor>(args.after, isImageCursor) : undefined,
    };
    const rows = await this.search.findImages({ ...query, limit: query.limit + 1 });
    return toPage(rows, query.limit, imageCursor, () => this.search.countImages(query));
  }

  /** Segments of the classes the search words name, best score first. */
  async findSegments(args: SegmentSearch): Promise<SegmentPage> {
    const query = {
      labels: [...(this.vocabulary.classesOf(args.labels) ?? [])],
      minScore: checkScore(args.minScore ?? DEFAULT_MIN_SCORE),
      imageId: args.imageId ? checkId(args.imageId) : undefined,
      limit: checkFirst(args.first ?? 50, MAX_SEGMENT_PAGE),
      after: args.after ? decodeCursor<SegmentCursor>(args.after, isSegmentCursor) : undefined,
    };
    const rows = await this.search.findSegments({ ...query, limit: query.limit + 1 });
    const cursor = (segment: Segment) => encodeCursor({ score: segment.score, id: segment.id });
    return toPage(rows, query.limit, cursor, () => this.search.countSegments(query));
  }

  /** Facet counts per class, most images first (cached until an image changes state). */
  async labels(minScore: number | null | undefined): Promise<LabelCount[]> {
    const score = checkScore(minScore ?? DEFAULT_MIN_SCORE);
    return this.cachedFacets(`labels:${score}`, () => this.search.labelFacets(score));
  }

  /**
   * Facet counts per COCO supercategory, most images first, each with its classes' counts (cached
   * as `labels` is).
   */
  async categories(minScore: number | null | undefined): Promise<CategoryCount[]> {
    const score = checkScore(minScore ?? DEFAULT_MIN_SCORE);
    return this.cachedFacets(`categories:${score}`, async () => {
      const [categories, classes] = await Promise.all([
        this.search.categoryFacets(score, this.vocabulary.categories),
        this.labels(score),
      ]);
      return categories.map(({ category, imageCount, segmentCount }) => {
        const members = new Set(this.vocabulary.categories.get(category));
        return { category, imageCount, segmentCount, classes: classes.filter((entry) => members.has(entry.label)) };
      });
    });
  }

  /** What each search word means (the class or category it names, and its classes); unknown words are refused. */
  labelTerms(terms: readonly string[]): LabelTerm[] {
    return this.vocabulary.resolve(terms);
  }

  /**
   * The segments of a class that one of the search words `labels` names (any class when none are
   * given) scoring at least `minScore` (default 0), in their order. Unknown words are refused.
   */
  filterSegments(segments: readonly Segment[], filter: { labels?: string[] | null; minScore?: number | null }): Segment[] {
    const wanted = this.vocabulary.classesOf(filter.labels);
    return segments.filter((segment) => segment.score >= (filter.minScore ?? 0) && (!wanted || wanted.has(segment.label)));
  }

  /** Images by id, in the order asked (null where missing). */
  async imagesByIds(ids: readonly string[]): Promise<(Image | null)[]> {
    return this.deps.images.findByIds(ids);
  }

  /** Segments by id, in the order asked (null where missing). */
  async segmentsByIds(ids: readonly string[]): Promise<(Segment | null)[]> {
    return this.search.segmentsByIds(ids);
  }

  /** Every segment of each image, best score first. */
  async segmentsOfImages(imageIds: readonly string[]): Promise<Segment[][]> {
    return this.search.segmentsOfImages(imageIds);
  }

  /** Each image's classes scoring at least DEFAULT_MIN_SCORE, most confident first: what a search finds it by. */
  async labelsOfImages(imageIds: readonly string[]): Promise<string[][]> {
    return this.search.labelsOfImages(imageIds, DEFAULT_MIN_SCORE);
  }

  /** Cut-outs of each segment, oldest first. */
  async extractionsOfSegments(segmentIds: readonly string[]): Promise<Extraction[][]> {
    return this.search.extractionsOfSegments(segmentIds);
  }

  /** The class set of each search word, without repeats ("dog" and "dogs" are one term). */
  private classSets(labels: string[] | null | undefined): string[][] {
    const sets = new Map(this.vocabulary.resolve(labels ?? []).map((term) => [term.classes.join('\n'), term.classes]));
    return [...sets.values()];
  }

  /**
   * Category facets count every segment of their classes, and even class facets (read from the
   * tallies) add up thousands of rows, so results are kept until an image changes state (uploads that
   * wait are answered after that event, so a client always sees its own changes).
   */
  private cachedFacets<T>(key: string, count: () => Promise<T>): Promise<T> {
    const cached = this.facets.get(key);
    if (cached?.version === this.version) return cached.counts as Promise<T>;
    const counts = count();
    // minScore is the client's choice: keep a handful of them, not one per value ever asked.
    if (this.facets.size >= MAX_CACHED_FACETS) this.facets.clear();
    this.facets.set(key, { counts, version: this.version });
    counts.catch(() => this.facets.delete(key));
    return counts;
  }
}

/** Checks an id has the form of one, so a typo is a clear error rather than "not found". */
export function checkId(id: string): string {
  if (!isUuid(id)) {
    throw new InvalidInputError(`${JSON.stringify(id)} is not a valid id (expected a UUID)`);
  }
  return id.toLowerCase();
}

function checkScore(score: number): number {
  if (!Number.isFinite(score) || score < 0 || score > 1) {
    throw new InvalidInputError(`minScore must be between 0 and 1, got ${score}`);
  }
  return score;
}

function checkFirst(first: number, max: number): number {
  if (!Number.isInteger(first) || first < 1 || first > max) {
    throw new InvalidInputError(`first must be between 1 and ${max}, got ${first}`);
  }
  return first;
}

function imageCursor(image: ScoredImage): string {
  return encodeCursor({ score: image.matchScore, createdAt: image.createdAt.toISOString(), id: image.id });
}

function toPage<T>(rows: T[], limit: number, cursorOf: (row: T) => string, count: () => Promise<number>): Page<T> {
  const edges = rows.slice(0, limit).map((node) => ({ cursor: cursorOf(node), node }));
  let total: Promise<number> | undefined;
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount: () => (total ??= count()),
  };
}

function encodeCursor(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeCursor<T>(cursor: string, valid: (value: unknown) => boolean): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!valid(value)) throw new InvalidInputError('invalid cursor: pass an `endCursor` from a previous page of the same query');
  if (typeof value === 'object' && value && 'createdAt' in value) {
    return { ...value, createdAt: new Date(String(value.createdAt)) } as T;
  }
  return value as T;
}

function isImageCursor(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { score, createdAt, id } = value as Record<string, unknown>;
  return (
    (score === null || isScore(score)) &&
    typeof createdAt === 'string' &&
    isStorableDate(createdAt) &&
    typeof id === 'string' &&
    isUuid(id)
  );
}

function isSegmentCursor(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { score, id } = value as Record<string, unknown>;
  return isScore(score) && typeof id === 'string' && isUuid(id);
}

/** Scores are probabilities: anything else in a cursor (1e308, NaN) was not made by segcat. */
function isScore(value: unknown): boolean {
  return typeof value === 'number' && value >= 0 && value <= 1;
}

/** A timestamp PostgreSQL can compare with (years 1 to 9999). */
function isStorableDate(text: string): boolean {
  const year = new Date(text).getUTCFullYear();
  return year >= 1 && year <= 9999;
}

function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
