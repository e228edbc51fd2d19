/**
 * What the rest of segcat hands to, or calls on, the metrics (./metrics.ts): small types with no
 * Prometheus in them, so services, storage and the database layer report without depending on
 * prom-client.
 */
import type pg from 'pg';

/** The stages of one segmentation, as `segcat_segmentation_stage_seconds` names them. */
export const SEGMENTATION_STAGES = ['decode', 'model', 'post', 'files', 'database'] as const;

/** A stage of a segmentation: decode (and letterbox), model run, post-processing, mask files, database. */
export type SegmentationStage = (typeof SEGMENTATION_STAGES)[number];

/** Hears how long each stage of a recorded segmentation took (the segmentation service calls it). */
export interface SegmentationObserver {
  /** One image segmented and recorded: milliseconds per stage. */
  segmented(milliseconds: Record<SegmentationStage, number>): void;
}

/** Requests an object-storage backend makes, as `segcat_storage_request_errors_total` names them. */
export type StorageOperation = 'put' | 'get' | 'head' | 'delete' | 'list' | 'copy' | 'multipart';

/** Hears the failures of an object-storage backend (S3). */
export interface StorageObserver {
  /**
   * A request to the object store failed. `code` is the store's error code (`NoSuchKey`,
   * `SlowDown`, `AccessDenied`…) or, for a network failure, the socket's (`ECONNRESET`); codes are
   * a bounded label: past a few dozen distinct ones, or when malformed, they count as `(other)`.
   */
  storageRequestFailed(operation: StorageOperation, code: string): void;
}

/** The use of one connection pool right now. */
export interface PoolUsage {
  /** Open connections, idle or in use. */
  total: number;
  /** Open connections nobody is using. */
  idle: number;
  /** Callers waiting for a connection because all `max` are in use. */
  waiting: number;
  /** Most connections the pool opens. */
  max: number;
}

/** The use of a node-postgres pool (Prisma's adapter and graphile-worker both run on one). */
export function poolUsage(pool: pg.Pool): PoolUsage {
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 };
}
