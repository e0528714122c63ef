/** Small statistics helpers: nearest-rank percentiles on latency samples (ms). */

export function percentile(samples, p) {
  if (samples.length === 0) return NaN;
  const sorted = samples.slice().sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function median(values) {
  return percentile(values, 50);
}

/** Rotates a list by `n` places: round r starts with a different client, so drift hits all alike. */
export function rotate(list, n) {
  const k = ((n % list.length) + list.length) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** Formats a number for the table: 3 significant digits, thousands kept whole. */
export function fmt(value, unit = '') {
  if (value === undefined || value === null || Number.isNaN(value)) return '—';
  let s;
  const abs = Math.abs(value);
  if (abs >= 1000) s = Math.round(value).toLocaleString('en-US');
  else if (abs >= 100) s = value.toFixed(0);
  else if (abs >= 10) s = value.toFixed(1);
  else if (abs >= 1) s = value.toFixed(2);
  else s = value.toFixed(3);
  return unit ? `${s} ${unit}` : s;
}

/**
 * A random order of `list`. Sequential comparisons take turns in a fresh
 * random order each time: with a fixed cycle, a client always follows the
 * same other one and pays for the work that one deferred (socket and parser
 * bookkeeping after its promise resolved), which skews p50 by tens of µs.
 */
export function shuffle(list) {
  const out = list.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Lets work queued by the previous call (nextTick, immediates) run before the next timing starts. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));
