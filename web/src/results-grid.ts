/**
 * The results grid: one page of thumbnails at a time over the API's cursor paging, the next page
 * fetched when the end of the grid scrolls into view.
 */
import { ApiError, searchImages, type ImageCard } from './api.js';
import { h, required } from './dom.js';
import { describeResults, type SearchState } from './search-terms.js';

/** How far below the viewport the next page starts loading, so scrolling rarely waits. */
const PREFETCH_MARGIN = '600px';

/** The grid of search results, wired to the page's markup. */
export class ResultsGrid {
  private readonly grid = required<HTMLUListElement>('#grid');
  private readonly status = required<HTMLParagraphElement>('#results-status');
  private readonly sentinel = required<HTMLDivElement>('#more');
  private search: SearchState | undefined;
  private cursor: string | null = null;
  private hasNextPage = false;
  private loading = false;
  /** Bumped on every new search so that answers to an older one are dropped. */
  private generation = 0;

  constructor(
    private readonly onOpen: (image: ImageCard, trigger: HTMLElement) => void,
    /** Told about errors the page as a whole handles (a missing key). */
    private readonly onApiError: (error: ApiError) => void,
  ) {
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) void this.loadMore();
    }, { rootMargin: PREFETCH_MARGIN }).observe(this.sentinel);
  }

  /** Shows the first page of a search, replacing what is shown. */
  async show(search: SearchState): Promise<void> {
    this.search = search;
    this.generation += 1;
    this.cursor = null;
    this.hasNextPage = true;
    this.loading = false;
    this.grid.replaceChildren();
    this.grid.setAttribute('aria-busy', 'true');
    this.setStatus('Loading…', 'loading');
    await this.loadMore();
  }

  /** Runs the current search again, e.g. after uploads finish. */
  async refresh(): Promise<void> {
    if (this.search) await this.show(this.search);
  }

  private async loadMore(): Promise<void> {
    if (!this.search || this.loading || !this.hasNextPage) return;
    const generation = this.generation;
    this.loading = true;
    this.sentinel.classList.add('loading');
    try {
      const page = await searchImages(this.search, this.cursor);
      if (generation !== this.generation) return;
      this.cursor = page.endCursor;
      this.hasNextPage = page.hasNextPage && page.endCursor !== null;
      this.grid.append(...page.images.map((image) => this.card(image)));
      this.setStatus(describeResults(this.search, page.totalCount), page.totalCount === 0 ? 'empty' : 'ready');
    } catch (error) {
      if (generation !== this.generation) return;
      this.hasNextPage = false;
      // A class the model does not know is the searcher's slip, not a failure: say what to type.
      if (error instanceof ApiError && error.code === 'BAD_USER_INPUT') return this.setStatus(capitalise(error.message), 'empty');
      if (error instanceof ApiError) this.onApiError(error);
      const message = error instanceof ApiError ? error.message : 'something went wrong';
      this.setStatus(`Could not load images: ${message}.`, 'error');
      this.status.append(' ', h('button', { type: 'button', text: 'Try again', onclick: () => void this.refresh() }));
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.sentinel.classList.remove('loading');
        this.grid.setAttribute('aria-busy', 'false');
        // A short page can leave the sentinel visible; the observer will not fire again for it.
        if (this.hasNextPage && this.sentinelVisible()) void this.loadMore();
      }
    }
  }

  private card(image: ImageCard): HTMLLIElement {
    const button = h(
      'button',
      { type: 'button', className: 'card', title: image.filename, 'data-image-id': image.id },
      h('img', {
        src: image.thumbnailUrl ?? image.url,
        alt: image.filename,
        loading: 'lazy',
        decoding: 'async',
        width: image.width,
        height: image.height,
      }),
      image.status !== 'DONE' && h('span', { className: `badge ${image.status.toLowerCase()}`, text: image.status.toLowerCase() }),
    );
    button.addEventListener('click', () => this.onOpen(image, button));
    return h('li', {}, button);
  }

  private setStatus(text: string, state: 'loading' | 'ready' | 'empty' | 'error'): void {
    this.status.textContent = text;
    this.status.dataset.state = state;
  }

  private sentinelVisible(): boolean {
    const { top } = this.sentinel.getBoundingClientRect();
    return top < window.innerHeight + Number.parseInt(PREFETCH_MARGIN, 10);
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
