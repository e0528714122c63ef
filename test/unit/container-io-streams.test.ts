import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CappedOutput, OutputPump, type OutStream } from '../../src/operations/shared/output-pump.js';
import { LogLineSplitter } from '../../src/operations/logs.js';

function frame(stream: number, text: string | Buffer): Buffer {
  const payload = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Splits a buffer at the given cut points (any place: inside headers too). */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(buf.subarray(last, p));
    last = p;
  }
  out.push(buf.subarray(last));
  return out.filter((b) => b.length > 0);
}

async function pumpAll(chunks: Buffer[], raw: boolean): Promise<{ how: string; out: Record<OutStream, string> }> {
  const out: Record<OutStream, string> = { stdout: '', stderr: '' };
  const pump = new OutputPump(Readable.from(chunks), raw, (s, c) => (out[s] += c.toString()), 'test');
  return { how: await pump.done, out };
}

describe('OutputPump', () => {
  it('demultiplexes stdout/stderr however the frames are split across chunks', async () => {
    const body = Buffer.concat([frame(1, 'out-1\n'), frame(2, 'err-1\n'), frame(0, 'in\n'), frame(1, 'x'.repeat(3000)), frame(2, 'err-2\n')]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 12 }), async (cuts) => {
        const { how, out } = await pumpAll(split(body, cuts), false);
        expect(how).toBe('end');
        expect(out).toEqual({ stdout: `out-1\nin\n${'x'.repeat(3000)}`, stderr: 'err-1\nerr-2\n' });
      }),
      { numRuns: 60 },
    );
  });

  it('passes a TTY stream through raw', async () => {
    const { out } = await pumpAll([Buffer.from([1, 0, 0, 0]), Buffer.from('plain\r\n')], true);
    expect(out.stdout).toBe('\u0001\0\0\0plain\r\n');
  });

  it('fails on a daemon error frame (stream 3), never passing it as output', async () => {
    await expect(pumpAll([frame(1, 'ok\n'), frame(3, 'log driver broke'), frame(1, 'more')], false)).rejects.toMatchObject({
      code: 'ENGINE_ERROR',
      message: expect.stringContaining('log driver broke'),
    });
  });

  it('fails on a stream ending inside a frame, and on garbage', async () => {
    await expect(pumpAll([frame(1, 'complete'), frame(2, 'cut short').subarray(0, 10)], false)).rejects.toMatchObject({ code: 'STREAM_ERROR' });
    await expect(pumpAll([Buffer.from('HTTP/1.1 500 oops\r\n\r\n')], false)).rejects.toMatchObject({ code: 'STREAM_ERROR', message: expect.stringContaining('malformed') });
  });

  it('fails on a body that errors (connection cut)', async () => {
    const body = new PassThrough();
    const pump = new OutputPump(body, false, () => {}, 'test');
    body.write(frame(1, 'partial'));
    body.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    await expect(pump.done).rejects.toMatchObject({ code: 'STREAM_ERROR' });
  });

  it('stop() ends on purpose: resolves "stopped", delivers nothing more, releases the body', async () => {
    const body = new PassThrough();
    const got: string[] = [];
    const pump = new OutputPump(body, false, (_s, c) => got.push(c.toString()), 'test');
    body.write(frame(1, 'first'));
    await new Promise((r) => setImmediate(r));
    pump.stop();
    body.write(frame(1, 'late'));
    expect(await pump.done).toBe('stopped');
    expect(got).toEqual(['first']);
    expect(body.destroyed).toBe(true);
  });
});

describe('CappedOutput', () => {
  it('caps each stream on its own (exec) and keeps counting as truncated', () => {
    const c = new CappedOutput(5, false);
    c.add('stdout', Buffer.from('abc'));
    c.add('stderr', Buffer.from('12345678'));
    c.add('stdout', Buffer.from('defg'));
    expect(c.text('stdout')).toBe('abcde');
    expect(c.text('stderr')).toBe('12345');
    expect(c.truncated).toBe(true);
  });

  it('caps both streams together (logs)', () => {
    const c = new CappedOutput(6, true);
    expect(c.add('stdout', Buffer.from('abcd')).toString()).toBe('abcd');
    expect(c.add('stderr', Buffer.from('xyz')).toString()).toBe('xy');
    expect(c.truncated).toBe(true);
    expect(c.add('stdout', Buffer.from('more'))).toHaveLength(0);
  });

  it('is not truncated when the output fits exactly', () => {
    const c = new CappedOutput(3, true);
    c.add('stdout', Buffer.from('abc'));
    expect(c.truncated).toBe(false);
  });
});

describe('LogLineSplitter', () => {
  it('splits timestamped output into lines per stream, across frames', () => {
    const s = new LogLineSplitter();
    s.push('stdout', '2024-05-01T10:00:00.000000001Z hel');
    s.push('stderr', '2024-05-01T10:00:00.5Z oops\r\n');
    s.push('stdout', 'lo world\n2024-05-01T10:00:01Z \n2024-05-01T10:00:02Z last');
    expect(s.flush()).toEqual([
      { stream: 'stderr', timestamp: '2024-05-01T10:00:00.5Z', text: 'oops' },
      { stream: 'stdout', timestamp: '2024-05-01T10:00:00.000000001Z', text: 'hello world' },
      { stream: 'stdout', timestamp: '2024-05-01T10:00:01Z', text: '' },
      { stream: 'stdout', timestamp: '2024-05-01T10:00:02Z', text: 'last' },
    ]);
  });
});
