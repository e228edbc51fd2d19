/**
 * The gallery's entry point: wires the search form, the grid, the detail dialog and the uploads
 * together, and keeps the search in the URL so it can be bookmarked and Back undoes it.
 */
import { fetchSuggestions, nameOfWord, setApiKey, type ApiError } from './api.js';
import { DetailView } from './detail-view.js';
import { required } from './dom.js';
import { ResultsGrid } from './results-grid.js';
import { SearchBar } from './search-bar.js';
import { searchFromQuery, searchToQuery, type SearchState } from './search-terms.js';
import { UploadQueue } from './upload-queue.js';

let search = searchFromQuery(location.search);

/** Mutations on a server with SEGCAT_API_KEY need the key; ask for it once one is refused. */
const keyForm = required<HTMLFormElement>('#key-form');
keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void setApiKey(required<HTMLInputElement>('#api-key', keyForm).value).then(
    () => {
      keyForm.hidden = true;
      void grid.refresh();
      void refreshFacets(search);
    },
    () => required<HTMLInputElement>('#api-key', keyForm).select(),
  );
});
function onApiError(error: ApiError): void {
  if (error.code !== 'UNAUTHENTICATED') return;
  keyForm.hidden = false;
  required<HTMLInputElement>('#api-key', keyForm).focus();
}

const detail = new DetailView(onApiError);
const grid = new ResultsGrid((image, trigger) => void detail.open(image, trigger), onApiError);
const bar = new SearchBar(search, nameOfWord, (next) => {
  search = next;
  history.pushState(null, '', searchToQuery(next) || location.pathname);
  void grid.show(next);
  void refreshFacets(next);
});

/** Suggestions count classes and categories at the current minimum score, so counts match what a search finds. */
async function refreshFacets(state: SearchState): Promise<void> {
  try {
    bar.setFacets(await fetchSuggestions(state.minScore));
  } catch {
    // Without facets the field still searches whatever is typed; the grid reports server errors.
  }
}

// Finished uploads change the results and the facets; many finishing together refresh once.
let refreshTimer: number | undefined;
new UploadQueue(() => {
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => {
    void grid.refresh();
    void refreshFacets(search);
  }, 300);
}, onApiError);

window.addEventListener('popstate', () => {
  search = searchFromQuery(location.search);
  bar.show(search);
  void grid.show(search);
});

void grid.show(search);
void refreshFacets(search);
