/**
 * The Engine client behaves the same over both transports of buffered calls
 * (node:http and undici): answers, error mapping, TLS, proxy credentials,
 * retries only when safe, timeouts and cancellation. Faults come from the
 * TCP fault proxy in front of the real Engine; what the Engine received is
 * checked through the proxy's record and a second, direct client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { IncomingMessage } from 'node:http';
import { loadConfig } from 'docker-connector';
import type { ConnectorConfigInput } from 'docker-connector';
import { AUTO_UNDICI_AFTER, EngineClient, type EngineTransport } from 'docker-connector';
import { enginePath } from 'docker-connector';
import { TEST_LABEL, uniqueName } from '../support/connector.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { engines, harness } from '../support/harness.js';
import { failure } from '../support/expect-error.js';

const TRANSPORTS: ('node' | 'undici')[] = ['node', 'undici'];

/** A client with these settings over `transport`: limiter off, quick retries, no env. */
function client(transport: EngineTransport, settings: Partial<ConnectorConfigInput>): EngineClient {
  const { config } = loadConfig({ options: { rate_limit: 0, retry_delay: 0.02, ...settings }, env: {} });
  return new EngineClient(config, { transport });
}

async function using<T>(c: EngineClient, fn: (c: EngineClient) => Promise<T>): Promise<T> {
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

const tlsHost = () => harness().tls.host.replace('tcp://', 'https://');
const tlsVersion = () => harness().engines.find((e) => e.name === harness().tls.engine)!.version;

describe.each(TRANSPORTS)('EngineClient over %s', (transport) => {
  describe.each(engines())('on Engine $name', (engine) => {
    let proxy: FaultProxy;
    let direct: EngineClient;
    beforeAll(async () => {
      proxy = new FaultProxy(engine.host.replace('unix://', ''));
      await proxy.start();
      direct = client('node', { host: engine.host });
    });
    afterAll(async () => {
      direct.close();
      await proxy.close();
    });

    it('pings, negotiates and answers JSON through the chosen transport', async () => {
      await using(client(transport, { host: engine.host }), async (c) => {
        const info = await c.ping();
        expect(info.apiVersion).toBe(engine.apiVersion);
        expect(await c.apiVersion()).toBe(engine.apiVersion);
        const v = await c.json<{ Version: string }>({ method: 'GET', path: '/version' });
        expect(v.status).toBe(200);
        expect(v.body.Version).toBe(engine.version);
        expect(v.headers['content-type']).toMatch(/json/);
        expect(c.bufferedTransportInUse).toBe(transport);
      });
    });

    it('sends JSON bodies, reads empty answers and okStatuses (create, stop of a stopped container: 304, remove)', async () => {
      await using(client(transport, { host: engine.host }), async (c) => {
        const name = uniqueName('dct-transport');
        const created = await c.json<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name }, body: { Image: harness().image, Cmd: ['true'], Labels: { [TEST_LABEL]: name } } });
        expect(created.status).toBe(201);
        try {
          const stopped = await c.json({ method: 'POST', path: enginePath`/containers/${created.body.Id}/stop`, okStatuses: [304] });
          expect(stopped.status).toBe(304);
          expect(stopped.body).toBeUndefined();
          // Seen from another client: it exists, with the label sent in the body.
          const seen = await direct.json<{ Config: { Labels: Record<string, string> } }>({ method: 'GET', path: enginePath`/containers/${name}/json` });
          expect(seen.body.Config.Labels[TEST_LABEL]).toBe(name);
        } finally {
          await c.json({ method: 'DELETE', path: enginePath`/containers/${created.body.Id}`, query: { force: true } });
        }
        const gone = await failure(direct.json({ method: 'GET', path: enginePath`/containers/${name}/json` }));
        expect(gone.code).toBe('NOT_FOUND');
      });
    });

    it("maps an error answer to the Engine's own message", async () => {
      await using(client(transport, { host: engine.host }), async (c) => {
        const e = await failure(c.json({ method: 'GET', path: '/containers/dct-no-such-container-x/json', operation: 'inspect_container' }));
        expect(e).toMatchObject({ code: 'NOT_FOUND', status: 404, operation: 'inspect_container' });
        expect(e.message).toMatch(/No such container: dct-no-such-container-x/);
      });
    });

    it('keeps streamed answers on node:http: the body is an IncomingMessage', async () => {
      await using(client(transport, { host: engine.host }), async (c) => {
        const res = await c.stream({ method: 'GET', path: '/version' });
        expect(res.body).toBeInstanceOf(IncomingMessage);
        const chunks: Buffer[] = [];
        for await (const chunk of res.body) chunks.push(chunk as Buffer);
        expect(JSON.parse(Buffer.concat(chunks).toString())).toHaveProperty('Version', engine.version);
      });
    });

    it('sends a streamed request body (over node:http) and reads the JSON answer', async () => {
      await using(client(transport, { host: engine.host }), async (c) => {
        // As tar uploads are sent; /containers/create is the cheapest endpoint that reads a body.
        const name = uniqueName('dct-transport');
        const body = Readable.from([Buffer.from(JSON.stringify({ Image: harness().image, Cmd: ['true'], Labels: { [TEST_LABEL]: name } }))]);
        const created = await c.json<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name }, body, headers: { 'content-type': 'application/json' } });
        expect(created.status).toBe(201);
        await c.json({ method: 'DELETE', path: enginePath`/containers/${created.body.Id}`, query: { force: true } });
      });
    });

    it('a read reset before it reached the Engine is retried and succeeds', async () => {
      proxy.clear();
      proxy.add({ match: (m, p) => m === 'GET' && p.endsWith('/info'), action: 'reset-before-forward', times: 2 });
      await using(client(transport, { host: proxy.host, retry_attempts: 3 }), async (c) => {
        const info = await c.json<{ ServerVersion: string }>({ method: 'GET', path: '/info' });
        expect(info.body.ServerVersion).toBe(engine.version);
      });
      expect(proxy.seen.filter((r) => r.path.endsWith('/info')).map((r) => r.forwarded)).toEqual([false, false, true]);
    });

    it('a write whose connection drops after it was sent is not sent again and says its outcome is unknown', async () => {
      proxy.clear();
      const name = uniqueName('dct-transport');
      proxy.add({ match: (m, p) => m === 'POST' && p.includes('/containers/create'), action: 'reset-after-forward' });
      try {
        await using(client(transport, { host: proxy.host, retry_attempts: 3 }), async (c) => {
          const e = await failure(c.json({ method: 'POST', path: '/containers/create', query: { name }, body: { Image: harness().image, Cmd: ['true'], Labels: { [TEST_LABEL]: name } } }));
          expect(e).toMatchObject({ code: 'CONNECTION_FAILED', outcomeUnknown: true });
          expect(e.message).toMatch(/outcome is unknown/);
        });
        expect(proxy.seen.filter((r) => r.path.includes('/containers/create')).length).toBe(1);
      } finally {
        await direct.json({ method: 'DELETE', path: enginePath`/containers/${name}`, query: { force: true } }).catch(() => undefined);
      }
    });

    it('a 503 from in front of the Engine is retried for a read, not for a write', async () => {
      proxy.clear();
      proxy.add({ match: (_m, p) => p.endsWith('/version'), action: 'respond-503' });
      await using(client(transport, { host: proxy.host, retry_attempts: 2 }), async (c) => {
        expect((await c.json<{ Version: string }>({ method: 'GET', path: '/version' })).body.Version).toBe(engine.version);
        proxy.add({ match: (m, p) => m === 'POST' && p.endsWith('/dct-never/start'), action: 'respond-503' });
        const e = await failure(c.json({ method: 'POST', path: '/containers/dct-never/start' }));
        expect(e).toMatchObject({ code: 'UNAVAILABLE', status: 503 });
      });
      expect(proxy.seen.filter((r) => r.path.endsWith('/version')).length).toBe(2);
      expect(proxy.seen.filter((r) => r.path.endsWith('/dct-never/start')).length).toBe(1);
    });

    it('a stalled call times out within its total timeout; a stalled write says its outcome is unknown', async () => {
      proxy.clear();
      proxy.add({ match: (_m, p) => p.endsWith('/info'), action: 'stall' });
      proxy.add({ match: (m, p) => m === 'POST' && p.endsWith('/dct-never/kill'), action: 'stall' });
      await using(client(transport, { host: proxy.host, retry_attempts: 0 }), async (c) => {
        const started = Date.now();
        const read = await failure(c.json({ method: 'GET', path: '/info', timeoutMs: 300 }));
        expect(Date.now() - started).toBeGreaterThanOrEqual(280);
        expect(Date.now() - started).toBeLessThan(5000);
        expect(read).toMatchObject({ code: 'TIMEOUT', outcomeUnknown: false });
        expect(read.message).toMatch(/did not answer within 0.3s/);
        const write = await failure(c.json({ method: 'POST', path: '/containers/dct-never/kill', timeoutMs: 300 }));
        expect(write).toMatchObject({ code: 'TIMEOUT', outcomeUnknown: true });
        // The client still works after abandoning those requests.
        expect((await c.json<{ Version: string }>({ method: 'GET', path: '/version' })).body.Version).toBe(engine.version);
      });
    });

    it('the total timeout covers the body: an answer trickling in past it times out', async () => {
      proxy.clear();
      proxy.add({ match: (_m, p) => p.endsWith('/info'), action: 'trickle', trickleBytes: 64, trickleMs: 50 });
      await using(client(transport, { host: proxy.host, retry_attempts: 0 }), async (c) => {
        const started = Date.now();
        const e = await failure(c.json({ method: 'GET', path: '/info', timeoutMs: 400 }));
        expect(e.code).toBe('TIMEOUT');
        expect(Date.now() - started).toBeLessThan(3000);
      });
    });

    it('an answer cut in the middle: a read is sent again, a write reports its outcome unknown', async () => {
      proxy.clear();
      proxy.add({ match: (_m, p) => p.endsWith('/info'), action: 'reset-mid-response', afterBodyBytes: 100 });
      await using(client(transport, { host: proxy.host, retry_attempts: 2 }), async (c) => {
        expect((await c.json<{ ServerVersion: string }>({ method: 'GET', path: '/info' })).body.ServerVersion).toBe(engine.version);
        expect(proxy.forwarded('GET', /\/info$/)).toHaveLength(2);
        // A write (exec create) whose answer is cut after 10 bytes of body: the Engine acted, the client cannot know.
        proxy.add({ match: (m, p) => m === 'POST' && p.endsWith('/dct-never/exec'), action: 'reset-mid-response', afterBytes: 20 });
        const e = await failure(c.json({ method: 'POST', path: '/containers/dct-never/exec', body: { Cmd: ['true'] } }));
        expect(e).toMatchObject({ code: 'CONNECTION_FAILED', outcomeUnknown: true });
        expect(proxy.forwarded('POST', /dct-never\/exec$/)).toHaveLength(1);
      });
    });

    it('keeps its connection between calls, HEAD pings included', async () => {
      proxy.clear();
      const before = proxy.connections;
      await using(client(transport, { host: proxy.host }), async (c) => {
        for (let i = 0; i < 5; i++) {
          await c.ping();
          await c.json({ method: 'GET', path: '/version' });
        }
      });
      // Not one connection per call (undici closes the connection after a HEAD unless told not to).
      // undici's pool may alternate two connections between back-to-back calls: it sends the next
      // call before the previous connection has reported itself free.
      expect(proxy.connections - before).toBeLessThanOrEqual(2);
    });

    it('a cancelled call stops at once and reports the cancellation', async () => {
      proxy.clear();
      proxy.add({ match: (_m, p) => p.endsWith('/info'), action: 'stall' });
      await using(client(transport, { host: proxy.host, retry_attempts: 2 }), async (c) => {
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 100);
        const started = Date.now();
        const e = await failure(c.json({ method: 'GET', path: '/info', signal: ac.signal }));
        expect(Date.now() - started).toBeLessThan(3000);
        expect(e.code).toBe('TIMEOUT');
        expect(e.message).toMatch(/cancelled/);
        const already = await failure(c.json({ method: 'GET', path: '/version', signal: AbortSignal.abort() }));
        expect(already.message).toMatch(/cancelled/);
      });
      // Neither was retried: a cancelled call is over.
      expect(proxy.seen.filter((r) => r.path.endsWith('/info')).length).toBe(1);
    });
  });

  it('a refused connection is retried with backoff, then CONNECTION_FAILED naming ECONNREFUSED', async () => {
    await using(client(transport, { host: 'tcp://127.0.0.1:1', retry_attempts: 2, retry_delay: 0.05, api_version: '1.41' }), async (c) => {
      const started = Date.now();
      const e = await failure(c.json({ method: 'GET', path: '/version' }));
      expect(e).toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
      expect(e.message).toMatch(/ECONNREFUSED/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(75); // two backoffs: ≥ 25 ms + ≥ 50 ms
    });
  });

  it('a missing unix socket says so', async () => {
    await using(client(transport, { host: 'unix:///tmp/dct-no-such-engine.sock', retry_attempts: 0, api_version: '1.41' }), async (c) => {
      const e = await failure(c.json({ method: 'GET', path: '/version' }));
      expect(e.code).toBe('CONNECTION_FAILED');
      expect(e.message).toMatch(/ENOENT \(no socket at that path: is the Engine running\?\)/);
    });
  });

  describe('TLS', () => {
    const t = () => harness().tls;
    const version = (c: EngineClient) => c.json<{ Version: string }>({ method: 'GET', path: '/version' }).then((r) => r.body.Version);

    it('connects with the right CA and client certificate, and with verify_ssl=false', async () => {
      await using(client(transport, { host: tlsHost(), ca_cert: t().caCert, client_cert: t().clientCert, client_key: t().clientKey }), async (c) => {
        expect(await version(c)).toBe(tlsVersion());
      });
      await using(client(transport, { host: tlsHost(), verify_ssl: false, client_cert: t().clientCert, client_key: t().clientKey }), async (c) => {
        expect(await version(c)).toBe(tlsVersion());
      });
    });

    it('names the failure: unknown CA, missing client certificate, hostname mismatch, plain HTTP', async () => {
      const cases: [Partial<ConnectorConfigInput>, RegExp][] = [
        [{ host: tlsHost(), ca_cert: t().wrongCaCert, client_cert: t().clientCert, client_key: t().clientKey }, /certificate signed by unknown authority/],
        [{ host: tlsHost(), ca_cert: t().caCert }, /requires a client certificate/],
        [{ host: tlsHost(), ca_cert: t().caCert, client_cert: t().wrongClientCert, client_key: t().wrongClientKey }, /client certificate/],
        [{ host: tlsHost(), ca_cert: t().caCert, client_cert: t().clientCert, client_key: t().clientKey, tls_server_name: 'engine.invalid' }, /hostname mismatch \(certificate is for .*127\.0\.0\.1/],
        [{ host: t().host.replace('tcp://', 'http://') }, /is this a TLS endpoint/],
      ];
      for (const [settings, message] of cases) {
        await using(client(transport, { retry_attempts: 0, ...settings }), async (c) => {
          const e = await failure(version(c));
          expect(e.code, `${JSON.stringify(settings)}: ${e.message}`).toBe('TLS_ERROR');
          expect(e.message).toMatch(message);
        });
      }
    });

    it('tls_server_name is the name checked: it connects to an address the certificate does not name', async () => {
      // The certificate names 127.0.0.1 and localhost, not 127.0.0.2 (also this machine).
      const host = tlsHost().replace('127.0.0.1', '127.0.0.2');
      const files = { ca_cert: t().caCert, client_cert: t().clientCert, client_key: t().clientKey, retry_attempts: 0 };
      await using(client(transport, { host, ...files }), async (c) => {
        const e = await failure(version(c));
        expect(e.code).toBe('TLS_ERROR');
        expect(e.message).toMatch(/hostname mismatch/);
      });
      await using(client(transport, { host, ...files, tls_server_name: 'localhost' }), async (c) => {
        expect(await version(c)).toBe(tlsVersion());
      });
    });
  });

  describe('an authenticating proxy in front of the Engine', () => {
    const p = () => harness().proxy;

    it('passes Basic and Bearer credentials', async () => {
      await using(client(transport, { host: p().basicHost, username: p().username, password: p().password }), async (c) => {
        expect((await c.json({ method: 'GET', path: '/version' })).body).toHaveProperty('Version');
      });
      await using(client(transport, { host: p().bearerHost, access_token: p().token }), async (c) => {
        expect((await c.json({ method: 'GET', path: '/version' })).body).toHaveProperty('Version');
      });
    });

    it('wrong credentials give UNAUTHORIZED without echoing the secret', async () => {
      await using(client(transport, { host: p().basicHost, username: p().username, password: 'not-the-password-123', retry_attempts: 0 }), async (c) => {
        const e = await failure(c.json({ method: 'GET', path: '/version' }));
        expect(e).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
        expect(JSON.stringify(e.toJSON())).not.toContain('not-the-password-123');
      });
    });
  });
});

