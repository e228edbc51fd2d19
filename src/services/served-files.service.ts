/**
 * What the HTTP routes may send from the file store: a stored file while a row points to it
 * (/files), an image's overlay picture (/overlays), presigned URLs to the bucket (S3_PRESIGN), and
 * where multipart uploads are spooled meanwhile.
 */
import type { FileStore, ServedSource } from '../storage/file-store.js';
import { isContentAddressed, isRecorded, ownerOf, servedContentType, type FileOwner } from '../storage/layout.js';
import { NotFoundError } from './errors.js';
import type { ExtractionService } from './extraction.service.js';

/** A file to send. */
export interface ServedFile {
  /** Where its bytes are: a local file, or an object to open. */
  source: ServedSource;
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
    const contentType = owner && servedContentType(relativePath);
    const source = contentType && (await this.deps.store.served(relativePath));
    if (!source || (isRecorded(owner) && !(await this.deps.isReferenced(relativePath, owner)))) return undefined;
    return { source, contentType, contentAddressed: isContentAddressed(owner) };
  }

  /** An image's overlay picture, drawn on first request (see ExtractionService.overlay). */
  async overlay(imageId: string): Promise<ServedFile> {
    const relativePath = await this.deps.extraction.overlay(imageId);
    const source = await this.deps.store.served(relativePath);
    if (!source) throw new NotFoundError('image', imageId);
    return { source, contentType: 'image/jpeg', contentAddressed: false };
  }

  /**
   * A presigned GET URL to a stored file in the bucket, valid for S3_PRESIGN_EXPIRES_SECONDS; undefined
   * unless S3_PRESIGN is on. Hand it only to a caller who may read the catalogue.
   */
  presignedUrl(relativePath: string): Promise<string | undefined> {
    return this.deps.store.presignedUrl(relativePath);
  }

  /** Where multipart uploads are spooled while they arrive (DATA_DIR/tmp, emptied on start). */
  spoolDir(): string {
    return this.deps.store.tmpDir();
  }
}
