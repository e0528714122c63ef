import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameParser, type FrameStream } from '../../src/engine/frames.js';
import { readProgress } from '../../src/engine/json-stream.js';
import { encodeRegistryAuth } from '../../src/engine/registry-auth.js';
import { mapHttpError, tlsErrorMessage } from '../../src/engine/error-map.js';

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function demux(chunks: Buffer[]): Record<FrameStream, string> {
  const out: Record<FrameStream, string> = { stdout: '', stderr: '', error: '' };
  const p = new FrameParser((s, b) => (out[s] += b.toString()));
  for (const c of chunks) p.push(c);
  expect(p.partial).toBe(false);
  return out;
}

describe('FrameParser', () => {
  it('routes stdin/stdout to stdout, stderr to stderr, daemon errors apart', () => {
    const all = Buffer.concat([frame(0, 'in '), frame(1, 'out '), frame(2, 'err'), frame(3, 'boom'), frame(1, 'end')]);
    expect(demux([all])).toEqual({ stdout: 'in out end', stderr: 'err', error: 'boom' });
  });

  it('gives the same result however the bytes are split (headers included)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(1, 2), fc.string({ maxLength: 40 })), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 40 }),
        (frames, cuts) => {
          const all = Buffer.concat(frames.map(([s, t]) => frame(s, t)));
          const chunks: Buffer[] = [];
          let at = 0;
          let i = 0;
          while (at < all.length) {
            const n = cuts[i++ % cuts.length]!;
            chunks.push(all.subarray(at, at + n));
            at += n;
          }
          const expected = { stdout: '', stderr: '', error: '' };
          for (const [s, t] of frames) expected[s === 1 ? 'stdout' : 'stderr'] += t;
          expect(demux(chunks)).toEqual(expected);
        },
      ),
    );
  });

  it('reports a stream cut inside a frame', () => {
    const p = new FrameParser(() => {});
    p.push(frame(1, 'hello').subarray(0, 10));
    expect(p.partial).toBe(true);
  });

  it('rejects garbage instead of misrouting it', () => {
    const p = new FrameParser(() => {});
    expect(() => p.push(Buffer.from('HTTP/1.1 200 OK\r\n'))).toThrow(/unknown stream type/);
  });
});

describe('readProgress', () => {
  const body = (...lines: string[]) => Readable.from(lines.map((l) => Buffer.from(l)));

  it('reads split lines to the end and collects aux messages', async () => {
    const r = await readProgress(body('{"status":"Pulling"}\n{"sta', 'tus":"Done"}\n{"aux":{"Digest":"sha256:x"}}'));
    expect(r.count).toBe(3);
    expect(r.messages.map((m) => m.status)).toEqual(['Pulling', 'Done', undefined]);
    expect(r.aux).toEqual([{ Digest: 'sha256:x' }]);
  });

  it('turns an errorDetail inside a 200 stream into STREAM_ERROR with the Engine message', async () => {
    await expect(readProgress(body('{"status":"a"}\n{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\n'))).rejects.toMatchObject({
      code: 'STREAM_ERROR',
      message: 'manifest unknown',
    });
    await expect(readProgress(body('{"error":"old style"}\n'))).rejects.toMatchObject({ code: 'STREAM_ERROR', message: 'old style' });
  });

  it('treats a cut stream as STREAM_ERROR', async () => {
    const cut = new Readable({
      read() {
        this.push('{"status":"a"}\n');
        this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      },
    });
    await expect(readProgress(cut)).rejects.toMatchObject({ code: 'STREAM_ERROR' });
  });
});

describe('registry auth', () => {
  it('is base64url JSON with padding', () => {
    const v = encodeRegistryAuth({ username: 'u', password: 'p?>', serveraddress: '127.0.0.1:5000' });
    expect(v).not.toMatch(/[+/]/);
    expect(v.length % 4).toBe(0);
    const decoded = JSON.parse(Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString());
    expect(decoded).toEqual({ username: 'u', password: 'p?>', serveraddress: '127.0.0.1:5000' });
    // A payload whose length forces padding keeps its '='.
    expect(encodeRegistryAuth({ username: 'ab' })).toMatch(/=+$/);
  });
  it('sends only the identity token when one is given', () => {
    const v = encodeRegistryAuth({ username: 'u', password: 'p', identitytoken: 'tok' });
    expect(JSON.parse(Buffer.from(v, 'base64url').toString())).toEqual({ identitytoken: 'tok' });
  });
});

describe('error mapping', () => {
  it('maps statuses to stable codes with the Engine message', () => {
    expect(mapHttpError(404, '{"message":"No such container: x"}', 'application/json', {})).toMatchObject({ code: 'NOT_FOUND', status: 404, message: expect.stringContaining('No such container: x') });
    expect(mapHttpError(409, '{"message":"conflict"}', undefined, {}).code).toBe('CONFLICT');
    expect(mapHttpError(500, '{"message":"boom"}', undefined, {}).code).toBe('ENGINE_ERROR');
    expect(mapHttpError(503, '', undefined, {}).code).toBe('UNAVAILABLE');
    expect(mapHttpError(401, '<html><body>401 Authorization Required</body></html>', 'text/html', {})).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('401 Authorization Required') });
  });
  it('caps a huge non-JSON body', () => {
    const e = mapHttpError(502, 'x'.repeat(50_000), 'text/html', {});
    expect(e.message.length).toBeLessThan(1200);
    expect(e.message).toMatch(/truncated/);
  });
  it('names both versions when the Engine refuses the API version', () => {
    const e = mapHttpError(400, '{"message":"client version 1.30 is too old. Minimum supported API version is 1.40, please upgrade your client to a newer version"}', 'application/json', {});
    expect(e.code).toBe('API_VERSION_UNSUPPORTED');
    expect(e.message).toMatch(/1\.30/);
    expect(e.message).toMatch(/1\.40/);
    const n = mapHttpError(400, '{"message":"client version 1.99 is too new. Maximum supported API version is 1.41"}', 'application/json', {});
    expect(n.message).toMatch(/1\.99 is too new.*maximum is 1\.41/);
  });
  it('gives TLS failures human messages', () => {
    expect(tlsErrorMessage(Object.assign(new Error('x'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'https://h:1')).toMatch(/unknown authority/);
    expect(tlsErrorMessage(Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID', cert: { subjectaltname: 'DNS:a' } }), 'https://h:1')).toMatch(/hostname mismatch \(certificate is for DNS:a\)/);
    expect(tlsErrorMessage(Object.assign(new Error('alert'), { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' }), 'https://h:1')).toMatch(/requires a client certificate/);
    expect(tlsErrorMessage(Object.assign(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'https://h:1')).toMatch(/is this a TLS endpoint/);
    expect(tlsErrorMessage(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'https://h:1')).toBeUndefined();
  });
});
