/** Builds the file store STORAGE asks for (see file-store.ts). */
import type { Config } from '../config.js';
import type { FileStore } from './file-store.js';
import { LocalFileStore } from './local-file-store.js';
import { S3FileStore, type S3StoreOptions } from './s3-file-store.js';

/** The configured store: the filesystem under DATA_DIR, or the S3 bucket. Nothing is touched until its `init`. */
export function openFileStore(config: Config, s3Options?: S3StoreOptions): FileStore {
  if (config.storage === 'fs') return new LocalFileStore(config.dataDir);
  // loadConfig refuses STORAGE=s3 without S3_BUCKET.
  return new S3FileStore(config.s3!, config.dataDir, s3Options);
}
