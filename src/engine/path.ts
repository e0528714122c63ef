import { ConnectorError } from '../errors.js';

/**
 * Builds an Engine path with every interpolated value URL-encoded, so an id
 * or name can never change which endpoint is called:
 *   enginePath`/containers/${id}/json`
 * `.` and `..` as whole values are refused: clients and proxies normalise
 * them into another path.
 */
export function enginePath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    const s = String(value);
    // Checked per "/"-separated part: the Engine decodes %2F and would clean "a/../b" into another path.
    if (s === '' || s.split('/').some((seg) => seg === '.' || seg === '..')) {
      throw new ConnectorError('INVALID_PARAMS', `Invalid parameter: "${s}" is not a valid object reference`);
    }
    out += encodeURIComponent(s) + (strings[i + 1] ?? '');
  });
  return out;
}

export type QueryValue = string | number | boolean | undefined | null | string[] | Record<string, unknown>;

/** Query string from defined values only; objects (filters) become JSON, arrays repeat the key. */
export function buildQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (const v of value) params.append(key, v);
    } else if (typeof value === 'object') {
      params.append(key, JSON.stringify(value));
    } else {
      params.append(key, String(value));
    }
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Normalises user filters ({status: "exited"} or {status: ["exited"]}) into the Engine's map of arrays. */
type FilterValue = string | boolean | number;

export function normalizeFilters(filters: Readonly<Record<string, FilterValue | readonly FilterValue[] | undefined>> | undefined): Record<string, string[]> | undefined {
  if (!filters) return undefined;
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(filters)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String) : [String(v)];
  }
  return Object.keys(out).length ? out : undefined;
}
