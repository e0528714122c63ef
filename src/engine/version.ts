/** Highest Engine API version this connector knows the shapes of (Engine 28.x). */
export const MAX_API_VERSION = '1.51';
/** Lowest it can speak: below this, request fields it relies on do not exist. */
export const MIN_API_VERSION = '1.40';

/** Compares "1.41" and "1.9" numerically, part by part. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function minVersion(a: string, b: string): string {
  return compareVersions(a, b) <= 0 ? a : b;
}
