/**
 * Turning operation results into what a model reads. A result goes into the
 * conversation, so it is bounded: past the output limit the largest strings
 * (log text, exec output) are cut and the largest lists shortened until the
 * JSON fits, and every cut is reported.
 */

export const DEFAULT_MAX_OUTPUT_BYTES = 100 * 1024;

/** One cut made to fit the limit; `at` is a JSON path like "stdout" or "[]" or "items[3].name". */
export interface Cut {
  at: string;
  kind: 'string' | 'list';
  /** Characters (strings) or items (lists) before and after the cut. */
  total: number;
  kept: number;
}

export interface Capped {
  value: unknown;
  /** Nothing left to cut and still over the limit: `value` is a size note, not the result. */
  replaced?: true;
  /** Serialized size of the value as returned (bytes). */
  bytes: number;
  /** Serialized size before any cut (bytes). */
  original_bytes: number;
  cuts: Cut[];
}

const bytesOf = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');

/** Strings and lists shorter than this are not worth cutting. */
const MIN_CUTTABLE = 64;
const MAX_ROUNDS = 200;

interface Node {
  path: (string | number)[];
  kind: 'string' | 'list';
  size: number;
  length: number;
}

function pathText(path: (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out || '(result)';
}

/**
 * What to cut next: the largest string, unless a list is more than twice
 * its size (many items, none dominating), then that list. A list always
 * outweighs the strings inside it, so comparing plain sizes would drop a
 * whole item to shorten one long field.
 */
/** Says whether a part of the result may be cut (by default every part may). */
export type CutPolicy = (path: readonly (string | number)[], kind: 'string' | 'list') => boolean;

function nextCut(value: unknown, allowed: CutPolicy): Node | undefined {
  let str: Node | undefined;
  let list: Node | undefined;
  const visit = (v: unknown, path: (string | number)[], depth: number) => {
    if (depth > 64) return;
    if (typeof v === 'string') {
      const size = Buffer.byteLength(v, 'utf8');
      if (size >= MIN_CUTTABLE && (!str || size > str.size) && allowed(path, 'string')) str = { path, kind: 'string', size, length: v.length };
      return;
    }
    if (Array.isArray(v)) {
      const size = bytesOf(v);
      if (v.length > 1 && size >= MIN_CUTTABLE && (!list || size > list.size) && allowed(path, 'list')) list = { path, kind: 'list', size, length: v.length };
      v.forEach((item, i) => visit(item, [...path, i], depth + 1));
      return;
    }
    if (v !== null && typeof v === 'object') for (const [k, item] of Object.entries(v)) visit(item, [...path, k], depth + 1);
  };
  visit(value, [], 0);
  if (str && list) return list.size > 2 * str.size ? list : str;
  return str ?? list;
}

function getAt(root: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((v, p) => (v as Record<string | number, unknown>)[p], root);
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
  return root;
}

/** Cuts a string to about `keep` characters without splitting a surrogate pair. */
function cutString(s: string, keep: number): string {
  let end = Math.max(0, Math.min(s.length, keep));
  if (end > 0 && end < s.length && /[\uD800-\uDBFF]/.test(s[end - 1]!)) end--;
  return s.slice(0, end);
}

/**
 * Fits `value` into `limit` bytes of JSON. Each round cuts the largest
 * string or list by the excess (plus room for the marker), so a result
 * with one huge log field loses only the end of that field. Strings get a
 * visible marker; lists are shortened (the cut is listed in `cuts`). When
 * nothing is left to cut, the value is replaced by a note. `allowed` keeps
 * parts whose declared shape a cut would break (an id with a pattern, a
 * fixed-length tuple) whole.
 */
export function capOutput(value: unknown, limit: number = DEFAULT_MAX_OUTPUT_BYTES, allowed: CutPolicy = () => true): Capped {
  const original = bytesOf(value);
  if (original <= limit) return { value, bytes: original, original_bytes: original, cuts: [] };
  let v: unknown = structuredClone(value);
  const cuts = new Map<string, Cut>();
  let size = original;
  for (let round = 0; round < MAX_ROUNDS && size > limit; round++) {
    const node = nextCut(v, allowed);
    if (!node) break;
    const excess = size - limit;
    const at = pathText(node.path);
    const prior = cuts.get(at);
    if (node.kind === 'string') {
      const s = getAt(v, node.path) as string;
      // Characters per byte differ for non-ASCII text: scale the excess, and keep room for the marker.
      const drop = Math.ceil(((excess + 96) * s.length) / node.size);
      const total = prior?.total ?? s.replace(/…\[cut: \d+ more characters\]$/, '').length;
      const kept = cutString(s.replace(/…\[cut: \d+ more characters\]$/, ''), s.length - drop);
      v = setAt(v, node.path, `${kept}…[cut: ${total - kept.length} more characters]`);
      cuts.set(at, { at, kind: 'string', total, kept: kept.length });
    } else {
      const list = getAt(v, node.path) as unknown[];
      const perItem = node.size / list.length;
      const keep = Math.max(0, Math.min(list.length - 1, Math.floor(list.length - (excess + 2) / perItem)));
      v = setAt(v, node.path, list.slice(0, keep));
      cuts.set(at, { at, kind: 'list', total: prior?.total ?? node.length, kept: keep });
    }
    size = bytesOf(v);
  }
  if (size > limit) {
    v = { output_too_large: true, bytes: original, limit };
    return { value: v, replaced: true, bytes: bytesOf(v), original_bytes: original, cuts: [...cuts.values()] };
  }
  return { value: v, bytes: size, original_bytes: original, cuts: [...cuts.values()] };
}

/** A one-paragraph note on what was cut, for the text the model reads. */
export function truncationNote(capped: Capped, limit: number): string | undefined {
  if (capped.original_bytes <= limit) return undefined;
  const parts = capped.cuts.map((c) => (c.kind === 'string' ? `${c.at}: kept ${c.kept} of ${c.total} characters` : `${c.at}: kept ${c.kept} of ${c.total} items`));
  const what = parts.length ? parts.join('; ') : 'the result was replaced by a size note';
  return (
    `Output truncated: the result is ${capped.original_bytes} bytes of JSON, over this server's limit of ${limit} bytes (${what}). ` +
    'Narrow the call (filters, limit, tail, max_bytes) or, where the operation has a path parameter, write the data to a file instead.'
  );
}

function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 80 ? `${JSON.stringify(v.slice(0, 77))}…` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return undefined;
}

