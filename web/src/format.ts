/**
 * Pure text for the upload queue and cut-outs.
 */
import { formatPercent } from './search-terms.js';

/** Where one file of the upload queue is. */
export type QueueState =
  | { kind: 'waiting' }
  | { kind: 'uploading'; loaded: number; total: number }
  | { kind: 'queued'; status: 'PENDING' | 'PROCESSING'; duplicate: boolean }
  | { kind: 'done'; duplicate: boolean; segmentCount: number }
  | { kind: 'failed'; reason: string; duplicate: boolean }
  | { kind: 'rejected'; reason: string };

/** Upload progress in percent, or undefined while the size is not known. */
export function uploadPercent(state: QueueState): number | undefined {
  if (state.kind === 'waiting') return 0;
  if (state.kind === 'uploading') return state.total > 0 ? Math.min(100, Math.round((state.loaded / state.total) * 100)) : undefined;
  return 100;
}

/** What a queue entry says about its file. */
export function describeQueueState(state: QueueState): string {
  const again = 'duplicate' in state && state.duplicate ? ' (duplicate: already in the catalogue)' : '';
  switch (state.kind) {
    case 'waiting':
      return 'Waiting to upload';
    case 'uploading':
      return `Uploading ${formatBytes(state.loaded)} of ${formatBytes(state.total)}`;
    case 'queued':
      return (state.status === 'PENDING' ? 'Queued for segmentation' : 'Segmenting') + again;
    case 'done':
      return `Done: ${state.segmentCount} ${state.segmentCount === 1 ? 'object' : 'objects'} found${again}`;
    case 'failed':
      return `Failed: ${state.reason}${again}`;
    case 'rejected':
      return `Rejected: ${state.reason}`;
  }
}

/** Whether nothing more will happen to a queue entry. */
export function isSettled(state: QueueState): boolean {
  return state.kind === 'done' || state.kind === 'failed' || state.kind === 'rejected';
}

/** A byte count for people, e.g. "1.4 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** File name offered for a cut-out: the picture's root, the class and the score, e.g. "dog-bicycle-87.png". */
export function cutoutFileName(imageFilename: string, label: string, score: number, extension = 'png'): string {
  const root = imageFilename.replace(/\.[^.]+$/, '').replace(/[^\w-]+/g, '_') || 'image';
  return `${root}-${label.replace(/\s+/g, '_')}-${formatPercent(score).replace('%', '')}.${extension}`;
}
