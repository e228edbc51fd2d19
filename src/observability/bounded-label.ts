/**
 * Label values that come from outside (GraphQL operation names, object-store error codes), kept to
 * a bounded set: every distinct label value is a time series Prometheus keeps, so a client sending
 * a fresh operation name with each request must not grow the scrape without end.
 */

/** The value every label value past the bound, or malformed, is counted under. */
export const OTHER = '(other)';

/** Options of a BoundedLabel. */
export interface BoundedLabelOptions {
  /** Most distinct values kept; later new ones count as `(other)`. */
  maxValues: number;
  /** What a value must look like (its length included); others count as `(other)`. */
  pattern: RegExp;
}

/** Admits the first `maxValues` distinct well-formed values it sees; maps the rest to `(other)`. */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(private readonly options: BoundedLabelOptions) {}

  /** The label value to record `raw` under. */
  valueOf(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (!this.options.pattern.test(raw) || this.seen.size >= this.options.maxValues) return OTHER;
    this.seen.add(raw);
    return raw;
  }
}
