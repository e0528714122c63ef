/**
 * Bounded concurrency for work over many items (endpoints of a fan-out,
 * `top` calls of a hunt): at most `limit` in flight, answers in the items' order.
 */
/** Runs `work` on each item, at most `limit` at once, keeping the items' order in the answers. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
