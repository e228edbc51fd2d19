/**
 * Names shared by the code that queues work and the workers that do it.
 */

/** graphile-worker task that segments one image; payload `SegmentImagePayload`. */
export const SEGMENT_IMAGE_TASK = 'segment_image';

/** Attempts before a segmentation job gives up and its image is marked FAILED. */
export const SEGMENT_IMAGE_MAX_ATTEMPTS = 5;

/** Payload of SEGMENT_IMAGE_TASK. */
export interface SegmentImagePayload {
  imageId: string;
  /** Model to segment with (a manifest name); the worker's SEGCAT_MODEL when absent. */
  model?: string;
}

/** PostgreSQL NOTIFY channel on which every image status change is announced as `{ id, status }`. */
export const IMAGE_EVENTS_CHANNEL = 'segcat_image_events';
