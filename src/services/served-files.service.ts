/**
 * What the HTTP routes may send from DATA_DIR: a stored file while a row points to it (/files),
 * an image's overlay picture (/overlays), and where multipart uploads are spooled meanwhile.
 */
import type { FileStore } from '../storage/file-store.js';
import { isContentAddressed, isRecorded, ownerOf, type FileOwner } from '../storage/layout.js';
import type { ExtractionService } from './extraction.service.js';

/** A file to send. */
export interface ServedFile {
  absolutePath: string;
  contentType: string;
  /** Named after its bytes (originals, thumbnails), so it never changes while it exists. */
  contentAddressed: boolean;
}

/** Dependencies of the served-files service. */
export interface ServedFilesDeps {
  store: FileStore;
  /** Whether a row points to this stored file (one lookup by its owner's key). */
  isReferenced: (relativePath: string, owner: FileOwner) => Promise<boolean>;
  extraction: Pick<ExtractionService, 'overlay'>;
}

/** Finds the files the HTTP routes send. */
export class ServedFilesService {
  constructor(private readonly deps: ServedFilesDeps) {}

  /**
   * The stored file at a path below /files/ (already URL-decoded), or undefined when there is none
   * to serve: a path the store did not write, or a file no row points to any more (its image or
   * segment was deleted) or yet (its writer has not recorded it). An export has no row: it is
   * served while it exists.
   */
  async storedFile(relativePath: string): Promise<ServedFile | undefined> {
    const owner = ownerOf(relativePath);
    const file = owner && (await this.deps.store.resolveServed(relativePath));
    if (!file || (isRecorded(owner) && !(await this.deps.isReferenced(relativePath, owner)))) return undefined;
    return { ...file, contentAddressed: isContentAddressed(owner) };
  }

  /** An image's overlay picture, drawn on first request (see ExtractionService.overlay). */
  async overlay(imageId: string): Promise<ServedFile> {
    const relativePath = await this.deps.extraction.overlay(imageId);
    return { absolutePath: this.deps.store.absolute(relativePath), contentType: 'image/jpeg', contentAddressed: false };
  }

  /** Where multipart uploads are spooled while they arrive (DATA_DIR/tmp, emptied on start). */
  spoolDir(): string {
    return this.deps.store.tmpDir();
  }
}
