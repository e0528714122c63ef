import type { ManifestOperation } from '../manifest.js';

/**
 * `docker-connector describe <operation>`: one operation's manifest entry
 * as a page a person reads on a terminal (80 columns): what it does, how
 * safe it is, its parameters, the fields of its result, an example call.
 */

type Schema = Record<string, unknown>;

const WIDTH = 80;
/** Where the type and description of a parameter or field start. */
const COLUMN = 22;

/** Words filled into lines of `width`, each prefixed with `indent`; a word longer than a line is broken. */
export function wrap(text: string, indent: string, width = WIDTH): string[] {
  const room = Math.max(20, width - indent.length);
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (let word of paragraph.split(/\s+/).filter(Boolean)) {
      while (word.length > room) {
        if (line) lines.push(line);
        lines.push(word.slice(0, room));
        word = word.slice(room);
        line = '';
      }
      if (!line) line = word;
      else if (line.length + 1 + word.length <= room) line += ` ${word}`;
      else {
        lines.push(line);
        line = word;
      }
    }
    if (line) lines.push(line);
  }
  return lines.map((l) => indent + l);
}

/** A schema with a `#/$defs/…` reference resolved against the root it came from. */
function resolve(node: unknown, root: Schema, depth = 0): Schema {
  const n = (node && typeof node === 'object' ? node : {}) as Schema;
  const ref = n.$ref;
  if (typeof ref !== 'string' || depth > 20) return n;
  const target = ref === '#' ? root : ref.startsWith('#/$defs/') ? ((root.$defs ?? {}) as Record<string, Schema>)[ref.slice('#/$defs/'.length)] : undefined;
  if (!target) return n;
  const { $ref: _ref, ...rest } = n;
  return { ...resolve(target, root, depth + 1), ...rest };
}

/** Branches of a union (anyOf / oneOf), or undefined. */
function branches(s: Schema): unknown[] | undefined {
  const alts = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  return Array.isArray(alts) && alts.length > 0 ? alts : undefined;
}

const group = (t: string) => (t.includes(' | ') ? `(${t})` : t);

/** A short type: `string`, `integer`, `"a" | "b"`, `list of string`, `map of string`, `object`, `string | null`. */
export function typeText(node: unknown, root: Schema, depth = 0): string {
  const s = resolve(node, root);
  if (depth > 4) return 'any';
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = branches(s);
  if (alts) return [...new Set(alts.map((a) => typeText(a, root, depth + 1)))].join(' | ');
  if (Array.isArray(s.allOf)) {
    const typed = (s.allOf as unknown[]).map((a) => typeText(a, root, depth + 1)).filter((t) => t !== 'any');
    if (typed.length > 0 && s.type === undefined) return typed[0]!;
  }
  const t = s.type;
  if (Array.isArray(t)) return t.join(' | ');
  if (t === 'array') {
    if (Array.isArray(s.prefixItems)) return `[${(s.prefixItems as unknown[]).map((i) => typeText(i, root, depth + 1)).join(', ')}]`;
    return s.items !== undefined ? `list of ${group(typeText(s.items, root, depth + 1))}` : 'list';
  }
  if (t === 'object') {
    const props = s.properties as Schema | undefined;
    const extra = s.additionalProperties;
    if ((!props || Object.keys(props).length === 0) && extra && typeof extra === 'object') return `map of ${group(typeText(extra, root, depth + 1))}`;
    return 'object';
  }
  if (t === 'string' && typeof s.format === 'string') return `string (${s.format})`;
  return typeof t === 'string' ? t : 'any';
}

/** The named fields of an object schema (through unions and references), in order, each once. */
function fieldsOf(node: unknown, root: Schema, depth = 0): { props: Record<string, unknown>; required: Set<string> } {
  const s = resolve(node, root);
  const props: Record<string, unknown> = {};
  const required = new Set<string>();
  if (depth > 4) return { props, required };
  for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) props[k] = v;
  for (const r of (s.required ?? []) as string[]) required.add(r);
  for (const part of [...(branches(s) ?? []), ...((s.allOf ?? []) as unknown[])]) {
    const inner = fieldsOf(part, root, depth + 1);
    for (const [k, v] of Object.entries(inner.props)) props[k] ??= v;
  }
  return { props, required };
}

