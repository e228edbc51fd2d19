/**
 * DATA_DIR/quarantine/ (the filesystem store's; s3-quarantine.ts keeps the same layout under the
 * bucket's prefix): where stored files that no row points to go instead of being deleted.
 * "No row points to it" is only as true as the database that was asked, so such a file is kept
 * for a while where an operator can find it and move it back.
 *
 * Each run (`startRun`) has one folder, `quarantine/<UTC time>-<random>/`, and keeps each
 * file's path below it (`quarantine/<run>/masks/<imageId>/<name>.png`): moving it up to DATA_DIR
 * puts it back. A quarantined file's modification time is set to when it arrived; `purge` deletes
 * the files that arrived longer ago than the retention (SEGCAT_QUARANTINE_DAYS). Nothing here is
 * ever served: /files serves only the store's own folders.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { QuarantineRun, QuarantineStore } from './file-store.js';

/** The quarantine folder, relative to DATA_DIR (or the bucket's prefix). */
export const QUARANTINE_DIR = 'quarantine';

/** A new run folder's name: `<UTC time>-<random>`. */
export function quarantineRunName(): string {
  return `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
}

/** Moves files into DATA_DIR/quarantine/ and deletes them after their retention. */
export class Quarantine implements QuarantineStore {
  constructor(private readonly root: string) {}

  /** Starts a run, whose files go into a new run folder (made with the first of them). */
  startRun(): QuarantineRun {
    const run = quarantineRunName();
    return {
      move: async (relativePath) => {
        const source = path.join(this.root, relativePath);
        // Stamped before the move, so that a crash in between cannot leave an old stamp in quarantine.
        const now = new Date();
        if (!(await fs.utimes(source, now, now).then(() => true, () => false))) return false;
        return moveFile(source, path.join(this.root, QUARANTINE_DIR, run, relativePath));
      },
    };
  }

  /** Deletes quarantined files that arrived more than `olderThanMs` ago, then empty folders; returns how many files. */
  async purge(olderThanMs: number): Promise<number> {
    const base = path.join(this.root, QUARANTINE_DIR);
    const entries = await fs.readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    let purged = 0;
    for (const entry of entries.filter((e) => !e.isDirectory())) {
      const file = path.join(entry.parentPath, entry.name);
      const stat = await fs.lstat(file).catch(() => undefined);
      if (!stat || Date.now() - stat.mtimeMs < olderThanMs) continue;
      await fs.rm(file, { force: true });
      purged += 1;
    }
    const folders = entries.filter((e) => e.isDirectory()).map((e) => path.join(e.parentPath, e.name));
    // Deepest first; a folder that is not empty (or another process is filling) stays.
    for (const folder of folders.sort((a, b) => b.length - a.length)) await fs.rmdir(folder).catch(() => undefined);
    return purged;
  }
}

/**
 * Renames `source` to `target`, making its folder; false when the source is gone. A folder that a
 * concurrent purge removed between mkdir and rename is made again once.
 */
async function moveFile(source: string, target: string): Promise<boolean> {
  for (let attempt = 1; ; attempt += 1) {
    await fs.mkdir(path.dirname(target), { recursive: true });
    try {
      await fs.rename(source, target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (!(await fs.access(source).then(() => true, () => false))) return false;
      if (attempt === 2) throw error;
    }
  }
}
