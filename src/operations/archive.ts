/**
 * Archives of a container's file system: container_export, and copies in
 * both directions (copy_from_container, copy_to_container), streamed, never
 * held in memory.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import type { Pack } from 'tar-stream';
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath } from '../engine/path.js';
import { checkDestination, writeStreamToFile } from '../files/file-sink.js';
import { extractArchive } from '../files/tar-safety.js';
import { loadTarStream } from '../files/tar-module.js';
import { byteProgress, defineOperation, requireParam, STREAM_TYPES, type OperationContext } from './define.js';
import { containerRef } from './shared/params.js';
import { fileWritten } from './shared/schemas/file-result.js';
import { slowCallTimeoutMs } from './shared/timeouts.js';

/**
 * Passes a body through a meter that reports bytes to the progress sink (at
 * most every 100 ms). A Transform, not a 'data' listener on the body: that
 * would start the flow before the consumer is attached and lose the first
 * chunks. Errors of the body reach the returned stream.
 */
function withByteProgress(ctx: OperationContext, body: Readable, label: string): Readable {
  let bytes = 0;
  let last = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        ctx.progress({ kind: 'bytes', bytes, label });
      }
      cb(null, chunk);
    },
    flush(cb) {
      ctx.progress({ kind: 'bytes', bytes, label });
      cb();
    },
  });
  return pipeline(body, meter, () => {});
}

const exportParams = z
  .object({
    container: containerRef,
    path: z.string().min(1).optional().describe('Local file to write the tar archive of the container\'s file system to (required, except for the stream form)'),
    overwrite: z.boolean().default(false).describe('Replace an existing file'),
  })
  .strict();

/** A parameter the stream form does without but the file form needs. */
async function openExport(ctx: OperationContext, container: string): Promise<Readable> {
  const res = await ctx.stream({ method: 'GET', path: enginePath`/containers/${container}/export` });
  return res.body;
}

export const containerExport = defineOperation({
  name: 'container_export',
  localPaths: ['path'],
  category: 'containers',
  title: 'Export a container\'s file system',
  description:
    'Streams the container\'s file system as a tar archive to a local file (GET /containers/{id}/export), never held in memory. The file appears only when the archive is complete; a failed or cut stream leaves no file.',
  params: exportParams,
  safety: 'read',
  idempotent: true,
  streaming: true,
  result: '{path, bytes, sha256}',
  resultSchema: fileWritten,
  async run(ctx, p) {
    const dest = await checkDestination(requireParam(ctx, p.path, 'path'), 'path', p.overwrite);
    // Progress counted by the sink itself: a Transform piped in between would cut the body
    // into one small piece per socket read again.
    const result = await writeStreamToFile(await openExport(ctx, p.container), dest, { operation: ctx.operation, overwrite: p.overwrite, onBytes: byteProgress(ctx, 'export') });
    ctx.progress({ kind: 'bytes', bytes: result.bytes, label: 'export' });
    return result;
  },
  async openStream(ctx, p) {
    return { stream: await openExport(ctx, p.container), contentType: STREAM_TYPES.tar };
  },
  streamContentType: STREAM_TYPES.tar,
  resultRequires: ['path'],
});

/* ---------------- copy_from_container / copy_to_container ---------------- */

const containerPath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\//, 'expected an absolute path in the container')
  .refine((s) => !s.includes('\0'), 'must not contain a NUL byte');

async function openArchive(ctx: OperationContext, container: string, path: string): Promise<Readable> {
  const res = await ctx.stream({ method: 'GET', path: enginePath`/containers/${container}/archive`, query: { path } });
  return res.body;
}

async function requireLocalDir(path: string, parameter: string): Promise<string> {
  const full = resolve(path);
  const st = await stat(full).catch(() => undefined);
  if (!st?.isDirectory()) throw new ConnectorError('INVALID_PARAMS', `Invalid parameter ${parameter}: ${full} is not an existing folder`);
  return full;
}

