/**
 * The search form: chosen classes and categories as chips, a combobox suggesting them with counts,
 * ALL/ANY and the score slider. It owns no data fetching; it reports every change of the search.
 */
import { h, required } from './dom.js';
import { addLabel, clampScore, formatPercent, normaliseLabel, suggestLabels, type SearchState, type Suggestion } from './search-terms.js';

/** The search form, wired to the page's markup. */
export class SearchBar {
  private state: SearchState;
  private facets: Suggestion[] = [];
  private options: Suggestion[] = [];
  /** Index of the suggestion the arrow keys point at, -1 for none. */
  private active = -1;
  private readonly input = required<HTMLInputElement>('#search-input');
  private readonly chips = required<HTMLUListElement>('#chips');
  private readonly listbox = required<HTMLUListElement>('#suggestions');
  private readonly slider = required<HTMLInputElement>('#min-score');
  private readonly sliderValue = required<HTMLOutputElement>('#min-score-value');

  constructor(
    initial: SearchState,
    /** The class or category a typed word names ("birds": bird); rejects when it names none. */
    private readonly nameOf: (word: string) => Promise<string>,
    private readonly onChange: (state: SearchState) => void,
  ) {
    this.state = initial;
    const form = required<HTMLFormElement>('#search');
    form.addEventListener('submit', (event) => event.preventDefault());
    this.input.addEventListener('input', () => this.openSuggestions());
    this.input.addEventListener('focus', () => this.openSuggestions());
    this.input.addEventListener('blur', () => this.closeSuggestions());
    this.input.addEventListener('keydown', (event) => this.onKey(event));
    for (const radio of form.querySelectorAll<HTMLInputElement>('input[name=match]')) {
      radio.addEventListener('change', () => this.update({ match: radio.value === 'ANY' ? 'ANY' : 'ALL' }));
    }
    // The label updates while dragging; the search runs once the thumb is let go.
    this.slider.addEventListener('input', () => (this.sliderValue.textContent = formatPercent(Number(this.slider.value))));
    this.slider.addEventListener('change', () => this.update({ minScore: clampScore(Number(this.slider.value)) }));
    this.render();
  }

  /** Replaces the classes and categories offered as suggestions. */
  setFacets(facets: Suggestion[]): void {
    this.facets = facets;
    if (!this.listbox.hidden) this.openSuggestions();
  }

  /** Shows a search that came from elsewhere (the URL, Back), without reporting it. */
  show(state: SearchState): void {
    this.state = state;
    this.render();
  }

  private update(change: Partial<SearchState>): void {
    this.state = { ...this.state, ...change };
    this.render();
    this.onChange(this.state);
  }

  private onKey(event: KeyboardEvent): void {
    const open = !this.listbox.hidden && this.options.length > 0;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      if (this.listbox.hidden) this.openSuggestions();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this.highlight(this.options.length === 0 ? -1 : (this.active + step + this.options.length) % this.options.length);
    } else if (event.key === 'Enter') {
      event.preventDefault();
      if (open && this.active >= 0) this.choose(this.options[this.active]!.label);
      else void this.chooseTyped(this.input.value);
    } else if (event.key === 'Escape' && open) {
      event.preventDefault();
      this.closeSuggestions();
    } else if (event.key === 'Backspace' && this.input.value === '' && this.state.labels.length > 0) {
      this.update({ labels: this.state.labels.slice(0, -1) });
    }
  }

  /**
   * Adds what a typed word names ("birds": bird, "sofa": couch) and searches. A word that names
   * nothing is searched as typed, so the results say why and what was meant.
   */
  private async chooseTyped(text: string): Promise<void> {
    const word = normaliseLabel(text);
    if (word === '' || this.state.labels.includes(word)) return this.choose(word);
    this.input.value = '';
    this.choose(await this.nameOf(word).catch(() => word));
  }

  /** Adds a class or category and searches; Enter on an empty field searches again with the current ones. */
  private choose(text: string): void {
    this.input.value = '';
    this.closeSuggestions();
    this.update({ labels: addLabel(this.state.labels, text) });
  }

  private openSuggestions(): void {
    this.options = suggestLabels(this.facets, this.input.value, this.state.labels);
    this.active = -1;
    this.listbox.replaceChildren(
      ...this.options.map((facet, index) =>
        h(
          'li',
          {
            id: `suggestion-${index}`,
            role: 'option',
            'aria-selected': 'false',
            // mousedown, not click: it runs before the input's blur closes the list.
            onmousedown: ((event: MouseEvent) => {
              event.preventDefault();
              this.choose(facet.label);
            }) as EventListener,
          },
          h('span', { className: 'suggestion-label', text: facet.label }, facet.category && h('span', { className: 'kind', text: ' (category)' })),
          h('span', { className: 'count', text: `${facet.imageCount} ${facet.imageCount === 1 ? 'image' : 'images'}` }),
        ),
      ),
    );
    const show = this.options.length > 0 && document.activeElement === this.input;
    this.listbox.hidden = !show;
    this.input.setAttribute('aria-expanded', String(show));
    this.input.removeAttribute('aria-activedescendant');
  }

  private closeSuggestions(): void {
    this.listbox.hidden = true;
    this.active = -1;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  private highlight(index: number): void {
    this.active = index;
    this.listbox.querySelectorAll('[role=option]').forEach((option, i) => option.setAttribute('aria-selected', String(i === index)));
    if (index < 0) return this.input.removeAttribute('aria-activedescendant');
    this.input.setAttribute('aria-activedescendant', `suggestion-${index}`);
    this.listbox.children[index]?.scrollIntoView({ block: 'nearest' });
  }

  private render(): void {
    this.chips.replaceChildren(
      ...this.state.labels.map((label) =>
        h(
          'li',
          { className: 'chip' },
          h('span', { text: label }),
          h('button', {
            type: 'button',
            'aria-label': `Remove ${label}`,
            text: '×',
            onclick: () => this.update({ labels: this.state.labels.filter((chosen) => chosen !== label) }),
          }),
        ),
      ),
    );
    const radio = document.querySelector<HTMLInputElement>(`input[name=match][value=${this.state.match}]`);
    if (radio) radio.checked = true;
    this.slider.value = String(this.state.minScore);
    this.sliderValue.textContent = formatPercent(this.state.minScore);
  }
}
