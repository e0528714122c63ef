import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    // A body that ends without error but short of its declared length is caught by Node as 'aborted'.
    await pipeline(body, meter, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
    await rename(temp, full);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw toStreamError(err, opts.operation);
  }
  return { path: full, bytes, sha256: hash.digest('hex') };
}
