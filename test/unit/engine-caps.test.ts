/**
 * Caps on what the Engine client holds in memory (issue #13, 2.6): one line
 * of a newline-delimited stream (1 MiB) and one successful answer read whole
 * (64 MiB). Past either, STREAM_ERROR naming the cap, without reading on.
 * The buffered-body cap is exercised through the client's two transports
 * against a local HTTP server that answers bodies of a chosen size (the real
 * Engine never sends 64 MiB to a buffered call; see
 * test/integration/engine-defects.test.ts for the same through a real Engine).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { EngineClient } from '../../src/engine/client.js';
import { readProgress } from '../../src/engine/json-stream.js';

const MiB = 1024 * 1024;

/**
 * A body of `total` bytes of `fill` (then `tail`), handed out in 64 KiB pieces as they are
 * read; `pulled` says how many bytes the consumer took.
 */
function source(total: number, fill = 'a', tail = ''): { body: Readable; pulled: () => number } {
  let pulled = 0;
  const piece = Buffer.alloc(64 * 1024, fill);
  const body = new Readable({
    read() {
      if (pulled >= total) {
        if (tail) this.push(tail);
        this.push(null);
        return;
      }
      const n = Math.min(piece.length, total - pulled);
      pulled += n;
      this.push(piece.subarray(0, n));
    },
  });
  return { body, pulled: () => pulled };
}

describe('line cap (progress streams)', () => {
  it('fails a line of 1 MiB + 1 with no newline with STREAM_ERROR naming the cap', async () => {
    const { body } = source(MiB + 1);
    const err = await readProgress(body, { operation: 'pull_image' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'STREAM_ERROR', operation: 'pull_image', message: expect.stringContaining('1 MiB'), details: { cap: 'line', cap_bytes: MiB } });
  });

  it('stops reading a line with no end at the cap: memory stays bounded', async () => {
    // 16 times the cap offered: an unbounded reader takes it all and holds it as one string.
    const { body, pulled } = source(16 * MiB);
    // (A success is reported by its size: a diff of a 16 MiB string would take the test runner minutes.)
    const outcome = await readProgress(body).then(
      (r) => ({ resolved: r.count }),
      (e: unknown) => e,
    );
    expect(outcome).toMatchObject({ code: 'STREAM_ERROR', message: expect.stringContaining('1 MiB line cap') });
    // The cap, plus what the stream buffers ahead of the reader.
    expect(pulled()).toBeLessThan(MiB + 256 * 1024);
    expect(body.destroyed).toBe(true);
  });

  it('refuses a too long line that arrives whole in one chunk, and accepts one of exactly 1 MiB', async () => {
    const tooLong = Readable.from([Buffer.from(`{"stream":"${'x'.repeat(MiB)}"}\n{"status":"after"}\n`)]);
    const outcome = await readProgress(tooLong).then(
      (r) => ({ resolved: r.count }),
      (e: unknown) => e,
    );
    expect(outcome).toMatchObject({ code: 'STREAM_ERROR', details: { cap: 'line', cap_bytes: MiB } });
    const line = `{"stream":"${'x'.repeat(MiB - 13)}"}`;
    expect(line.length).toBe(MiB);
    const ok = await readProgress(Readable.from([line.slice(0, 1000), line.slice(1000), '\r\n{"status":"Done"}']));
    expect(ok.count).toBe(2);
    expect((ok.messages[0]!.stream as string).length).toBe(MiB - 13);
    expect(ok.messages[1]!.status).toBe('Done');
  });
});

describe.each(['node', 'undici'] as const)('body cap of buffered answers over %s', (transport) => {
  let server: http.Server;
  let host: string;
  /** Bytes the server managed to write for the last answer (it stops when the client goes away). */
  let written = 0;

  beforeAll(async () => {
    // GET /bytes/N[/chunked]: a JSON array padded with spaces to N bytes, with or without Content-Length.
    server = http.createServer((req, res) => {
      const m = /\/bytes\/(\d+)(\/chunked)?$/.exec(req.url ?? '');
      if (!m) return res.writeHead(404).end('{"message":"no"}');
      const total = Number(m[1]);
      res.writeHead(200, { 'content-type': 'application/json', ...(m[2] ? {} : { 'content-length': String(total) }) });
      written = 0;
      const piece = Buffer.alloc(256 * 1024, ' ');
      const more = (): void => {
        while (written < total && !res.destroyed) {
          const n = Math.min(piece.length, total - written);
          const chunk = Buffer.from(piece.subarray(0, n));
          if (written === 0) chunk[0] = 0x5b; // [
          if (written + n === total) chunk[n - 1] = 0x5d; // ]
          written += n;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        if (!res.destroyed) res.end();
      };
      res.on('close', () => res.destroy());
      more();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const client = (maxBodyBytes?: number) => {
    // A pinned version: no ping, only the calls the test makes.
    const { config } = loadConfig({ options: { host, api_version: '1.41', rate_limit: 0, retry_attempts: 0 }, env: {} });
    return new EngineClient(config, maxBodyBytes === undefined ? { transport } : { transport, maxBodyBytes });
  };

  it.each([false, true])('reads an answer of exactly 64 MiB by default and refuses 64 MiB + 1 with STREAM_ERROR naming the cap (chunked: %s)', async (chunked) => {
    const c = client();
    try {
      const ok = await c.json<unknown[]>({ method: 'GET', path: `/bytes/${64 * MiB}${chunked ? '/chunked' : ''}` });
      expect(ok.body).toEqual([]);
      const err = await c.json({ method: 'GET', path: `/bytes/${64 * MiB + 1}${chunked ? '/chunked' : ''}`, operation: 'list_containers' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'STREAM_ERROR', operation: 'list_containers', message: expect.stringContaining('64 MiB cap'), details: { cap: 'body', cap_bytes: 64 * MiB } });
    } finally {
      c.close();
    }
  });

  it('stops reading an answer past a configured cap', async () => {
    const c = client(MiB);
    try {
      // (A success is reported by its size: a diff of a 128 MiB body would take the test runner minutes.)
      const outcome = await c.text({ method: 'GET', path: `/bytes/${128 * MiB}/chunked` }).then(
        (r) => ({ resolvedBytes: r.body.length }),
        (e: unknown) => e,
      );
      expect(outcome).toMatchObject({ code: 'STREAM_ERROR', details: { cap: 'body', cap_bytes: MiB } });
      // The server stopped soon after the client did (what the socket buffers took is written, no more).
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(written).toBeLessThan(32 * MiB);
      // Nothing is left broken: the next call answers.
      expect((await c.json({ method: 'GET', path: '/bytes/2' })).body).toEqual([]);
      // A HEAD answer has no body: its Content-Length (the GET answer's size) is not held against the cap.
      const head = await c.text({ method: 'HEAD', path: `/bytes/${2 * MiB}` });
      expect([head.status, head.headers['content-length'], head.body]).toEqual([200, String(2 * MiB), '']);
    } finally {
      c.close();
    }
  });
});