/** What copy_from_container extracted (src/files/tar-safety.ts, ExtractResult): the connector's own shape, closed. */
const copyFromResult = z.strictObject({
  files: z
    .array(
      z.strictObject({
        path: z.string().describe('Path relative to `dest`, "/"-separated'),
        size: z.number().int().min(0).describe('Bytes (0 for folders and symlinks)'),
        type: z.enum(['file', 'directory', 'symlink', 'link']).describe('Entry type ("link": a hard link)'),
      }),
    )
    .describe('Entries written, in archive order (at most 10 000)'),
  count: z.number().int().min(0).describe('Entries written in all'),
  files_truncated: z.boolean().describe('`files` lists fewer entries than `count`'),
  bytes: z.number().int().min(0).describe('Bytes of file content written'),
  skipped: z
    .array(z.strictObject({ path: z.string().describe('Path relative to `dest`'), type: z.string().describe('tar entry type, e.g. "character-device", "fifo"') }))
    .describe('Entries not written: devices and fifos'),
});

export const copyFromContainer = defineOperation({
  name: 'copy_from_container',
  localPaths: ['dest'],
  category: 'containers',
  title: 'Copy files out of a container',
  description:
    'Copies a file or folder from a container into a local folder (GET /containers/{id}/archive), streamed and extracted as it arrives. ' +
    'The archive is checked entry by entry: an entry that would land outside `dest` (a ".." or absolute name, a symlink or hard link pointing out) refuses the whole copy with STREAM_ERROR and nothing is written. ' +
    'Devices and fifos are skipped and listed in `skipped`.',
  params: z
    .object({
      container: containerRef,
      path: containerPath.describe('File or folder in the container (absolute path); a folder is copied with its name, "/dir/." copies its content'),
      dest: z.string().min(1).optional().describe('Existing local folder to copy into (required, except for the stream form)'),
      overwrite: z.boolean().default(false).describe('Replace files or folders of the same name already in `dest` (default: refuse)'),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  streaming: true,
  result: '{files: [{path, size, type}] (at most 10 000; files_truncated when more), count, bytes, skipped: [{path, type}]}',
  resultSchema: copyFromResult,
  async run(ctx, p) {
    const dest = await requireLocalDir(requireParam(ctx, p.dest, 'dest'), 'dest');
    const body = withByteProgress(ctx, await openArchive(ctx, p.container, p.path), 'copy');
    return extractArchive(body, dest, { overwrite: p.overwrite, operation: ctx.operation });
  },
  async openStream(ctx, p) {
    return { stream: await openArchive(ctx, p.container, p.path), contentType: STREAM_TYPES.tar };
  },
  streamContentType: STREAM_TYPES.tar,
  resultRequires: ['dest'],
});

interface PackStats {
  files: number;
  bytes: number;
}

/**
 * Streams a tar of a local file or folder, walking the tree as the archive
 * is read (one file open at a time, nothing buffered beyond the stream's
 * high-water mark). Entries are named from the source's own name, as
 * `docker cp` does: copying "/x/site" creates "site/…" in the container.
 * Symlinks are stored as links, never followed; sockets, fifos and devices
 * are left out. Owners are stored as 0:0: the Engine gives copied files to
 * the container's root anyway, and host ids are not its business.
 */
function packLocal(pack: Pack, src: string, stats: PackStats): Readable {
  const writeEntry = async (full: string, name: string) => {
    const st = await lstat(full);
    const base = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
    if (st.isDirectory()) {
      await addEntry(pack, { ...base, name: `${name}/`, type: 'directory' });
      stats.files++;
      for (const child of (await readdir(full)).sort()) await writeEntry(join(full, child), `${name}/${child}`);
    } else if (st.isSymbolicLink()) {
      await addEntry(pack, { ...base, type: 'symlink', linkname: await readlink(full) });
      stats.files++;
    } else if (st.isFile()) {
      let sink!: ReturnType<typeof pack.entry>;
      const done = new Promise<void>((ok, fail) => {
        sink = pack.entry({ ...base, type: 'file', size: st.size }, (err) => (err ? fail(err) : ok()));
      });
      // Read exactly the size announced in the header: a file growing meanwhile must not corrupt the archive.
      if (st.size > 0) {
        for await (const chunk of createReadStream(full, { end: st.size - 1 })) {
          if (!sink.write(chunk as Buffer)) await new Promise<void>((ok) => sink.once('drain', () => ok()));
        }
      }
      sink.end(undefined); // streamx's typing wants an argument; undefined ends without data
      await done;
      stats.files++;
      stats.bytes += st.size;
    }
  };
  const root = resolve(src);
  writeEntry(root, basename(root)).then(
    () => pack.finalize(),
    (err: Error) => pack.destroy(err),
  );
  return Readable.from(pack, { objectMode: false });
}

function addEntry(pack: Pack, header: Parameters<Pack['entry']>[0]): Promise<void> {
  return new Promise((ok, fail) => pack.entry(header, (err) => (err ? fail(err) : ok())));
}

interface PathStat {
  name?: string;
  mode?: number;
  linkTarget?: string;
}

/** Go's os.FileMode bits of interest: the top bits mark folders and symlinks. */
const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;

export const copyToContainer = defineOperation({
  name: 'copy_to_container',
  localPaths: ['src'],
  category: 'containers',
  title: 'Copy files into a container',
  description:
    'Copies a local file or folder into a folder of a container (PUT /containers/{id}/archive); the tar archive is built as it is sent, never held in memory. ' +
    'A folder arrives under its own name ("./site" into "/srv" gives "/srv/site"). Files are owned by the container\'s root.',
  params: z
    .object({
      container: containerRef,
      src: z.string().min(1).describe('Local file or folder to copy'),
      path: containerPath.describe('Existing folder in the container to copy into (absolute path)'),
      no_overwrite_dir_non_dir: z.boolean().default(false).describe('Fail rather than replace a folder with a non-folder or the reverse'),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  streaming: true,
  result: '{files, bytes}: entries sent (files, folders, links) and bytes of file content',
  resultSchema: z.strictObject({
    files: z.number().int().min(0).describe('Entries sent: files, folders and symlinks'),
    bytes: z.number().int().min(0).describe('Bytes of file content sent'),
  }),
  async run(ctx, p) {
    const src = resolve(p.src);
    const st = await lstat(src).catch(() => undefined);
    if (!st) throw new ConnectorError('INVALID_PARAMS', `Invalid parameter src: ${src} does not exist`, { operation: ctx.operation });
    if (src === dirname(src)) throw new ConnectorError('INVALID_PARAMS', 'Invalid parameter src: copying the root folder "/" is refused', { operation: ctx.operation });
    await requireContainerDir(ctx, p.container, p.path);
    const stats: PackStats = { files: 0, bytes: 0 };
    // Imported on first use, not at the top: an export or copy_from_container need not load it
    // (see packStream in files/build-context.ts).
    const { pack: tarPack } = await loadTarStream();
    const body = withByteProgress(ctx, packLocal(tarPack(), src, stats), 'copy');
    await ctx.json({
      method: 'PUT',
      path: enginePath`/containers/${p.container}/archive`,
      query: { path: p.path, noOverwriteDirNonDir: p.no_overwrite_dir_non_dir || undefined },
      body,
      // A plain call with a total timeout: allow a large upload time to pass.
      timeoutMs: slowCallTimeoutMs(ctx, 3600),
    });
    return { files: stats.files, bytes: stats.bytes };
  },
});

/** The destination must be a folder: asked first (HEAD …/archive) so a wrong path fails before any upload. */
async function requireContainerDir(ctx: OperationContext, container: string, path: string): Promise<void> {
  let header: string | string[] | undefined;
  try {
    const res = await ctx.json({ method: 'HEAD', path: enginePath`/containers/${container}/archive`, query: { path } });
    header = res.headers['x-docker-container-path-stat'];
  } catch (err) {
    if (err instanceof ConnectorError && err.code === 'NOT_FOUND') {
      // HEAD answers carry no message: tell a missing container from a missing path.
      await ctx.json({ method: 'GET', path: enginePath`/containers/${container}/json` });
      throw new ConnectorError('INVALID_PARAMS', `Invalid parameter path: ${path} does not exist in container ${container}`, { operation: ctx.operation, status: 404 });
    }
    throw err;
  }
  if (typeof header !== 'string') return;
  let info: PathStat;
  try {
    info = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as PathStat;
  } catch {
    return; // an unreadable stat header: let the Engine judge the upload
  }
  const mode = info.mode ?? 0;
  const isDir = Math.floor(mode / GO_MODE_DIR) % 2 === 1;
  const isLink = Math.floor(mode / GO_MODE_SYMLINK) % 2 === 1;
  if (!isDir && !isLink) throw new ConnectorError('INVALID_PARAMS', `Invalid parameter path: ${path} in container ${container} is not a folder`, { operation: ctx.operation });
}

export const archiveOperations = [containerExport, copyFromContainer, copyToContainer] as const;
