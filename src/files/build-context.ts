import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import type { Pack } from 'tar-stream';
import { loadTarStream } from './tar-module.js';

/*
 * Build contexts for POST /build, always streamed as a tar: a directory is
 * walked and packed entry by entry (one file open at a time, with the tar
 * stream's backpressure), never gathered in memory.
 *
 * .dockerignore follows the Docker CLI's rules:
 *   - one pattern per line; blank lines and lines starting with "#" are skipped;
 *   - patterns are cleaned like paths ("./a/" → "a", a leading "/" is dropped);
 *   - "*" and "?" never cross "/", "[…]" is a character class, "\" escapes,
 *     "**" matches any number of directories (including none);
 *   - a pattern that matches a directory excludes everything below it;
 *   - "!" re-includes; the last pattern that matches a path decides.
 */

export interface IgnorePattern {
  negate: boolean;
  /** The cleaned pattern text, e.g. "logs/*.log". */
  pattern: string;
  regex: RegExp;
  /** Path segments, to tell whether a re-include can reach inside a directory. */
  segments: string[];
}

/** Parses .dockerignore text into patterns, in order. */
export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1).trim();
    }
    const cleaned = cleanPattern(line);
    if (!cleaned) continue;
    out.push({ negate, pattern: cleaned, regex: patternToRegex(cleaned), segments: cleaned.split('/') });
  }
  return out;
}

function cleanPattern(p: string): string {
  // posix.normalize keeps a leading "/" and a trailing "/": drop both, as the CLI does.
  let s = posix.normalize(p);
  s = s.replace(/^\/+/, '').replace(/\/+$/, '');
  return s === '.' ? '' : s;
}

/** Turns one cleaned pattern into an anchored regular expression over "/"-separated paths. */
export function patternToRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // "**/" may match nothing at all ("**/a" matches "a").
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '\\' && i + 1 < pattern.length) {
      i++;
      re += escapeRegex(pattern[i]!);
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      // Go's rule (which the CLI uses): only "^" negates; "!" is an ordinary character.
      const negated = body.startsWith('^');
      if (negated) body = body.slice(1);
      // Keep ranges and escapes, but never let a class match "/".
      body = body.replace(/[\]\\]/g, (m) => `\\${m}`);
      re += negated ? `[^/${body}]` : `(?![/])[${body}]`;
      i = end;
    } else {
      re += escapeRegex(c);
    }
  }
  return new RegExp(`^${re}$`);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** True when `pattern` matches `path` or one of its parent directories. */
function matchesOrParent(p: IgnorePattern, path: string): boolean {
  if (p.regex.test(path)) return true;
  let idx = path.lastIndexOf('/');
  while (idx > 0) {
    const parent = path.slice(0, idx);
    if (p.regex.test(parent)) return true;
    idx = parent.lastIndexOf('/');
  }
  return false;
}

export class IgnoreMatcher {
  constructor(readonly patterns: IgnorePattern[]) {}

  static fromText(text: string): IgnoreMatcher {
    return new IgnoreMatcher(parseDockerignore(text));
  }

  /** Whether a context-relative path ("a/b.txt") is left out of the context. */
  excludes(path: string): boolean {
    let excluded = false;
    for (const p of this.patterns) {
      if (p.negate === !excluded) continue; // cannot change the outcome
      if (matchesOrParent(p, path)) excluded = !p.negate;
    }
    return excluded;
  }

  /**
   * Whether an excluded directory must still be walked because a "!"
   * pattern could re-include something inside it. When none can, the whole
   * subtree is skipped without reading it (node_modules, .git).
   */
  mayReincludeBelow(dir: string): boolean {
    const dirSegs = dir.split('/');
    return this.patterns.some((p) => p.negate && prefixCompatible(p.segments, dirSegs));
  }
}

/** Whether a pattern's leading segments could match a path that starts with `dirSegs`. */
function prefixCompatible(patternSegs: string[], dirSegs: string[]): boolean {
  for (let i = 0; i < dirSegs.length; i++) {
    const seg = patternSegs[i];
    if (seg === undefined) return false; // the pattern names something at or above this directory
    if (seg.includes('**')) return true;
    if (!patternToRegex(seg).test(dirSegs[i]!)) return false;
  }
  return true;
}

export interface DirectoryContextOptions {
  /** The Dockerfile's path inside the context: always sent, even when .dockerignore names it. */
  dockerfile?: string;
  /** Extra in-memory files added to the tar (an inline Dockerfile), name → content. */
  extra?: Record<string, string | Buffer>;
}

