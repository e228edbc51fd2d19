/**
 * Copying a catalogue's stored files from one store to another (`segcat storage migrate`): DATA_DIR
 * to a bucket, or back. Every file is verified by sha256 after it is written: its copy is read
 * back and hashed. A run can be interrupted and started again: a file already at the destination
 * with the same sha256 is left as it is, and each write is whole or absent (a PUT, or a rename),
 * so a second run copies only what the first did not finish. The catalogue marker is copied last,
 * once every file is across, and a destination that belongs to another catalogue is refused.
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import { CATALOGUE_MARKER, CatalogueMismatchError, readMarker } from './catalogue-identity.js';
import type { FileStore, StoredEntry } from './file-store.js';
import { SERVED_ROOTS } from './layout.js';
import { settleAll } from './parallel.js';

/** What happened to one file. */
export type MigratedAction = 'copied' | 'present' | 'failed';

/** Options of a migration. */
export interface MigrateOptions {
  /** Files copied at once. */
  concurrency?: number;
  /** Hears of each file as it is done (`error` when it failed). */
  onFile?: (entry: StoredEntry, action: MigratedAction, error?: string) => void;
  /** Stops the migration between files. */
  signal?: AbortSignal;
}

/** What a migration did. */
export interface MigrationReport {
  /** Stored files found at the source (originals, thumbnails, masks, cut-outs, overlays, exports). */
  files: number;
  /** Copied and verified. */
  copied: number;
  /** At the destination already, with the same sha256. */
  present: number;
  /** Bytes copied. */
  bytes: number;
  /** Files that could not be copied, one line each; run again to retry them. */
  failures: string[];
  /** The catalogue id the marker carried across, if the source had one. */
  catalogueId: string | undefined;
}

const DEFAULT_CONCURRENCY = 4;

/** Copies every stored file (and then the catalogue marker) from `source` to `target`, verifying each by sha256. */
export async function migrateFiles(source: FileStore, target: FileStore, options: MigrateOptions = {}): Promise<MigrationReport> {
  const catalogueId = await readMarker(source);
  const targetId = await readMarker(target);
  if (targetId && targetId !== catalogueId) {
    throw new CatalogueMismatchError(
      `${target.location} belongs to catalogue ${targetId}, but ${source.location} ${catalogueId ? `is catalogue ${catalogueId}` : 'has no catalogue id'}: ` +
        `migrate into an empty place (a new ${target.locationSettings})`,
    );
  }
  const report: MigrationReport = { files: 0, copied: 0, present: 0, bytes: 0, failures: [], catalogueId };
  for (const root of SERVED_ROOTS) {
    for await (const page of source.list(root)) {
      options.signal?.throwIfAborted();
      report.files += page.length;
      await settleAll(page, options.concurrency ?? DEFAULT_CONCURRENCY, async (entry) => {
        try {
          const action = await migrateFile(source, target, entry);
          if (action === 'copied') {
            report.copied += 1;
            report.bytes += entry.bytes;
          } else {
            report.present += 1;
          }
          options.onFile?.(entry, action);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          report.failures.push(`${entry.path}: ${reason}`);
          options.onFile?.(entry, 'failed', reason);
        }
      });
    }
  }
  // Last: a destination with every file but no marker yet is adopted by start-up all the same.
  if (catalogueId && report.failures.length === 0 && !targetId) await target.write(CATALOGUE_MARKER, await source.read(CATALOGUE_MARKER));
  return report;
}

/** Copies one file unless the destination has it already, then reads the copy back and compares sha256. */
async function migrateFile(source: FileStore, target: FileStore, entry: StoredEntry): Promise<'copied' | 'present'> {
  const [sourceInfo, targetInfo] = await Promise.all([source.stat(entry.path), target.stat(entry.path)]);
  if (!sourceInfo) throw new Error('it was removed from the source during the migration');
  const expected = sourceInfo.sha256 ?? (await hashOf(await source.readStream(entry.path)));
  if (targetInfo && targetInfo.bytes === sourceInfo.bytes) {
    const present = targetInfo.sha256 ?? (await hashOf(await target.readStream(entry.path)));
    if (present === expected) return 'present';
  }
  const sent = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent.update(chunk);
      callback(null, chunk);
    },
  });
  // A failure reading the source destroys `hashing` too, which fails the write.
  const body = pipeline(await source.readStream(entry.path), hashing, () => undefined);
  await target.writeStream(entry.path, body, { sha256: expected });
  const copied = await hashOf(await target.readStream(entry.path));
  if (sent.digest('hex') !== expected || copied !== expected) {
    await target.remove([entry.path]);
    throw new Error(`sha256 differs after copying (expected ${expected}, read back ${copied}): it changed at the source meanwhile, or the destination altered it`);
  }
  return 'copied';
}

/** The sha256 of a stream's bytes, in hex. */
async function hashOf(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
