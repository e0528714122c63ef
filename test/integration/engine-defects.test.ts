/**
 * Engine-layer defects of issue #13 (2.3, 2.5, 2.6), through the built
 * package (`docker-connector`) against the real Engines:
 * - a 3xx answer is the Engine's ENGINE_ERROR with its status and Location,
 *   not the caller's INVALID_PARAMS;
 * - cancelling the call that started the shared API-version negotiation
 *   cancels that call only;
 * - a line with no end in a progress or events stream, and a buffered answer
 *   past the body cap, fail with STREAM_ERROR naming the cap, without reading on.
 * Faults come from a small HTTP forwarder in front of the Engine's socket: it
 * passes every request through untouched, except those a rule holds back or
 * answers itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerConnector, EngineClient, loadConfig } from 'docker-connector';
import { engines } from '../support/harness.js';

const TRANSPORTS = ['node', 'undici'] as const;
type Transport = (typeof TRANSPORTS)[number];
const MiB = 1024 * 1024;

interface Rule {
  match: (method: string, path: string) => boolean;
  answer: (req: http.IncomingMessage, res: http.ServerResponse, forward: () => void) => void;
}

/** An HTTP forwarder to the Engine's unix socket, with rules that hold or answer requests themselves. */
class Forwarder {
  readonly seen: string[] = [];
  rules: Rule[] = [];
  private readonly server: http.Server;

