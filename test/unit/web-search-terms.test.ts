import {
  EMPTY_SEARCH,
  addLabel,
  clampScore,
  describeResults,
  searchFromQuery,
  searchToQuery,
  suggestLabels,
  suggestionsFrom,
  type LabelCount,
} from '../../web/src/search-terms.js';

const facets: LabelCount[] = [
  { label: 'person', imageCount: 9, segmentCount: 30 },
  { label: 'dog', imageCount: 4, segmentCount: 5 },
  { label: 'hot dog', imageCount: 2, segmentCount: 2 },
  { label: 'dining table', imageCount: 1, segmentCount: 1 },
];

describe('gallery search terms', () => {
  it('reads typed classes the way COCO writes them and ignores blanks and repeats', () => {
    expect(addLabel([], '  Dining_Table ')).toEqual(['dining table']);
    expect(addLabel(['dog'], 'DOG')).toEqual(['dog']);
    expect(addLabel(['dog'], '   ')).toEqual(['dog']);
  });

  it('suggests classes starting with the text before those containing it, leaving out chosen ones', () => {
    expect(suggestLabels(facets, 'd', []).map((facet) => facet.label)).toEqual(['dog', 'dining table', 'hot dog']);
    expect(suggestLabels(facets, 'dog', ['dog']).map((facet) => facet.label)).toEqual(['hot dog']);
    expect(suggestLabels(facets, '', [], 2).map((facet) => facet.label)).toEqual(['person', 'dog']);
    expect(suggestLabels(facets, 'zebra', [])).toEqual([]);
  });

  it('suggests categories among classes by image count, person once, as the class', () => {
    const categories = [
      { category: 'person', imageCount: 9 },
      { category: 'animal', imageCount: 5 },
      { category: 'food', imageCount: 2 },
    ];
    expect(suggestionsFrom(facets, categories)).toEqual([
      { label: 'person', imageCount: 9, category: false },
      { label: 'animal', imageCount: 5, category: true },
      { label: 'dog', imageCount: 4, category: false },
      { label: 'hot dog', imageCount: 2, category: false },
      { label: 'food', imageCount: 2, category: true },
      { label: 'dining table', imageCount: 1, category: false },
    ]);
    expect(suggestLabels(suggestionsFrom(facets, categories), 'an', []).map((s) => s.label)).toEqual(['animal']);
  });

  it('round-trips a search through the URL and falls back to defaults on nonsense', () => {
    const search = { labels: ['dog', 'dining table'], match: 'ANY' as const, minScore: 0.7 };
    expect(searchFromQuery(searchToQuery(search))).toEqual(search);
    expect(searchToQuery(EMPTY_SEARCH)).toBe('');
    expect(searchFromQuery('?match=SOME&score=abc&q=,,')).toEqual(EMPTY_SEARCH);
    expect(searchFromQuery('?score=7').minScore).toBe(1);
  });

  it('keeps scores on the slider grid', () => {
    expect(clampScore(0.537)).toBe(0.55);
    expect(clampScore(-1)).toBe(0);
    // Unreadable scores fall back to the search default (0.3, README "Measuring quality").
    expect(clampScore(Number.NaN)).toBe(0.3);
  });

  it('says what the grid shows, including when nothing matches', () => {
    expect(describeResults(EMPTY_SEARCH, 0)).toMatch(/catalogue is empty/);
    expect(describeResults(EMPTY_SEARCH, 3)).toBe('3 images, newest first');
    expect(describeResults({ labels: ['dog', 'cat'], match: 'ALL', minScore: 0.5 }, 0)).toBe('No image contains dog and cat (score ≥ 50%).');
    expect(describeResults({ labels: ['dog', 'cat'], match: 'ANY', minScore: 0.6 }, 1)).toBe('1 image with dog or cat (score ≥ 60%)');
  });
});
