import { pipeline } from 'node:stream';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, unlink, utimes } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { Header } from 'tar-stream';
import { ConnectorError } from '../errors.js';
import { toStreamError } from '../engine/json-stream.js';
import { loadTarStream } from './tar-module.js';

/**
 * Safe extraction of archives that come from a container. The container's
 * content is not trusted: an entry named "../x" or "/etc/x", a symlink to "/"
 * followed by a file written "through" it, or a hard link to a file outside
 * the destination must never put or expose anything outside `dest`.
 *
 * The approach, in three layers:
 * 1. Pure name checks (`archiveEntryPath`, `symlinkTargetInside`): no
 *    absolute names, no ".." segment, link targets that stay inside lexically.
 * 2. Extraction never follows a symlink: every parent folder is lstat-ed and
 *    must be a real folder; files are created with O_EXCL ('wx'), which
 *    refuses to open through a symlink.
 * 3. Extraction goes to a staging folder inside `dest`; when the archive has
 *    been read to its end, every symlink is resolved physically inside the
 *    staging tree (a chain of links can climb out even when each one looks
 *    harmless on its own). Only then are the top-level entries renamed into
 *    `dest`. Any refusal removes the staging folder: nothing is left.
 */

export class UnsafeEntryError extends Error {
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`archive entry "${entry}" ${reason}`);
    this.name = 'UnsafeEntryError';
  }
}

/**
 * The archive-relative path of an entry name ("./a//b/" → "a/b"; "./" → "").
 * Throws UnsafeEntryError for names that are absolute, contain a ".." segment
 * or a NUL byte. A ".." is refused even when it would stay inside ("a/../b"):
 * archives written by the Engine never contain one, so it signals a crafted
 * archive.
 */
export function archiveEntryPath(name: string): string {
  if (name.includes('\0')) throw new UnsafeEntryError(name.replace(/\0/g, '\\0'), 'contains a NUL byte');
  if (name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name)) {
    throw new UnsafeEntryError(name, 'has an absolute path');
  }
  // Backslashes are separators on Windows: treat them as such for the ".." check.
  const parts = name.split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeEntryError(name, 'climbs out with ".."');
  return parts.join('/');
}

/**
 * True when a symlink stored at `entryPath` (archive-relative) pointing to
 * `target` stays inside the archive root, judged lexically. Absolute targets
 * never do: they point into the host's file system once extracted.
 */
export function symlinkTargetInside(entryPath: string, target: string): boolean {
  if (target === '' || target.includes('\0')) return false;
  if (target.startsWith('/') || target.startsWith('\\') || /^[a-zA-Z]:/.test(target)) return false;
  const joined = posix.normalize(posix.join(posix.dirname(entryPath), target.replace(/\\/g, '/')));
  return joined !== '..' && !joined.startsWith('../') && !posix.isAbsolute(joined);
}

/** The on-disk path of an archive-relative path under `root`, double-checked to stay inside. */
export function pathInside(root: string, rel: string): string {
  const base = resolve(root);
  const full = resolve(base, rel);
  if (full !== base && !full.startsWith(base + '/')) throw new UnsafeEntryError(rel, 'resolves outside the destination');
  return full;
}

/**
 * Resolves `rel` (archive-relative) inside `root` the way the kernel would,
 * following symlinks found on disk, and reports whether it stays inside.
 * Components that do not exist are taken lexically. Used on every symlink
 * once the whole archive is extracted.
 */
export async function resolvesInside(root: string, rel: string, hops = 0): Promise<boolean> {
  if (hops > 40) return false; // a loop (ELOOP): refuse rather than guess
  const stack: string[] = [];
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '..') {
      if (stack.length === 0) return false;
      stack.pop();
      continue;
    }
    stack.push(part);
    const here = join(root, ...stack);
    const st = await lstat(here).catch(() => undefined);
    if (!st?.isSymbolicLink()) continue;
    const target = await readlink(here);
    if (target.startsWith('/')) return false;
    stack.pop();
    const rest = parts.slice(i + 1);
    return resolvesInside(root, [...stack, ...target.split('/'), ...rest].join('/'), hops + 1);
  }
  return true;
}

export interface ExtractedEntry {
  /** Path relative to the destination folder. */
  path: string;
  size: number;
  type: 'file' | 'directory' | 'symlink' | 'link';
}

