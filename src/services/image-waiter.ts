/**
 * Lets an upload with `wait: true` sleep until its image is DONE or FAILED, whichever process
 * segments it. Status changes arrive by PostgreSQL LISTEN/NOTIFY (see db/image-events.ts); a slow
 * poll covers notifications lost while the listening connection was down.
 *
 * A wait is bounded: it ends early, with the image as it is then, when its time runs out, when its
 * client goes away, or when the waiter is closed at shutdown. No worker may be running at all.
 */
import type { Image } from '../models.js';

/** Source of image status changes. */
export interface ImageEvents {
  /**
   * Calls `listener` with the id of every image whose status changed, and the new status when the
   * event carried it (ImageEventStatus); returns an unsubscribe.
   */
  subscribe(listener: (imageId: string, status?: string) => void): () => void;
}

/** When to stop waiting before the image settles. */
export interface WaitOptions {
  /** Longest wait, in milliseconds. */
  timeoutMs: number;
  /** Aborted when nobody wants the answer any more (the client disconnected). */
  signal?: AbortSignal;
}

/** Waits for images to settle. */
export interface ImageWaiter {
  /**
   * Resolves with the image once it is DONE or FAILED, or with the image as it is (still PENDING or
   * PROCESSING) when the wait ends first; rejects if the image is deleted meanwhile.
   */
  waitUntilSettled(imageId: string, options: WaitOptions): Promise<Image>;
  /** Ends every wait, now and later, as if its time had run out (shutdown). */
  close(): void;
}

/** Whether an image has finished segmentation, one way or the other. */
export function isSettled(status: Image['status']): boolean {
  return status === 'DONE' || status === 'FAILED';
}

/** Polling interval that backs up notifications, in milliseconds. */
const FALLBACK_POLL_MS = 2000;

/** An ImageWaiter over a notification source and a way to read an image. */
export function createImageWaiter(events: ImageEvents, load: (id: string) => Promise<Image | null>): ImageWaiter {
  const endWaits = new Set<() => void>();
  let closed = false;
  return {
    waitUntilSettled(imageId, { timeoutMs, signal }) {
      return new Promise<Image>((resolve, reject) => {
        let finished = false;
        /** Reads the image; settles the wait if it has settled, or whatever it is when `last`. */
        const check = (last: boolean) => {
          load(imageId).then((image) => {
            if (finished) return;
            if (!image) return finish(new Error(`image ${imageId} was deleted while being processed`));
            if (last || isSettled(image.status)) finish(undefined, image);
          }, finish);
        };
        const unsubscribe = events.subscribe((id) => {
          if (id === imageId) check(false);
        });
        const poll = setInterval(() => check(false), FALLBACK_POLL_MS);
        const deadline = setTimeout(giveUp, timeoutMs);
        signal?.addEventListener('abort', giveUp);
        endWaits.add(giveUp);
        function stopListening() {
          unsubscribe();
          clearInterval(poll);
          clearTimeout(deadline);
          signal?.removeEventListener('abort', giveUp);
          endWaits.delete(giveUp);
        }
        function giveUp() {
          stopListening();
          check(true);
        }
        function finish(error?: unknown, image?: Image) {
          finished = true;
          stopListening();
          if (image) resolve(image);
          else reject(error);
        }
        if (closed || signal?.aborted) giveUp();
        else check(false);
      });
    },
    close() {
      closed = true;
      for (const giveUp of [...endWaits]) giveUp();
    },
  };
}
