/**
 * Uploads: files dropped on the page or picked, each sent in its own request with its own progress
 * bar, then followed through the server's queue (PENDING → PROCESSING → DONE or FAILED).
 */
import { ApiError, fetchImage, uploadImage, type ImageDetail } from './api.js';
import { h, required } from './dom.js';
import { describeQueueState, isSettled, uploadPercent, type QueueState } from './format.js';

/** Files sent at once; more would only split the same bandwidth. */
const PARALLEL_UPLOADS = 2;
/** How often a queued image's status is asked for. */
const POLL_MS = 1000;

interface Entry {
  file: File;
  state: QueueState;
  row: HTMLLIElement;
}

/** The upload area and its queue, wired to the page's markup. */
export class UploadQueue {
  private readonly list = required<HTMLUListElement>('#queue');
  private readonly clear = required<HTMLButtonElement>('#clear-queue');
  private readonly waiting: Entry[] = [];
  private entries: Entry[] = [];
  private running = 0;

  /**
   * @param onSettled called when an image is DONE or FAILED (to refresh the grid)
   * @param onApiError called with server errors (to ask for an API key)
   */
  constructor(
    private readonly onSettled: (image: ImageDetail) => void,
    private readonly onApiError: (error: ApiError) => void,
  ) {
    const input = required<HTMLInputElement>('#file-input');
    input.addEventListener('change', () => {
      this.add([...(input.files ?? [])]);
      input.value = '';
    });
    this.clear.addEventListener('click', () => {
      for (const entry of this.entries.filter((candidate) => isSettled(candidate.state))) entry.row.remove();
      this.entries = this.entries.filter((entry) => !isSettled(entry.state));
      this.clear.hidden = true;
    });
    const drop = required<HTMLDivElement>('#drop');
    // The whole page takes drops, so nobody has to aim; the drop zone shows that it will.
    document.addEventListener('dragover', (event) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      drop.classList.add('dragging');
    });
    document.addEventListener('dragleave', (event) => {
      if (event.relatedTarget === null) drop.classList.remove('dragging');
    });
    document.addEventListener('drop', (event) => {
      drop.classList.remove('dragging');
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.add([...event.dataTransfer.files]);
    });
  }

  /** Queues files for upload. */
  add(files: File[]): void {
    for (const file of files) {
      const entry: Entry = { file, state: { kind: 'waiting' }, row: h('li', { className: 'queue-item' }) };
      this.list.prepend(entry.row);
      this.render(entry);
      this.waiting.push(entry);
      this.entries.push(entry);
    }
    this.pump();
  }

  private pump(): void {
    while (this.running < PARALLEL_UPLOADS && this.waiting.length > 0) {
      const entry = this.waiting.shift()!;
      this.running += 1;
      void this.send(entry).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  private async send(entry: Entry): Promise<void> {
    this.set(entry, { kind: 'uploading', loaded: 0, total: entry.file.size });
    try {
      const { image, duplicate } = await uploadImage(entry.file, (loaded, total) => this.set(entry, { kind: 'uploading', loaded, total }));
      this.follow(entry, image, duplicate);
    } catch (error) {
      this.set(entry, { kind: 'rejected', reason: error instanceof Error ? error.message : 'unknown error' });
      if (error instanceof ApiError) this.onApiError(error);
    }
  }

  /** Polls an uploaded image until the queue is done with it; the upload slot is free meanwhile. */
  private follow(entry: Entry, image: ImageDetail, duplicate: boolean): void {
    const settle = (current: ImageDetail): boolean => {
      if (current.status === 'DONE') this.set(entry, { kind: 'done', duplicate, segmentCount: current.segments.length });
      else if (current.status === 'FAILED') this.set(entry, { kind: 'failed', duplicate, reason: current.error ?? 'no reason given' });
      else this.set(entry, { kind: 'queued', status: current.status, duplicate });
      if (isSettled(entry.state)) this.onSettled(current);
      return isSettled(entry.state);
    };
    if (settle(image)) return;
    const poll = async (): Promise<void> => {
      try {
        const current = await fetchImage(image.id);
        if (!current) return this.set(entry, { kind: 'rejected', reason: 'the image was deleted' });
        if (settle(current)) return;
      } catch {
        // A failed poll (server restarting, network blip) is retried on the next tick.
      }
      window.setTimeout(() => void poll(), POLL_MS);
    };
    window.setTimeout(() => void poll(), POLL_MS);
  }

  private set(entry: Entry, state: QueueState): void {
    entry.state = state;
    this.render(entry);
    if (isSettled(state)) this.clear.hidden = false;
  }

  private render({ file, state, row }: Entry): void {
    const percent = uploadPercent(state);
    const progress = h('progress', { max: 100, 'aria-label': `Upload of ${file.name}` });
    if (percent !== undefined) progress.value = percent;
    row.dataset.state = state.kind;
    if ('duplicate' in state && state.duplicate) row.dataset.duplicate = 'true';
    row.replaceChildren(
      h('span', { className: 'queue-name', text: file.name }),
      progress,
      h('span', { className: 'queue-status', text: describeQueueState(state) }),
    );
  }
}