export interface ExtractResult {
  /** The entries written (at most `listLimit` of them). */
  files: ExtractedEntry[];
  /** How many entries were written in all. */
  count: number;
  /** True when `files` lists fewer entries than were written. */
  files_truncated: boolean;
  /** Bytes of regular-file content written. */
  bytes: number;
  /** Entries that cannot be created without privileges (devices, fifos), not written. */
  skipped: { path: string; type: string }[];
}

export interface ExtractOptions {
  /** Replace top-level entries that already exist in `dest` (default: refuse). */
  overwrite?: boolean;
  operation?: string;
  /** Longest `files` list returned (default 10 000). */
  listLimit?: number;
}

type EntryType = NonNullable<Header['type']>;

/**
 * Extracts a tar stream into the existing folder `dest`. An unsafe entry
 * anywhere in the archive refuses the whole copy with STREAM_ERROR and
 * leaves `dest` as it was; a cut stream does the same.
 */
export async function extractArchive(source: Readable, dest: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const destDir = resolve(dest);
  const staging = await mkdtemp(join(destDir, '.dc-extract-')).catch((err: NodeJS.ErrnoException) => {
    throw new ConnectorError('INVALID_PARAMS', `Invalid parameter dest: cannot write in ${destDir} (${err.code ?? err.message})`, { operation: opts.operation });
  });
  const listLimit = opts.listLimit ?? 10_000;
  const result: ExtractResult = { files: [], count: 0, files_truncated: false, bytes: 0, skipped: [] };
  const symlinks: string[] = [];
  const dirModes: { path: string; mode: number; mtime: Date | undefined }[] = [];
  const knownDirs = new Set<string>(['']);

  const record = (entry: ExtractedEntry) => {
    result.count++;
    if (result.files.length < listLimit) result.files.push(entry);
    else result.files_truncated = true;
  };

  /** Makes sure every parent of `rel` is a real folder (never a symlink), creating missing ones. */
  const ensureParents = async (rel: string) => {
    const parts = rel.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (knownDirs.has(dir)) continue;
      const full = pathInside(staging, dir);
      const st = await lstat(full).catch(() => undefined);
      if (!st) await mkdir(full, { mode: 0o700 });
      else if (!st.isDirectory()) throw new UnsafeEntryError(rel, `would be written through "${dir}", which is not a folder (a symlink or file)`);
      knownDirs.add(dir);
    }
  };

  /** Clears the way for a new entry at `full`; an existing folder is only kept for a folder entry. */
  const clearTarget = async (rel: string, full: string, type: EntryType) => {
    const st = await lstat(full).catch(() => undefined);
    if (!st) return;
    if (st.isDirectory()) {
      if (type === 'directory') return;
      throw new UnsafeEntryError(rel, 'replaces a folder written earlier in the archive');
    }
    knownDirs.delete(rel);
    await unlink(full);
  };

  const handle = async (header: Header, body: AsyncIterable<Buffer>) => {
    const rel = archiveEntryPath(header.name);
    const type: EntryType = header.type ?? 'file';
    if (rel === '') return; // "./": the root folder itself
    await ensureParents(rel);
    const full = pathInside(staging, rel);
    await clearTarget(rel, full, type);
    const mode = (header.mode ?? 0o644) & 0o777; // never setuid/setgid/sticky from a container
    switch (type) {
      case 'file':
      case 'contiguous-file': {
        const out = createWriteStream(full, { flags: 'wx', mode: 0o600 });
        let size = 0;
        try {
          for await (const chunk of body) {
            size += chunk.length;
            // events.once rejects on 'error' and removes both listeners when either fires.
            if (!out.write(chunk)) await once(out, 'drain');
          }
          await new Promise<void>((ok, fail) => out.end(() => ok()).once('error', fail));
        } catch (err) {
          out.destroy();
          throw err;
        }
        await chmod(full, mode);
        if (header.mtime) await utimes(full, header.mtime, header.mtime);
        result.bytes += size;
        record({ path: rel, size, type: 'file' });
        return;
      }
      case 'directory':
        if (!knownDirs.has(rel)) await mkdir(full, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
        knownDirs.add(rel);
        dirModes.push({ path: full, mode, mtime: header.mtime });
        record({ path: rel, size: 0, type: 'directory' });
        return;
      case 'symlink': {
        const target = header.linkname ?? '';
        if (!symlinkTargetInside(rel, target)) throw new UnsafeEntryError(rel, `is a symlink pointing outside the destination ("${target}")`);
        await symlink(target, full);
        symlinks.push(rel);
        record({ path: rel, size: 0, type: 'symlink' });
        return;
      }
      case 'link': {
        // A hard link names another entry of the same archive.
        const targetRel = archiveEntryPath(header.linkname ?? '');
        const targetFull = pathInside(staging, targetRel);
        const st = targetRel ? await lstat(targetFull).catch(() => undefined) : undefined;
        if (!st?.isFile() || !(await resolvesInside(staging, targetRel))) {
          throw new UnsafeEntryError(rel, `is a hard link to "${header.linkname}", which is not a file extracted from this archive`);
        }
        await link(targetFull, full);
        record({ path: rel, size: st.size, type: 'link' });
        return;
      }
      default:
        // Devices and fifos need privileges and are never what a copy is for.
        result.skipped.push({ path: rel, type });
        return;
    }
  };

  // Imported on first use, not at the top: see packStream in build-context.ts for what it costs.
  const { extract } = await loadTarStream();
  const ex = extract();
  let current: { destroy(err?: Error): void } | undefined;
  // pipeline, not pipe: a source that failed before we got here (a cut
  // stream, already destroyed) still ends the extraction with its error.
  // The entry being read is failed too: destroying the extractor alone
  // leaves that entry's reader waiting forever.
  pipeline(source, ex as unknown as NodeJS.WritableStream, (err) => {
    if (!err) return;
    current?.destroy(err);
    ex.destroy(err);
  });
  try {
    for await (const entry of ex) {
      current = entry;
      await handle(entry.header, entry as AsyncIterable<Buffer>);
      entry.resume(); // drains anything a skipped entry still holds
    }
    for (const rel of symlinks) {
      if (!(await resolvesInside(staging, rel))) throw new UnsafeEntryError(rel, 'is a symlink that resolves outside the destination through other links');
    }
    // Folder modes last, deepest first, so a read-only folder does not block its own content.
    for (const d of dirModes.reverse()) {
      await chmod(d.path, d.mode | 0o700);
      if (d.mtime) await utimes(d.path, d.mtime, d.mtime).catch(() => {});
    }
    await moveIntoPlace(staging, destDir, Boolean(opts.overwrite));
    return result;
  } catch (err) {
    source.destroy();
    throw toExtractError(err, opts.operation);
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
  }
}

