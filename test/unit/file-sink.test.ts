import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeStreamToFile } from '../../src/files/file-sink.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dc-sink-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic pieces of varied sizes (1 byte to 200 KiB), each filled with its own index. */
function pieces(count: number): Buffer[] {
  const sizes = [1, 7, 512, 4096, 32 * 1024, 65 * 1024, 200 * 1024, 13];
  return Array.from({ length: count }, (_, i) => Buffer.alloc(sizes[i % sizes.length]!, i % 251));
}

const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

describe('writeStreamToFile', () => {
  it('writes every piece in order, with its size and sha256, however the body is paced', async () => {
    const parts = pieces(300);
    const whole = Buffer.concat(parts);
    // Some pieces arrive together, some after a pause: both the batched writev and single writes happen.
    async function* paced() {
      for (const [i, p] of parts.entries()) {
        if (i % 17 === 0) await new Promise((r) => setTimeout(r, 1));
        yield p;
      }
    }
    const dest = join(dir, 'out.tar');
    const seen: number[] = [];
    const r = await writeStreamToFile(Readable.from(paced(), { objectMode: false }), dest, { onBytes: (b) => seen.push(b) });
    expect(r).toEqual({ path: dest, bytes: whole.length, sha256: sha(whole) });
    expect(readFileSync(dest).equals(whole)).toBe(true);
    expect(statSync(dest).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['out.tar']); // no temporary file left
    expect(seen.at(-1)).toBe(whole.length);
    expect(seen.every((b, i) => i === 0 || b > seen[i - 1]!)).toBe(true);
  });

  it('pauses a body that outpaces the disk, and still writes all of it', async () => {
    // A synchronous source emits as fast as it is read: without back-pressure the sink would queue it all.
    let left = 48;
    const chunk = Buffer.alloc(256 * 1024, 7);
    const body = new Readable({
      read() {
        this.push(left-- > 0 ? chunk : null);
      },
    });
    let pauses = 0;
    const pause = body.pause.bind(body);
    body.pause = () => {
      pauses++;
      return pause();
    };
    const dest = join(dir, 'big');
    const r = await writeStreamToFile(body, dest);
    expect(pauses).toBeGreaterThan(0);
    expect(r.bytes).toBe(48 * chunk.length);
    expect(statSync(dest).size).toBe(48 * chunk.length);
    expect(r.sha256).toBe(sha(Buffer.concat(Array.from({ length: 48 }, () => chunk))));
  });

  it('writes an empty body as an empty file', async () => {
    const r = await writeStreamToFile(Readable.from([]), join(dir, 'empty'));
    expect(r).toMatchObject({ bytes: 0, sha256: sha(Buffer.alloc(0)) });
    expect(statSync(join(dir, 'empty')).size).toBe(0);
  });

  it.each([
    ['errors', (b: PassThrough) => b.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))],
    ['closes without an end', (b: PassThrough) => b.destroy()],
  ])('a body that %s midway: STREAM_ERROR, no file, no temporary file', async (_what, cut) => {
    const body = new PassThrough();
    const dest = join(dir, 'cut');
    const promise = writeStreamToFile(body, dest, { operation: 'container_export' });
    body.write(Buffer.alloc(100_000, 1));
    await new Promise((r) => setTimeout(r, 20));
    cut(body);
    await expect(promise).rejects.toMatchObject({ code: 'STREAM_ERROR', operation: 'container_export' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a body cut before the file is even open fails the same way (no unhandled error)', async () => {
    const body = new PassThrough();
    const promise = writeStreamToFile(body, join(dir, 'early'));
    body.destroy(new Error('socket hang up'));
    await expect(promise).rejects.toMatchObject({ code: 'STREAM_ERROR' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a cut body leaves an existing file as it was, even with overwrite', async () => {
    const dest = join(dir, 'keep');
    writeFileSync(dest, 'old content');
    const body = new PassThrough();
    const promise = writeStreamToFile(body, dest, { overwrite: true });
    body.write(Buffer.alloc(10_000, 2));
    setTimeout(() => body.destroy(new Error('aborted')), 10);
    await expect(promise).rejects.toMatchObject({ code: 'STREAM_ERROR' });
    expect(readFileSync(dest, 'utf8')).toBe('old content');
    expect(readdirSync(dir)).toEqual(['keep']);
  });

  it('a file that cannot be created fails with STREAM_ERROR and releases the body', async () => {
    const body = new PassThrough();
    await expect(writeStreamToFile(body, join(dir, 'no-such-folder', 'x'))).rejects.toMatchObject({ code: 'STREAM_ERROR', message: expect.stringContaining('ENOENT') });
    expect(body.destroyed).toBe(true);
  });

  it('a progress callback that throws fails the call and leaves nothing', async () => {
    const dest = join(dir, 'progress');
    const err = await writeStreamToFile(Readable.from([Buffer.alloc(10, 1)]), dest, {
      onBytes: () => {
        throw new Error('listener broke');
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STREAM_ERROR' });
    expect(readdirSync(dir)).toEqual([]);
  });
});
