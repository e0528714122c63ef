import { createHash, randomBytes } from 'node:crypto';
import { access, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ConnectorError } from '../errors.js';
import { toStreamError } from '../engine/json-stream.js';

export interface FileSinkResult {
  path: string;
  bytes: number;
  sha256: string;
}

export interface FileSinkOptions {
  operation?: string;
  /** Replace an existing file. Off by default: an export never clobbers a file silently. */
  overwrite?: boolean;
  /** Called with the bytes written so far after each piece (progress). */
  onBytes?: (bytes: number) => void;
}

/**
 * Pieces are gathered until this many bytes (or the end of the body) and
 * written with one writev: written as they came, a large export or log took
 * one write per socket read (measurements: bench/README.md, "File sink").
 */
const MIN_WRITE_BYTES = 256 * 1024;

/**
 * Bytes received but not yet handed to the disk past which the body is
 * paused (the socket then stops being read): reached only when the disk is
 * slower than the Engine. At most about twice this is held: the queue and
 * the write in flight.
 */
const MAX_QUEUED_BYTES = 1024 * 1024;

/** Refuses a destination that exists (unless overwrite) or whose folder does not. */
export async function checkDestination(path: string, parameter: string, overwrite: boolean | undefined): Promise<string> {
  const full = resolve(path);
  try {
    await access(dirname(full));
  } catch {
    throw new ConnectorError('INVALID_PARAMS', `Invalid parameter ${parameter}: folder ${dirname(full)} does not exist`);
  }
  if (!overwrite) {
    const exists = await access(full).then(
      () => true,
      () => false,
    );
    if (exists) throw new ConnectorError('INVALID_PARAMS', `Invalid parameter ${parameter}: ${full} exists; pass overwrite: true to replace it`);
  }
  return full;
}

/**
 * Streams a body to disk under a temporary name, hashing as it goes, and
 * renames it into place only when the stream ended cleanly. A cut or failed
 * stream leaves no file behind. Memory stays flat whatever the size.
 */
export async function writeStreamToFile(body: Readable, path: string, opts: FileSinkOptions = {}): Promise<FileSinkResult> {
  const full = resolve(path);
  const temp = join(dirname(full), `.${basename(full)}.${randomBytes(6).toString('hex')}.part`);
  const hash = createHash('sha256');
  let bytes = 0;
  let file: FileHandle | undefined;
  // Watched from the start, not once the file is open: a body cut meanwhile still fails the
  // call (and its 'error' is never unhandled). Rejects on an error or a close before the end.
  const ended = finished(body);
  ended.catch(() => {}); // observed in drainTo; this only keeps an early failure from going unhandled
  try {
    file = await open(temp, 'wx', 0o600);
    await drainTo(body, ended, file, (chunk) => {
      hash.update(chunk);
      bytes += chunk.length;
      opts.onBytes?.(bytes);
    });
    const closing = file;
    file = undefined;
    await closing.close();
    await rename(temp, full);
  } catch (err) {
    body.destroy();
    await file?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw toStreamError(err, opts.operation);
  }
  return { path: full, bytes, sha256: hash.digest('hex') };
}

/**
 * Writes every piece of `body` to `file` in order; resolves once the body
 * ended and all of it is written, rejects on a cut body or a failed write.
 *
 * Pieces are taken as they come ('data'), gathered, and written together
 * with one writev: the body is never copied. The former `for await` +
 * WriteStream.write concatenated the pieces buffered in the body into a new
 * buffer on every read, and those copies kept V8 collecting.
 *
 * The peak RSS of such a transfer is not held here: in flight are at most
 * MAX_QUEUED_BYTES plus one write. It is garbage: node:http allocates every
 * socket read and copies every body piece, and V8 collects those buffers
 * only in batches (measurements: bench/README.md, "File sink").
 */
function drainTo(body: Readable, ended: Promise<void>, file: FileHandle, onPiece: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let queue: Buffer[] = [];
    let queued = 0;
    let writing = false;
    let done = false;
    let paused = false;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      body.off('data', onData);
      reject(err);
    };
    const flush = () => {
      if (writing || failed) return;
      if (!done && queued < MIN_WRITE_BYTES) return;
      if (queue.length === 0) return resolvePromise(); // the body ended and all of it is written
      const batch = queue;
      queue = [];
      queued = 0;
      writing = true;
      if (paused) {
        paused = false;
        body.resume();
      }
      writeAll(file, batch).then(() => {
        writing = false;
        flush();
      }, fail);
    };
    const onData = (chunk: Buffer) => {
      if (failed) return;
      try {
        onPiece(chunk);
      } catch (err) {
        return fail(err);
      }
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= MAX_QUEUED_BYTES && !paused) {
        paused = true;
        body.pause();
      }
      flush();
    };
    body.on('data', onData);
    body.resume(); // in case it was paused before it reached us
    // A cut body must never pass as whole: only a clean end lets the last write finish the call.
    ended.then(() => {
      done = true;
      flush();
    }, fail);
  });
}

/** One writev, then whatever a short write left (a filling disk: the next write reports why). */
async function writeAll(file: FileHandle, pieces: Buffer[]): Promise<void> {
  let rest = pieces;
  for (;;) {
    const { bytesWritten } = await file.writev(rest);
    let done = bytesWritten;
    let i = 0;
    while (i < rest.length && done >= rest[i]!.length) done -= rest[i++]!.length;
    if (i === rest.length) return;
    if (bytesWritten === 0) throw Object.assign(new Error('The file accepted no more bytes'), { code: 'EIO', syscall: 'write' });
    rest = [rest[i]!.subarray(done), ...rest.slice(i + 1)];
  }
}