/** Renames the staging folder's top-level entries into `dest`, refusing (before moving any) to replace existing ones unless asked. */
async function moveIntoPlace(staging: string, dest: string, overwrite: boolean): Promise<void> {
  const names = await readdir(staging);
  const existing: string[] = [];
  for (const name of names) {
    if (await lstat(join(dest, name)).then(() => true, () => false)) existing.push(name);
  }
  if (existing.length && !overwrite) {
    throw new ConnectorError('INVALID_PARAMS', `Invalid parameter dest: ${existing.map((n) => join(dest, n)).join(', ')} already exists; pass overwrite: true to replace it`, {
      details: { existing },
    });
  }
  for (const name of existing) await rm(join(dest, name), { recursive: true, force: true });
  for (const name of names) await rename(join(staging, name), join(dest, name));
}

function toExtractError(err: unknown, operation: string | undefined): ConnectorError {
  if (err instanceof UnsafeEntryError) {
    return new ConnectorError('STREAM_ERROR', `Refused the archive, nothing was written: ${err.message}`, {
      operation,
      details: { entry: err.entry, reason: err.reason },
    });
  }
  if (err instanceof ConnectorError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.syscall) {
    // A local file-system failure (disk full, permissions), not the Engine's.
    return new ConnectorError('STREAM_ERROR', `Writing the copy failed, nothing was written: ${e.code ?? e.message}`, { operation, cause: err });
  }
  if (/Unexpected end of data|Invalid tar header|checksum/i.test(e?.message ?? '')) {
    return new ConnectorError('STREAM_ERROR', `The archive from the Engine is cut or malformed (${e.message}); nothing was written`, { operation, cause: err });
  }
  return toStreamError(err, operation);
}
