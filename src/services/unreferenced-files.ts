/**
 * Files → rows: the stored files no row points to, and moving them into DATA_DIR/quarantine/
 * (for `segcat check --repair` and start-up reconciliation; see maintenance.service.ts).
 *
 * With DATABASE_URL other servers may be between writing a file and recording its row, so a file
 * counts only once it is older than `olderThanMs` (SEGCAT_STALE_MINUTES), and each is checked
 * again just before it is moved.
 */
import type { CatalogueRepository } from '../db/catalogue.repository.js';
import type { ImageReadRepository } from '../db/image-read.repository.js';
import type { ImageWriteRepository } from '../db/image-write.repository.js';
import type { FileStore } from '../storage/file-store.js';
import { isContentAddressed, ownerOf } from '../storage/layout.js';

/** What finding and quarantining unreferenced files needs. */
export interface UnreferencedFilesDeps {
  images: Pick<ImageReadRepository, 'findByIds' | 'referencesFile'>;
  imageWrites: Pick<ImageWriteRepository, 'withContentLock'>;
  catalogue: Pick<CatalogueRepository, 'referencedFiles'>;
  store: FileStore;
}

/** Finds and quarantines stored files that no row points to. */
export class UnreferencedFiles {
  constructor(private readonly deps: UnreferencedFilesDeps) {}

  /**
   * Stored files no row points to (an overlay belongs to its image while that exists). With
   * `olderThanMs`, files younger than that are only counted as `recent`.
   */
  async find(olderThanMs?: number): Promise<{ stored: number; unreferenced: string[]; recent: number }> {
    const { store, images, catalogue } = this.deps;
    // Listed before the rows are read: a file recorded in between is then seen as referenced.
    const stored = await store.listStoredFiles();
    const referenced = await catalogue.referencedFiles();
    const candidates = stored.filter((file) => !referenced.has(file));
    const owners = candidates.map((file) => ownerOf(file));
    const overlayOwners = [...new Set(owners.filter((owner) => owner?.root === 'overlays').map((owner) => owner!.key))];
    const existing = new Set<string>();
    for (let start = 0; start < overlayOwners.length; start += 1000) {
      for (const image of await images.findByIds(overlayOwners.slice(start, start + 1000))) if (image) existing.add(image.id);
    }
    const unreferenced: string[] = [];
    let recent = 0;
    for (const [index, file] of candidates.entries()) {
      const owner = owners[index];
      if (owner?.root === 'overlays' && existing.has(owner.key)) continue;
      const modified = await store.modifiedAt(file);
      if (modified === undefined) continue;
      if (isRecent(modified, olderThanMs)) recent += 1;
      else unreferenced.push(file);
    }
    return { stored: stored.length, unreferenced, recent };
  }

  /**
   * Quarantines files, each checked again just before it is moved: one written meanwhile, or that
   * a row points to by now, stays. An original or thumbnail is checked and moved under its content
   * lock, so an upload of its bytes cannot record a row for it in between.
   */
  async quarantine(files: string[], olderThanMs?: number): Promise<number> {
    const { store, images, imageWrites } = this.deps;
    const run = store.quarantine.startRun();
    let moved = 0;
    for (const file of files) {
      const owner = ownerOf(file);
      const moveIfUnreferenced = async () => {
        const modified = await store.modifiedAt(file);
        if (modified === undefined || isRecent(modified, olderThanMs)) return false;
        if (owner && (await images.referencesFile(file, owner))) return false;
        return run.move(file);
      };
      const wasMoved = owner && isContentAddressed(owner) ? await imageWrites.withContentLock(owner.key, moveIfUnreferenced) : await moveIfUnreferenced();
      if (wasMoved) moved += 1;
    }
    return moved;
  }
}

function isRecent(modifiedMs: number, olderThanMs: number | undefined): boolean {
  return olderThanMs !== undefined && Date.now() - modifiedMs < olderThanMs;
}