describe('transport choice', () => {
  const engine = engines()[0]!;

  it(`'auto' starts on node:http and moves buffered calls to undici after ${AUTO_UNDICI_AFTER} of them`, async () => {
    await using(client('auto', { host: engine.host }), async (c) => {
      await c.ping();
      expect(c.bufferedTransportInUse).toBe('node');
      for (let i = 0; i < AUTO_UNDICI_AFTER; i++) await c.ping();
      // undici loads in the background; calls go on over node:http meanwhile.
      const until = Date.now() + 10_000;
      while (c.bufferedTransportInUse !== 'undici' && Date.now() < until) {
        await c.ping();
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(c.bufferedTransportInUse).toBe('undici');
      expect((await c.json<{ Version: string }>({ method: 'GET', path: '/version' })).body.Version).toBe(engine.version);
      // Streams stay on node:http.
      const res = await c.stream({ method: 'GET', path: '/version' });
      expect(res.body).toBeInstanceOf(IncomingMessage);
      res.body.resume();
    });
  });

  it("'node' never switches", async () => {
    await using(client('node', { host: engine.host }), async (c) => {
      for (let i = 0; i < AUTO_UNDICI_AFTER + 5; i++) await c.ping();
      await new Promise((r) => setTimeout(r, 200));
      await c.ping();
      expect(c.bufferedTransportInUse).toBe('node');
    });
  });

  it("'undici' keeps working after close(): the next call opens a new pool", async () => {
    const c = client('undici', { host: engine.host });
    try {
      await c.ping();
      c.close();
      expect((await c.ping()).apiVersion).toBe(engine.apiVersion);
    } finally {
      c.close();
    }
  });
});
