import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ConnectorError } from '../errors.js';
import { toStreamError } from './json-stream.js';

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
  const out = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
  // A failing file (disk full, no permission) ends the read loop below.
  out.on('error', (err) => body.destroy(err));
  try {
    // Pulled with `for await`, not piped through a Transform: the body then comes in large
    // pieces rather than one small 'data' event per socket read (bench/: a 300 MiB export
    // ~2.5x fewer chunks, ~25% less CPU per MiB). A body cut short makes the loop throw.
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      opts.onBytes?.(bytes);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await finished(out);
    await rename(temp, full);
  } catch (err) {
    out.destroy();
    body.destroy();
    await unlink(temp).catch(() => {});
    throw toStreamError(err, opts.operation);
  }
  return { path: full, bytes, sha256: hash.digest('hex') };
}
