/**
 * DATA_DIR/tmp: files in flight on the local disk, whichever backend keeps the stored files.
 * Uploads are received here (hashed on the way, size-capped) and checked before they are stored;
 * multipart request bodies are spooled here; exports are assembled here before an upload to S3.
 * Whatever a crash leaves here is removed at start.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { receiveToTemp, type TempFile } from './atomic-write.js';
import { readHead } from './local-files.js';

/** The local folder of files in flight. */
export class LocalSpool {
  /** Absolute path of the folder. */
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = path.join(path.resolve(dataDir), 'tmp');
  }

  /** Creates the folder. */
  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
  }

  /** Streams `source` into a new temporary file, hashing it, and stops as soon as it passes `maxBytes`. */
  receive(source: Readable, maxBytes: number): Promise<TempFile> {
    return receiveToTemp(source, this.dir, maxBytes);
  }

  /** The first `bytes` bytes of a temporary file (fewer if it is shorter). */
  readHead(temp: TempFile, bytes: number): Promise<Buffer> {
    return readHead(temp.path, Math.min(bytes, temp.bytes));
  }

  /** Removes a temporary file (or folder); a missing one is fine. */
  async discard(temp: TempFile | string): Promise<void> {
    await fs.rm(typeof temp === 'string' ? temp : temp.path, { force: true, recursive: true });
  }

  /**
   * Removes what the folder holds, and the other files given (absolute paths), that were last
   * written more than `olderThanMs` ago (everything, without it); returns how many.
   */
  async removeStale(olderThanMs: number | undefined, others: readonly string[] = []): Promise<number> {
    const candidates = [...(await fs.readdir(this.dir)).map((entry) => path.join(this.dir, entry)), ...others];
    let removed = 0;
    for (const file of candidates) {
      if (!(await isStale(file, olderThanMs))) continue;
      await fs.rm(file, { force: true, recursive: true });
      removed += 1;
    }
    return removed;
  }
}

/** Whether a file was last written more than `olderThanMs` ago (always, without a threshold). */
async function isStale(file: string, olderThanMs: number | undefined): Promise<boolean> {
  if (olderThanMs === undefined) return true;
  const stat = await fs.stat(file).catch(() => undefined);
  return stat !== undefined && Date.now() - stat.mtimeMs >= olderThanMs;
}
