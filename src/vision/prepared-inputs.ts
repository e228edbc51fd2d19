/**
 * Model inputs made while an image was checked on the way in, held until its segmentation job
 * asks for them, so that an image is decoded once rather than twice when the job runs in the
 * same process soon after. It is only a shortcut: a job that finds nothing here decodes the file.
 *
 * The store is small and refuses new entries when full rather than evicting old ones. Jobs run
 * roughly in the order images arrive, so the oldest entries are the next to be used; an
 * entry nobody claims (the image was a duplicate, was deleted, or went to another worker) expires.
 */
import type { LetterboxedImage } from './raster.js';

/** Limits of a PreparedInputs store. */
export interface PreparedInputsOptions {
  /** Entries held at most (each is one model input: 640×480×3 bytes, about 0.9 MB). */
  capacity: number;
  /** Entries older than this are dropped unused. */
  maxAgeMs: number;
}

/** Letterboxed inputs by key (an image's sha256), each taken at most once. */
export class PreparedInputs {
  private readonly entries = new Map<string, { input: LetterboxedImage; at: number }>();

  constructor(private readonly options: PreparedInputsOptions) {}

  /** Holds `input` under `key`; false when the store is full (the job will decode instead). */
  put(key: string, input: LetterboxedImage, now = Date.now()): boolean {
    for (const [oldKey, entry] of this.entries) {
      if (now - entry.at <= this.options.maxAgeMs) break; // insertion order: the rest are younger
      this.entries.delete(oldKey);
    }
    if (this.entries.size >= this.options.capacity && !this.entries.has(key)) return false;
    this.entries.delete(key);
    this.entries.set(key, { input, at: now });
    return true;
  }

  /** Removes and returns the input held under `key`, if it is still there and fresh. */
  take(key: string, now = Date.now()): LetterboxedImage | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    return now - entry.at <= this.options.maxAgeMs ? entry.input : undefined;
  }

  /** Entries held now. */
  get size(): number {
    return this.entries.size;
  }
}
