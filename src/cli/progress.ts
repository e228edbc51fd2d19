/**
 * Progress display for long commands: a live bar on a terminal, plain lines (at most one every few
 * seconds) when the output is a file or a pipe.
 */
import type { ImportProgress } from '../services/import.service.js';

/** What a progress line shows. */
export type ProgressCounts = Pick<ImportProgress, 'total' | 'done' | 'failed'>;

const BAR_WIDTH = 28;
const PLAIN_INTERVAL_MS = 5000;

/** Formats seconds as m:ss (or h:mm:ss). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const [h, m, r] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(r).padStart(2, '0')}`;
}

/** One line describing progress: bar (when wanted), counts, rate, ETA and failures. */
export function progressLine(progress: ProgressCounts, elapsedMs: number, bar: boolean): string {
  const rate = progress.done / Math.max(elapsedMs / 1000, 0.001);
  const remaining = progress.total - progress.done;
  const eta = rate > 0 ? remaining / rate : Number.POSITIVE_INFINITY;
  const share = progress.total === 0 ? 1 : progress.done / progress.total;
  const filled = Math.round(share * BAR_WIDTH);
  const parts = [
    bar ? `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]` : '',
    `${progress.done}/${progress.total}`,
    `${rate.toFixed(1)} img/s`,
    `ETA ${formatDuration(eta)}`,
    progress.failed > 0 ? `${progress.failed} failed` : '',
  ];
  return parts.filter(Boolean).join('  ');
}

/** A progress reporter writing to a stream; call `finish()` once done. */
export function createProgressReporter(stream: NodeJS.WriteStream) {
  const started = performance.now();
  const live = stream.isTTY === true;
  let lastPlain = 0;
  let last: ProgressCounts | undefined;
  return {
    update(progress: ProgressCounts) {
      last = progress;
      const elapsed = performance.now() - started;
      if (live) {
        stream.write(`\r\x1b[2K${progressLine(progress, elapsed, true)}`);
      } else if (elapsed - lastPlain >= PLAIN_INTERVAL_MS || progress.done === progress.total) {
        lastPlain = elapsed;
        stream.write(`${progressLine(progress, elapsed, false)}\n`);
      }
    },
    finish() {
      if (live && last) stream.write('\n');
    },
  };
}