/** A short line saying what came back: the count of a list, or the scalar fields of an object. */
export function summarize(operation: string, value: unknown): string {
  if (Array.isArray(value)) return `${operation}: ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (value !== null && typeof value === 'object') {
    const fields: string[] = [];
    const lists: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      const s = scalarText(v);
      if (s !== undefined && fields.length < 8) fields.push(`${k}=${s}`);
      else if (Array.isArray(v) && lists.length < 4) lists.push(`${k}: ${v.length} item${v.length === 1 ? '' : 's'}`);
    }
    const detail = [...fields, ...lists].join(', ');
    return `${operation}: ok${detail ? ` (${detail})` : ''}`;
  }
  const s = scalarText(value);
  return `${operation}: ${s ?? 'ok'}`;
}

/** A fan-out's answer: each answering endpoint's result, each failed endpoint's error. */
export interface FanOutValue {
  results: Record<string, unknown>;
  errors: Record<string, { code: string; message: string }>;
}

/**
 * Fits a fan-out's answer into `limit` bytes. The errors are kept whole;
 * the rest is shared out among the endpoints' results: one that fits in an
 * even share is kept whole and leaves what it did not use to the others,
 * and each larger one is cut (as `capOutput` cuts a result) to its share.
 * So no endpoint's result is emptied to keep another's whole. Cuts are
 * reported with paths like "results.prod[3].Names". When an endpoint's
 * result cannot be cut to its share, the whole answer is replaced by a note.
 */
export function capFanOut(value: FanOutValue, limit: number = DEFAULT_MAX_OUTPUT_BYTES, allowed: CutPolicy = () => true): Capped {
  const original = bytesOf(value);
  if (original <= limit) return { value, bytes: original, original_bytes: original, cuts: [] };
  const names = Object.keys(value.results);
  const note = (): Capped => {
    const v = { output_too_large: true, bytes: original, limit };
    return { value: v, replaced: true, bytes: bytesOf(v), original_bytes: original, cuts: [] };
  };
  // Everything but the results themselves: each result counted as `null` (4 bytes) here.
  const skeleton = bytesOf({ results: Object.fromEntries(names.map((n) => [n, null])), errors: value.errors }) - 4 * names.length;
  let budget = limit - skeleton;
  if (budget <= 0) return note();
  const sizes = new Map(names.map((n) => [n, bytesOf(value.results[n])]));
  const share = new Map<string, number>();
  const bySize = [...names].sort((a, b) => sizes.get(a)! - sizes.get(b)!);
  bySize.forEach((n, i) => {
    const even = Math.floor(budget / (bySize.length - i));
    const mine = Math.min(sizes.get(n)!, even);
    share.set(n, mine);
    budget -= mine;
  });
  const results: Record<string, unknown> = {};
  const cuts: Cut[] = [];
  for (const n of names) {
    if (sizes.get(n)! <= share.get(n)!) {
      results[n] = value.results[n];
      continue;
    }
    const capped = capOutput(value.results[n], share.get(n)!, (path, kind) => allowed(['results', n, ...path], kind));
    if (capped.replaced) return { ...note(), cuts: [...cuts, ...capped.cuts.map((c) => prefixed(n, c))] };
    results[n] = capped.value;
    cuts.push(...capped.cuts.map((c) => prefixed(n, c)));
  }
  const v = { results, errors: value.errors };
  const size = bytesOf(v);
  // The shares add up to the limit exactly; this holds unless a cut result came out larger than asked.
  if (size > limit) return { ...note(), cuts };
  return { value: v, bytes: size, original_bytes: original, cuts };
}

function prefixed(endpoint: string, cut: Cut): Cut {
  const at = cut.at === '(result)' ? '' : cut.at.startsWith('[') ? cut.at : `.${cut.at}`;
  return { ...cut, at: `results.${endpoint}${at}` };
}

/** A short line saying what a fan-out brought back: per endpoint, its result's size or its error code. */
export function summarizeFanOut(operation: string, value: FanOutValue): string {
  const answered = Object.entries(value.results).map(([name, r]) => {
    if (Array.isArray(r)) return `${name}: ${r.length} item${r.length === 1 ? '' : 's'}`;
    return `${name}: ok`;
  });
  const failed = Object.entries(value.errors).map(([name, e]) => `${name}: ${e.code}`);
  const total = answered.length + failed.length;
  const parts = [`${operation} on ${total} endpoint${total === 1 ? '' : 's'}: ${answered.length} answered${answered.length ? ` (${answered.join(', ')})` : ''}`];
  if (failed.length) parts.push(`${failed.length} failed (${failed.join(', ')})`);
  return parts.join('; ');
}
