/**
 * The bytes of uploads one server holds at once (MAX_CONCURRENT_UPLOAD_BYTES). Each multipart
 * request opens a reservation and grows it as its bytes arrive (its Content-Length up front when
 * declared); above the budget it is refused with 503 and Retry-After, so a burst of large uploads
 * cannot fill the disk or memory faster than segcat can take them in.
 */

/** One request's share of the budget. */
export interface Reservation {
  /** Grows the share to `totalBytes`; false (and nothing taken) when the budget cannot give it. */
  take(totalBytes: number): boolean;
  /** Gives the share back; later `take`s fail. */
  close(): void;
}

/** The server-wide budget. */
export interface UploadBudget {
  /** Starts a request's reservation. */
  open(): Reservation;
  /** Bytes reserved right now. */
  readonly inUse: number;
}

/**
 * A budget of `maxBytes`. A request alone on the server is never refused, so a legal request
 * larger than the budget still goes through when nothing else is being received.
 */
export function createUploadBudget(maxBytes: number): UploadBudget {
  let inUse = 0;
  let open = 0;
  return {
    get inUse() {
      return inUse;
    },
    open() {
      let held = 0;
      let closed = false;
      open += 1;
      return {
        take(totalBytes) {
          if (closed) return false;
          if (totalBytes <= held) return true;
          const extra = totalBytes - held;
          if (inUse + extra > maxBytes && !(open === 1 && inUse === held)) return false;
          inUse += extra;
          held = totalBytes;
          return true;
        },
        close() {
          if (closed) return;
          closed = true;
          open -= 1;
          inUse -= held;
          held = 0;
        },
      };
    },
  };
}
