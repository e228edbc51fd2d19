/**
 * Pure rules of the search field: what a typed class is, which classes and categories to suggest,
 * and how a search is written to and read from the page URL (so a search can be bookmarked and
 * Back works). What a typed word means ("birds", "sofa") is the server's to say (`labelTerms`).
 */

/** A class and how often it occurs, as the `labels` query returns it. */
export interface LabelCount {
  label: string;
  imageCount: number;
  segmentCount: number;
}

/** A COCO supercategory and how many images hold any of its classes, as the `categories` query returns it. */
export interface CategoryCount {
  category: string;
  imageCount: number;
}

/** What the field suggests: a class, or a category standing for all its classes. */
export interface Suggestion {
  label: string;
  imageCount: number;
  category: boolean;
}

/** Whether an image needs every chosen class or any one of them. */
export type LabelMatch = 'ALL' | 'ANY';

/** Everything that decides which images the grid shows. */
export interface SearchState {
  labels: string[];
  match: LabelMatch;
  minScore: number;
}

/** The search the page opens with: every image, newest first. */
export const EMPTY_SEARCH: SearchState = Object.freeze({ labels: [], match: 'ALL', minScore: 0.3 }) as SearchState;

/** COCO names are lower case with single spaces ("dining table"); people type them otherwise. */
export function normaliseLabel(text: string): string {
  return text.trim().toLowerCase().replace(/[\s_]+/g, ' ');
}

/** Adds a class to the chosen ones, ignoring blanks and repeats. */
export function addLabel(chosen: readonly string[], text: string): string[] {
  const label = normaliseLabel(text);
  return label === '' || chosen.includes(label) ? [...chosen] : [...chosen, label];
}

/**
 * Classes and categories as one list, most images first (a class before a category on a tie). A
 * category named like its only class (person) is left to the class.
 */
export function suggestionsFrom(labels: readonly LabelCount[], categories: readonly CategoryCount[]): Suggestion[] {
  const classes = labels.map(({ label, imageCount }) => ({ label, imageCount, category: false }));
  const names = new Set(labels.map((facet) => facet.label));
  const groups = categories
    .filter((facet) => !names.has(facet.category))
    .map(({ category, imageCount }) => ({ label: category, imageCount, category: true }));
  return [...classes, ...groups].sort((a, b) => b.imageCount - a.imageCount);
}

/**
 * Facets worth suggesting for what has been typed: those starting with it first, then those
 * containing it, each group in the given order (most frequent first); chosen ones are left out.
 */
export function suggestLabels<T extends { label: string }>(facets: readonly T[], typed: string, chosen: readonly string[], limit = 8): T[] {
  const query = normaliseLabel(typed);
  const open = facets.filter((facet) => !chosen.includes(facet.label));
  if (query === '') return open.slice(0, limit);
  const starts = open.filter((facet) => facet.label.startsWith(query));
  const contains = open.filter((facet) => !facet.label.startsWith(query) && facet.label.includes(query));
  return [...starts, ...contains].slice(0, limit);
}

/** Clamps a score to 0..1 in steps of 0.05, the slider's resolution. */
export function clampScore(value: number): number {
  if (!Number.isFinite(value)) return EMPTY_SEARCH.minScore;
  return Math.round(Math.min(1, Math.max(0, value)) * 20) / 20;
}

/** The URL query string for a search (empty for the default one). */
export function searchToQuery(state: SearchState): string {
  const params = new URLSearchParams();
  if (state.labels.length > 0) params.set('q', state.labels.join(','));
  if (state.match !== EMPTY_SEARCH.match) params.set('match', state.match);
  if (state.minScore !== EMPTY_SEARCH.minScore) params.set('score', String(state.minScore));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Reads a search back from a URL query string; anything unreadable falls back to the default. */
export function searchFromQuery(query: string): SearchState {
  const params = new URLSearchParams(query);
  const labels = (params.get('q') ?? '').split(',').reduce<string[]>((chosen, text) => addLabel(chosen, text), []);
  const match: LabelMatch = params.get('match') === 'ANY' ? 'ANY' : 'ALL';
  const score = params.get('score');
  const minScore = score === null ? EMPTY_SEARCH.minScore : clampScore(Number(score));
  return { labels, match, minScore };
}

/** One line saying what the grid shows, for the status region and screen readers. */
export function describeResults(state: SearchState, totalCount: number): string {
  const count = `${totalCount} ${totalCount === 1 ? 'image' : 'images'}`;
  if (state.labels.length === 0) return totalCount === 0 ? 'The catalogue is empty. Add photos to start.' : `${count}, newest first`;
  const joiner = state.match === 'ALL' ? ' and ' : ' or ';
  const classes = state.labels.join(joiner);
  if (totalCount === 0) return `No image contains ${classes} (score ≥ ${formatPercent(state.minScore)}).`;
  return `${count} with ${classes} (score ≥ ${formatPercent(state.minScore)})`;
}

/** A 0..1 score as a whole percent, e.g. "87%". */
export function formatPercent(score: number): string {
  return `${Math.round(score * 100)}%`;
}
