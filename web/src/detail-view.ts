/**
 * The detail dialog: the picture with its segments. Each segment's mask (a white-on-black PNG the
 * size of the picture) tints the picture through CSS `mask-image` in luminance mode, so no pixels
 * are read in script. Cut-outs are made on demand and offered as downloads.
 */
import { ApiError, cutOut, fetchImage, type ImageCard, type ImageDetail, type SegmentView } from './api.js';
import { h, required } from './dom.js';
import { cutoutFileName } from './format.js';
import { formatPercent } from './search-terms.js';

/** Tints that stay apart on most photos; segments beyond them reuse the cycle. */
const TINTS = ['#ff3b30', '#34c759', '#0a84ff', '#ffcc00', '#af52de', '#ff9500', '#5ac8fa', '#ff2d55'];

/** The detail dialog, wired to the page's markup. */
export class DetailView {
  private readonly dialog = required<HTMLDialogElement>('#detail');
  private layers: HTMLElement[] = [];
  /** The segment picked with a click or Enter; hovering shows another one only while it lasts. */
  private selected: number | undefined;
  private showAll = false;
  private trigger: HTMLElement | undefined;
  /** Guards against a slow answer for an image the user has already left. */
  private openId: string | undefined;

  constructor(private readonly onApiError: (error: ApiError) => void) {
    this.dialog.addEventListener('close', () => {
      // The grid may have been redrawn meanwhile (an upload finished); then focus the new card.
      const card = this.openId ? document.querySelector<HTMLElement>(`#grid [data-image-id="${this.openId}"]`) : null;
      (this.trigger?.isConnected ? this.trigger : card)?.focus();
      this.openId = undefined;
    });
    // A click on the backdrop (the dialog element itself, outside its content) closes it.
    this.dialog.addEventListener('click', (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
  }

  /** Opens the dialog for an image; focus returns to `trigger` when it closes. */
  async open(card: ImageCard, trigger?: HTMLElement): Promise<void> {
    this.trigger = trigger;
    this.openId = card.id;
    this.selected = undefined;
    this.showAll = false;
    this.layers = [];
    this.dialog.replaceChildren(this.header(card.filename), h('p', { className: 'detail-status', role: 'status', text: 'Loading segments…' }));
    if (!this.dialog.open) this.dialog.showModal();
    try {
      const image = await fetchImage(card.id);
      if (this.openId !== card.id) return;
      if (!image) return this.say('This image is no longer in the catalogue.');
      this.render(image);
    } catch (error) {
      if (this.openId !== card.id) return;
      this.say(`Could not load this image: ${error instanceof Error ? error.message : 'unknown error'}.`);
    }
  }

  private say(text: string): void {
    required('.detail-status', this.dialog).textContent = text;
  }

  private header(filename: string): HTMLElement {
    return h(
      'header',
      { className: 'detail-header' },
      h('h2', { id: 'detail-title', text: filename }),
      h('button', { type: 'button', className: 'close', 'aria-label': 'Close', text: '×', onclick: () => this.dialog.close() }),
    );
  }

  private render(image: ImageDetail): void {
    this.layers = image.segments.map((segment, index) =>
      h('div', { className: 'mask-layer', style: `--tint: ${TINTS[index % TINTS.length]}; mask-image: url("${segment.maskUrl}")` }),
    );
    const picture = h(
      'figure',
      { className: 'picture' },
      h('div', { className: 'frame', style: `aspect-ratio: ${image.width} / ${image.height}` },
        h('img', { src: image.url, alt: image.filename, width: image.width, height: image.height }),
        ...this.layers,
      ),
      h('figcaption', { text: `${image.width} × ${image.height} px · ${image.status.toLowerCase()}` }),
    );
    const toggle = h('input', { type: 'checkbox', id: 'all-masks' });
    toggle.addEventListener('change', () => {
      this.showAll = toggle.checked;
      this.paint();
    });
    const list = h('ol', { className: 'segments', 'aria-label': 'Segments' }, ...image.segments.map((segment, index) => this.segmentRow(image, segment, index)));
    const side = h(
      'div',
      { className: 'side' },
      image.status === 'FAILED' && h('p', { className: 'error', role: 'alert', text: `Segmentation failed: ${image.error ?? 'no reason given'}` }),
      image.status === 'PENDING' || image.status === 'PROCESSING' ? h('p', { className: 'detail-status', text: 'Not segmented yet; reopen it in a moment.' }) : false,
      image.segments.length > 0
        ? h('label', { className: 'toggle' }, toggle, ' Show all masks')
        : image.status === 'DONE' && h('p', { className: 'detail-status', text: 'No objects were found in this picture.' }),
      list,
    );
    this.dialog.replaceChildren(this.header(image.filename), h('div', { className: 'detail-body' }, picture, side));
  }

  private segmentRow(image: ImageDetail, segment: SegmentView, index: number): HTMLLIElement {
    const tint = TINTS[index % TINTS.length]!;
    const name = `${segment.label} ${formatPercent(segment.score)}`;
    const pick = h(
      'button',
      { type: 'button', className: 'segment-pick', 'aria-pressed': 'false', 'data-index': index },
      h('span', { className: 'swatch', style: `background: ${tint}`, 'aria-hidden': 'true' }),
      h('span', { className: 'segment-label', text: segment.label }),
      h('span', { className: 'segment-score', text: formatPercent(segment.score) }),
    );
    pick.addEventListener('click', () => {
      this.selected = this.selected === index ? undefined : index;
      this.paint();
    });
    const result = h('div', { className: 'cutout', 'aria-live': 'polite' });
    const cut = h('button', { type: 'button', className: 'cut', 'aria-label': `Cut out ${name}`, text: 'Cut out' });
    cut.addEventListener('click', () => void this.cut(image, segment, cut, result));
    const row = h(
      'li',
      { className: 'segment' },
      h('div', { className: 'segment-line' }, pick, cut),
      h('details', { className: 'mask-preview' },
        h('summary', { text: 'Mask' }),
        h('img', { src: segment.maskUrl, alt: `Mask of ${name}`, loading: 'lazy' }),
      ),
      result,
    );
    // Hover and focus preview a mask without changing the selection.
    for (const [event, on] of [['mouseenter', true], ['mouseleave', false], ['focusin', true], ['focusout', false]] as const) {
      row.addEventListener(event, () => this.paint(on ? index : undefined));
    }
    return row;
  }

  private async cut(image: ImageDetail, segment: SegmentView, button: HTMLButtonElement, result: HTMLElement): Promise<void> {
    button.disabled = true;
    result.replaceChildren(h('p', { className: 'detail-status', text: 'Cutting out…' }));
    try {
      const cutout = await cutOut(segment.id);
      const fileName = cutoutFileName(image.filename, segment.label, segment.score);
      result.replaceChildren(
        h('img', { className: 'checker', src: cutout.url, alt: `Cut-out of ${segment.label}`, width: cutout.width, height: cutout.height }),
        h('a', { className: 'button', href: cutout.url, download: fileName, text: `Download PNG (${cutout.width} × ${cutout.height})` }),
      );
    } catch (error) {
      result.replaceChildren(h('p', { className: 'error', role: 'alert', text: `Could not cut it out: ${error instanceof Error ? error.message : 'unknown error'}` }));
      if (error instanceof ApiError) this.onApiError(error);
    } finally {
      button.disabled = false;
    }
  }

  /** Shows the masks that should be visible: all, the selected one, and the one under the pointer. */
  private paint(hovered?: number): void {
    this.layers.forEach((layer, index) => layer.classList.toggle('on', this.showAll || index === this.selected || index === hovered));
    this.dialog.querySelectorAll<HTMLButtonElement>('.segment-pick').forEach((button) => {
      button.setAttribute('aria-pressed', String(Number(button.dataset.index) === this.selected));
    });
  }
}