/** The names of the fields of an object, or of the items of a list of objects; empty for anything else. */
function nestedNames(node: unknown, root: Schema): { label: string; names: string[] } | undefined {
  const s = resolve(node, root);
  const alts = branches(s);
  const target = alts ? alts.map((a) => resolve(a, root)).find((a) => a.type !== 'null') : s;
  if (!target) return undefined;
  if (target.type === 'array' && target.items !== undefined) {
    const names = Object.keys(fieldsOf(target.items, root).props);
    return names.length ? { label: 'each with', names } : undefined;
  }
  const names = Object.keys(fieldsOf(target, root).props);
  return names.length ? { label: 'fields', names } : undefined;
}

/** One parameter or field: name, type (and required/default), then its description and nested names below. */
function entry(name: string, node: unknown, root: Schema, qualifier: string | undefined): string[] {
  const s = resolve(node, root);
  const head = `${typeText(node, root)}${qualifier ? `, ${qualifier}` : ''}`;
  const pad = ' '.repeat(COLUMN);
  const lines: string[] = [];
  const label = `  ${name}`;
  const first = wrap(head, pad);
  if (label.length <= COLUMN - 2) lines.push(label.padEnd(COLUMN) + first[0]!.slice(COLUMN), ...first.slice(1));
  else lines.push(label, ...first);
  if (typeof s.description === 'string') lines.push(...wrap(s.description, pad));
  const nested = nestedNames(node, root);
  if (nested) lines.push(...wrap(`${nested.label}: ${nested.names.join(', ')}`, pad));
  return lines;
}

function safetyText(op: ManifestOperation): string {
  const what = { read: 'read (changes nothing)', write: 'write (changes the Engine)', destructive: 'destructive (removes things)' }[op.safety];
  const repeat = op.idempotent ? 'repeat-safe (retried after a lost connection)' : 'not repeat-safe (never retried)';
  return `${what}; ${repeat}`;
}

/** A placeholder value for a parameter in the example call, as `-p` reads it. */
function placeholder(name: string, node: unknown, root: Schema): string {
  const s = resolve(node, root);
  if (Array.isArray(s.enum) && s.enum.length > 0) return typeof s.enum[0] === 'string' ? s.enum[0] : JSON.stringify(s.enum[0]);
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = branches(s);
  const t = alts ? resolve(alts.find((a) => resolve(a, root).type !== 'null') ?? alts[0], root).type : s.type;
  const kind = Array.isArray(t) ? t[0] : t;
  if (kind === 'array') return `["<${name}>"]`;
  if (kind === 'object') return '{}';
  if (kind === 'integer' || kind === 'number') return typeof s.minimum === 'number' ? String(s.minimum) : '1';
  if (kind === 'boolean') return 'true';
  return `<${name}>`;
}

/** The example `run` call: required parameters with placeholder values, quoted for a POSIX shell. */
export function exampleCall(op: ManifestOperation): string {
  return exampleArgs(op).join(' ');
}

function exampleArgs(op: ManifestOperation): string[] {
  const root = op.parameters;
  const props = (root.properties ?? {}) as Record<string, unknown>;
  const required = ((root.required ?? []) as string[]).filter((p) => p in props);
  const args = required.map((p) => {
    const arg = `${p}=${placeholder(p, props[p], root)}`;
    return /^[\w.=/:@,+-]+$/.test(arg) ? `-p ${arg}` : `-p '${arg.replaceAll("'", "'\\''")}'`;
  });
  return ['docker-connector run', op.name, ...args];
}