/** Reads the context's .dockerignore (none → nothing excluded). */
export async function loadIgnore(dir: string): Promise<IgnoreMatcher> {
  try {
    return IgnoreMatcher.fromText(await readFile(join(dir, '.dockerignore'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new IgnoreMatcher([]);
    throw err;
  }
}

/**
 * Streams a directory as a build-context tar, honouring its .dockerignore.
 * Errors while walking (a file vanishing, permission denied) destroy the
 * stream with that error, so the request fails rather than building from a
 * partial context.
 */
export function packDirectory(dir: string, opts: DirectoryContextOptions = {}): Readable {
  return packStream(async (pack) => {
    const ignore = withKept(await loadIgnore(dir), ['.dockerignore', opts.dockerfile ?? 'Dockerfile']);
    await walk(pack, dir, '', ignore);
    for (const [name, content] of Object.entries(opts.extra ?? {})) await addBuffer(pack, name, content);
  });
}

/** Streams in-memory files (an inline Dockerfile and its companions) as a tar. */
export function packFiles(files: Record<string, string | Buffer>): Readable {
  return packStream(async (pack) => {
    for (const [name, content] of Object.entries(files)) await addBuffer(pack, name, content);
  });
}

/**
 * A tar that `fill` writes, as a Node stream (tar-stream packs are streamx
 * streams; the HTTP client pipes Node streams). Filled when first read. A
 * `fill` that fails destroys the stream with its error.
 *
 * tar-stream is imported here, on first use, not at the top: with streamx it
 * is slow to load (bench/README.md, "Lazy tar-stream"), which a process that
 * loads this module but never builds should not pay.
 */
function packStream(fill: (pack: Pack) => Promise<void>): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    const { pack: tarPack } = await loadTarStream();
    const pack = tarPack();
    fill(pack).then(
      () => pack.finalize(),
      (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    yield* pack as AsyncIterable<Buffer>;
  }
  return Readable.from(generate(), { objectMode: false });
}

/**
 * The CLI always sends the Dockerfile and .dockerignore, whatever the
 * patterns say: it appends a "!" pattern for each that is excluded.
 */
export function withKept(ignore: IgnoreMatcher, paths: string[]): IgnoreMatcher {
  const extra = paths
    .map((p) => cleanPattern(p))
    .filter((p) => p && ignore.excludes(p))
    .map((p) => parseDockerignore(`!${p.replace(/[*?[\\]/g, '\\$&')}`)[0]!);
  return extra.length ? new IgnoreMatcher([...ignore.patterns, ...extra]) : ignore;
}

async function walk(pack: Pack, root: string, rel: string, ignore: IgnoreMatcher): Promise<void> {
  const names = (await readdir(rel ? join(root, rel) : root)).sort();
  for (const name of names) {
    const relPath = rel ? `${rel}/${name}` : name;
    const full = join(root, relPath);
    const st = await lstat(full);
    const excluded = ignore.excludes(relPath);
    if (st.isDirectory()) {
      if (excluded && !ignore.mayReincludeBelow(relPath)) continue;
      if (!excluded) await addEntry(pack, { name: relPath, type: 'directory', mode: st.mode & 0o7777, mtime: st.mtime });
      await walk(pack, root, relPath, ignore);
      continue;
    }
    if (excluded) continue;
    if (st.isSymbolicLink()) {
      await addEntry(pack, { name: relPath, type: 'symlink', linkname: await readlink(full), mode: st.mode & 0o7777, mtime: st.mtime });
    } else if (st.isFile()) {
      await addFile(pack, full, { name: relPath, type: 'file', size: st.size, mode: st.mode & 0o7777, mtime: st.mtime });
    }
    // Sockets, FIFOs and devices have no place in a build context: skipped, as the CLI does.
  }
}

type EntryHeader = Parameters<Pack['entry']>[0];

function addEntry(pack: Pack, header: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
}

function addBuffer(pack: Pack, name: string, content: string | Buffer): Promise<void> {
  const buf = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
  return new Promise((resolve, reject) => {
    pack.entry({ name, type: 'file', size: buf.length, mode: 0o644, mtime: new Date() }, buf, (err) => (err ? reject(err) : resolve()));
  });
}

function addFile(pack: Pack, full: string, header: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => {
    const entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    const src = createReadStream(full);
    src.on('error', (err) => {
      entry.destroy(err);
      reject(err);
    });
    src.pipe(entry);
  });
}