  constructor(private readonly socketPath: string) {
    this.server = http.createServer((req, res) => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      this.seen.push(`${method} ${path.split('?')[0]}`);
      const forward = () => this.forward(req, res);
      const rule = this.rules.find((r) => r.match(method, path));
      if (rule) rule.answer(req, res, forward);
      else forward();
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get host(): string {
    return `tcp://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const up = http.request({ socketPath: this.socketPath, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  }
}

/** A 200 answer that is one line with no end: `total` bytes of "a", written as fast as the client reads. */
function endlessLine(total: number, record: { written: number; closedEarly: boolean }) {
  return (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const piece = Buffer.alloc(64 * 1024, 'a');
    record.written = 0;
    record.closedEarly = false;
    res.on('close', () => {
      if (record.written < total || !res.writableFinished) record.closedEarly = true;
    });
    const more = (): void => {
      while (record.written < total && !res.destroyed) {
        record.written += piece.length;
        if (!res.write(piece)) return void res.once('drain', more);
      }
      if (!res.destroyed) res.end();
    };
    more();
  };
}

async function failureOf(call: Promise<unknown>): Promise<{ code: string; status?: number; message: string; details?: Record<string, unknown> }> {
  try {
    await call;
  } catch (err) {
    expect(err).toHaveProperty('code');
    return err as { code: string; status?: number; message: string; details?: Record<string, unknown> };
  }
  throw new Error('expected the call to fail');
}

const until = async (cond: () => boolean, what: string): Promise<void> => {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

function engineClient(host: string, transport: Transport, maxBodyBytes?: number): EngineClient {
  const { config } = loadConfig({ options: { host, rate_limit: 0, retry_delay: 0.02 }, env: {} });
  return new EngineClient(config, maxBodyBytes === undefined ? { transport } : { transport, maxBodyBytes });
}

describe.each(engines())('on Engine $name', (engine) => {
  let fwd: Forwarder;
  beforeAll(async () => {
    fwd = new Forwarder(engine.host.replace('unix://', ''));
    await fwd.start();
  });
  afterAll(async () => {
    await fwd.close();
  });

  describe.each(TRANSPORTS)('buffered calls over %s', (transport) => {
    it('reports a 301 from the Engine as ENGINE_ERROR with the status and the Location (2.3)', async () => {
      const c = engineClient(engine.host, transport);
      try {
        // The Engine answers 301 to a container name with a leading slash (%2F) in the path.
        const err = await failureOf(c.json({ method: 'GET', path: '/containers/%2Fdct-redirected/json', operation: 'inspect_container' }));
        const location = `/v${engine.apiVersion}/containers/dct-redirected/json`;
        expect(err).toMatchObject({ code: 'ENGINE_ERROR', status: 301, details: { location } });
        expect(err.message).toContain('301');
        expect(err.message).toContain(location);
      } finally {
        c.close();
      }
    });

    it('cancelling the call that started the version negotiation cancels that call only (2.5)', async () => {
      // The Engine's answers to /_ping are held until released: both calls then wait on one negotiation.
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      fwd.rules = [{ match: (_m, p) => p === '/_ping', answer: (_req, _res, forward) => void released.then(forward) }];
      const c = new DockerConnector({ host: fwd.host, rate_limit: 0, retry_delay: 0.02, env: {}, transport });
      try {
        const pingsBefore = fwd.seen.filter((s) => s.endsWith(' /_ping')).length;
        const first = new AbortController();
        const firstCall = c.execute('get_version', {}, { signal: first.signal });
        const firstOutcome = firstCall.then(
          () => 'succeeded',
          (err: unknown) => err,
        );
        await until(() => fwd.seen.filter((s) => s.endsWith(' /_ping')).length > pingsBefore, 'the negotiation ping');
        // Two more callers join the same negotiation: one with a signal of its own that stays, one with none.
        const second = c.execute('get_version', {}, { signal: new AbortController().signal });
        const third = c.execute('get_version', {});
        await new Promise((resolve) => setTimeout(resolve, 20));
        first.abort();
        // The first call fails with its own cancellation at once, while the ping is still held.
        expect(await firstOutcome).toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('cancelled') });
        release();
        const [v2, v3] = await Promise.all([second, third]);
        expect(v2).toMatchObject({ Version: engine.version, ApiVersion: engine.apiVersion });
        expect(v3).toMatchObject({ Version: engine.version });
      } finally {
        release();
        fwd.rules = [];
        c.close();
      }
    });

    it('a negotiation every waiter cancelled is stopped, and the next call negotiates afresh (2.5)', async () => {
      let closed = 0;
      fwd.rules = [
        {
          match: (_m, p) => p === '/_ping',
          answer: (_req, res) => {
            // Never answered: only the client can end it.
            res.on('close', () => closed++);
          },
        },
      ];
      const c = new DockerConnector({ host: fwd.host, rate_limit: 0, retry_delay: 0.02, env: {}, transport });
      try {
        const pingsBefore = fwd.seen.filter((s) => s.endsWith(' /_ping')).length;
        const a = new AbortController();
        const b = new AbortController();
        const calls = [c.execute('get_version', {}, { signal: a.signal }), c.execute('get_version', {}, { signal: b.signal })].map((p) =>
          p.then(
            () => 'succeeded',
            (err: unknown) => err,
          ),
        );
        await until(() => fwd.seen.filter((s) => s.endsWith(' /_ping')).length > pingsBefore, 'the negotiation ping');
        a.abort();
        await new Promise((resolve) => setTimeout(resolve, 20));
        // One waiter left: the ping goes on.
        expect(closed).toBe(0);
        b.abort();
        for (const outcome of await Promise.all(calls)) expect(outcome).toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('cancelled') });
        await until(() => closed === 1, 'the abandoned ping to be closed');
        fwd.rules = [];
        expect(await c.execute('get_version', {})).toMatchObject({ Version: engine.version });
      } finally {
        fwd.rules = [];
        c.close();
      }
    });

    it('refuses a buffered answer past the body cap with STREAM_ERROR naming it, with or without Content-Length (2.6)', async () => {
      const small = engineClient(engine.host, transport, 1000);
      const roomy = engineClient(engine.host, transport);
      try {
        // /version is small and sent with a Content-Length; /info is larger and sent chunked.
        const version = await roomy.text({ method: 'GET', path: '/version' });
        const info = await roomy.text({ method: 'GET', path: '/info' });
        expect(version.headers['content-length']).toBeDefined();
        expect(info.headers['content-length']).toBeUndefined();
        expect(info.body.length).toBeGreaterThan(1000);
        const tiny = engineClient(engine.host, transport, 100);
        try {
          expect(Buffer.byteLength(version.body)).toBeGreaterThan(100);
          const e1 = await failureOf(tiny.json({ method: 'GET', path: '/version', operation: 'get_version' }));
          expect(e1).toMatchObject({ code: 'STREAM_ERROR', message: expect.stringContaining('100 bytes cap'), details: { cap: 'body', cap_bytes: 100 } });
        } finally {
          tiny.close();
        }
        const e2 = await failureOf(small.json({ method: 'GET', path: '/info', operation: 'get_info' }));
        expect(e2).toMatchObject({ code: 'STREAM_ERROR', message: expect.stringContaining('1000 bytes cap'), details: { cap: 'body', cap_bytes: 1000 } });
        // The client still works after refusing an answer.
        expect((await small.text({ method: 'GET', path: '/_ping', versioned: false })).body).toBe('OK');
      } finally {
        small.close();
        roomy.close();
      }
    });

    it('stops an events stream at a line with no end: STREAM_ERROR naming the 1 MiB cap (2.6)', async () => {
      const record = { written: 0, closedEarly: false };
      const total = 64 * MiB;
      fwd.rules = [{ match: (m, p) => m === 'GET' && /^\/v[\d.]+\/events\?/.test(p), answer: endlessLine(total, record) }];
      const c = new DockerConnector({ host: fwd.host, rate_limit: 0, retry_delay: 0.02, env: {}, transport });
      try {
        const err = await failureOf(c.execute('system_events', { since: '1m' }));
        expect(err).toMatchObject({ code: 'STREAM_ERROR', message: expect.stringContaining('1 MiB line cap'), details: { cap: 'line', cap_bytes: MiB } });
        await until(() => record.closedEarly, 'the connector to close the events stream');
        // The cap and what the socket buffers held when the connector let go, far from the whole line.
        expect(record.written).toBeLessThan(16 * MiB);
      } finally {
        fwd.rules = [];
        c.close();
      }
    });

    it('stops a pull progress stream at a line with no end: STREAM_ERROR naming the 1 MiB cap (2.6)', async () => {
      const record = { written: 0, closedEarly: false };
      const total = 64 * MiB;
      fwd.rules = [{ match: (m, p) => m === 'POST' && /^\/v[\d.]+\/images\/create\?/.test(p), answer: endlessLine(total, record) }];
      const c = new DockerConnector({ host: fwd.host, rate_limit: 0, retry_delay: 0.02, env: {}, transport });
      try {
        const err = await failureOf(c.execute('pull_image', { image: `${engine.registry}/dct-never-pulled`, tag: 'x' }));
        expect(err).toMatchObject({ code: 'STREAM_ERROR', message: expect.stringContaining('1 MiB line cap'), details: { cap: 'line', cap_bytes: MiB } });
        await until(() => record.closedEarly, 'the connector to close the progress stream');
        // The cap and what the socket buffers held when the connector let go, far from the whole line.
        expect(record.written).toBeLessThan(16 * MiB);
      } finally {
        fwd.rules = [];
        c.close();
      }
    });
  });
});
