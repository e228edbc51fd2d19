/**
 * Lets an upload with `wait: true` sleep until its image is DONE or FAILED, whichever process
 * segments it. Status changes arrive by PostgreSQL LISTEN/NOTIFY (see ImageRepository); a slow
 * poll covers notifications lost while the listening connection was down.
 */
import type { Image } from '../generated/prisma/client.js';

/** Source of image status changes. */
export interface ImageEvents {
  /** Calls `listener` with the id of every image whose status changed; returns an unsubscribe. */
  subscribe(listener: (imageId: string) => void): () => void;
}

/** Waits for images to settle. */
export interface ImageWaiter {
  /** Resolves with the image once it is DONE or FAILED. */
  waitUntilSettled(imageId: string): Promise<Image>;
}

/** Whether an image has finished segmentation, one way or the other. */
export function isSettled(status: Image['status']): boolean {
  return status === 'DONE' || status === 'FAILED';
}

/** Polling interval that backs up notifications, in milliseconds. */
const FALLBACK_POLL_MS = 2000;

/** An ImageWaiter over a notification source and a way to read an image. */
export function createImageWaiter(events: ImageEvents, load: (id: string) => Promise<Image | null>): ImageWaiter {
  return {
    waitUntilSettled(imageId) {
      return new Promise<Image>((resolve, reject) => {
        let finished = false;
        const check = () => {
          load(imageId).then((image) => {
            if (finished) return;
            if (!image) return stop(new Error(`image ${imageId} was deleted while being processed`));
            if (isSettled(image.status)) stop(undefined, image);
          }, stop);
        };
        const unsubscribe = events.subscribe((id) => {
          if (id === imageId) check();
        });
        const timer = setInterval(check, FALLBACK_POLL_MS);
        function stop(error?: unknown, image?: Image) {
          finished = true;
          unsubscribe();
          clearInterval(timer);
          if (image) resolve(image);
          else reject(error);
        }
        check();
      });
    },
  };
}