/** The example call in lines of at most 80 columns, continued with a backslash as a shell reads it. */
function exampleLines(op: ManifestOperation, indent = '  '): string[] {
  const [head, ...rest] = exampleArgs(op);
  const lines: string[] = [];
  let line = `${indent}${head}`;
  for (const arg of rest) {
    if (line.length + 1 + arg.length + 2 <= WIDTH) line += ` ${arg}`;
    else {
      lines.push(`${line} \\`);
      line = `${indent}  ${arg}`;
    }
  }
  lines.push(line);
  return lines;
}

/** The page for one operation. */
export function describePage(op: ManifestOperation): string {
  const out: string[] = [];
  out.push(...wrap(`${op.name} — ${op.title}`, ''));
  out.push('');
  out.push(...wrap(`Category: ${op.category}`, '  '));
  out.push(...wrap(`Safety: ${safetyText(op)}`, '  '));
  if (op.dry_run) out.push(...wrap('Dry run: dry_run=true reports what would be removed and removes nothing', '  '));
  if (op.min_api_version) out.push(...wrap(`Needs Engine API ${op.min_api_version} or newer`, '  '));
  if (op.streaming) out.push(...wrap('Long-running: the timeout applies to silence, not to the whole call', '  '));
  if (op.local_paths.length) out.push(...wrap(`Files on this host: ${op.local_paths.join(', ')}`, '  '));
  out.push('');
  out.push(...wrap(op.description, ''));

  out.push('', 'PARAMETERS');
  const params = op.parameters;
  const props = (params.properties ?? {}) as Record<string, Schema>;
  const required = new Set((params.required ?? []) as string[]);
  if (Object.keys(props).length === 0) out.push('  none');
  for (const [name, p] of Object.entries(props)) {
    const s = resolve(p, params);
    const qualifier = required.has(name) ? 'required' : s.default !== undefined ? `default ${JSON.stringify(s.default)}` : 'optional';
    out.push(...entry(name, p, params, qualifier));
  }

  out.push('', 'RESULT');
  out.push(...wrap(op.result, '  '));
  out.push(...resultLines(op.result_schema));

  out.push('', 'EXAMPLE');
  out.push(...exampleLines(op));
  out.push('', ...wrap(`The manifest entry (parameter and result schemas): docker-connector describe ${op.name} --json`, ''));
  return `${out.join('\n')}\n`;
}

/** The result's fields, one level deep (a list: its items' fields). */
function resultLines(root: Schema): string[] {
  if (Object.keys(root).length === 0) return [];
  const s = resolve(root, root);
  const lines: string[] = [];
  let target: unknown = s;
  const alts = branches(s);
  if (s.type === 'array' && s.items !== undefined) {
    lines.push('', `  A list; each item: ${typeText(s.items, root)}`);
    target = s.items;
  } else if (alts && s.type === undefined && !alts.every((a) => resolve(a, root).type === 'object')) {
    lines.push('', ...wrap(`One of: ${typeText(s, root)}`, '  '));
  } else if (s.type !== 'object' && !alts) {
    lines.push('', ...wrap(`Type: ${typeText(s, root)}`, '  '));
  }
  const { props, required } = fieldsOf(target, root);
  if (Object.keys(props).length > 0) lines.push('');
  for (const [name, p] of Object.entries(props)) lines.push(...entry(name, p, root, required.has(name) ? undefined : 'optional'));
  return lines;
}

/** Operation names close to a mistyped one: small edit distance, or sharing a word. */
export function closeNames(name: string, all: readonly string[], max = 4): string[] {
  const wanted = name.toLowerCase();
  const words = new Set(wanted.split(/[_\-\s]+/).filter((w) => w.length > 2));
  const scored = all.map((n) => {
    const d = distance(wanted, n);
    const shared = n.split('_').filter((w) => words.has(w)).length;
    return { n, score: d - 2 * shared };
  });
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  return scored
    .filter((s) => distance(wanted, s.n) <= limit || s.n.includes(wanted) || (wanted.length > 3 && s.n.split('_').some((w) => words.has(w))))
    .sort((a, b) => a.score - b.score || a.n.localeCompare(b.n))
    .slice(0, max)
    .map((s) => s.n);
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
