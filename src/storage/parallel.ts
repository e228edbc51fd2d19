/** Bounded parallelism for requests to a store. */

/**
 * Runs `work` on every item, `concurrency` at a time, and lets every one finish before it throws
 * the first failure: a caller cleaning up after a failed batch then sees everything that was done.
 */
export async function settleAll<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { reason: unknown } | undefined;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item).catch((reason: unknown) => {
        failure ??= { reason };
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  if (failure) throw failure.reason;
}
