import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorOptions } from 'docker-connector';
import { connectorFor, uniqueName } from '../support/connector.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { failure } from '../support/expect-error.js';


function tlsEngine(): HarnessEngine {
  return harness().engines.find((e) => e.name === harness().tls.engine)!;
}

const https = () => harness().tls.host.replace('tcp://', 'https://');

/** get_version through a one-off connector with these settings (no retries: each failure is the first). */
async function run(options: ConnectorOptions) {
  const c = connectorFor(tlsEngine(), { retry_attempts: 0, ...options });
  try {
    return await c.execute('get_version');
  } finally {
    c.close();
  }
}

describe('TLS with client certificates (mTLS)', () => {
  it('connects with the right CA and client certificate', async () => {
    const t = harness().tls;
    const v = (await run({ host: https(), ca_cert: t.caCert, client_cert: t.clientCert, client_key: t.clientKey })) as { Version: string };
    expect(v.Version).toBe(tlsEngine().version);
  });

  it('connects from DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH like the docker CLI', async () => {
    const t = harness().tls;
    // host: undefined lifts connectorFor's default host, so the environment's DOCKER_HOST decides.
    const c = connectorFor(tlsEngine(), { host: undefined, env: { DOCKER_HOST: t.host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: t.certDir } });
    try {
      expect(((await c.execute('get_version')) as { Version: string }).Version).toBe(tlsEngine().version);
      expect(c.engine.endpoint).toMatchObject({ kind: 'tcp', tls: true, port: Number(new URL(t.host.replace('tcp://', 'http://')).port) });
    } finally {
      c.close();
    }
  });

  it('tcp:// with certificate files means TLS', async () => {
    const t = harness().tls;
    const v = (await run({ host: t.host, ca_cert: t.caCert, client_cert: t.clientCert, client_key: t.clientKey })) as { Version: string };
    expect(v.Version).toBe(tlsEngine().version);
  });

  it('without a client certificate: TLS_ERROR saying the server requires one', async () => {
    const e = await failure(run({ host: https(), ca_cert: harness().tls.caCert }));
    expect(e.code).toBe('TLS_ERROR');
    expect(e.message).toMatch(/requires a client certificate/);
  });

  it('with a client certificate from another CA: TLS_ERROR about the client certificate', async () => {
    const t = harness().tls;
    const e = await failure(run({ host: https(), ca_cert: t.caCert, client_cert: t.wrongClientCert, client_key: t.wrongClientKey }));
    expect(e.code).toBe('TLS_ERROR');
    expect(e.message).toMatch(/client certificate/);
  });

  it('with the wrong CA: TLS_ERROR certificate signed by unknown authority', async () => {
    const t = harness().tls;
    const e = await failure(run({ host: https(), ca_cert: t.wrongCaCert, client_cert: t.clientCert, client_key: t.clientKey }));
    expect(e.code).toBe('TLS_ERROR');
    expect(e.message).toMatch(/certificate signed by unknown authority/);
  });

  it('on a hostname mismatch: TLS_ERROR naming the names the certificate is for', async () => {
    const t = harness().tls;
    const e = await failure(run({ host: https(), ca_cert: t.caCert, client_cert: t.clientCert, client_key: t.clientKey, tls_server_name: 'engine.invalid' }));
    expect(e.code).toBe('TLS_ERROR');
    expect(e.message).toMatch(/hostname mismatch \(certificate is for .*127\.0\.0\.1/);
  });

  it('verify_ssl=false connects without a CA', async () => {
    const t = harness().tls;
    const v = (await run({ host: https(), verify_ssl: false, client_cert: t.clientCert, client_key: t.clientKey })) as { Version: string };
    expect(v.Version).toBe(tlsEngine().version);
  });

  it('plain HTTP against the TLS endpoint asks whether it is a TLS endpoint', async () => {
    const e = await failure(run({ host: harness().tls.host.replace('tcp://', 'http://') }));
    expect(e.code).toBe('TLS_ERROR');
    expect(e.message).toMatch(/is this a TLS endpoint/);
  });
});

describe('an authenticating proxy in front of the Engine', () => {
  it('passes with Basic credentials', async () => {
    const p = harness().proxy;
    expect(await run({ host: p.basicHost, username: p.username, password: p.password })).toHaveProperty('Version');
  });

  it('passes with a Bearer token', async () => {
    const p = harness().proxy;
    expect(await run({ host: p.bearerHost, access_token: p.token })).toHaveProperty('Version');
  });

  it('wrong or missing credentials give UNAUTHORIZED, without echoing the secret', async () => {
    const p = harness().proxy;
    const wrongPass = await failure(run({ host: p.basicHost, username: p.username, password: 'not-the-password-123' }));
    expect(wrongPass).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    expect(wrongPass.message).not.toContain('not-the-password-123');
    const wrongToken = await failure(run({ host: p.bearerHost, access_token: 'wrong-token-456789' }));
    expect(wrongToken.code).toBe('UNAUTHORIZED');
    expect(JSON.stringify(wrongToken.toJSON())).not.toContain('wrong-token-456789');
    const none = await failure(run({ host: p.basicHost }));
    expect(none.code).toBe('UNAUTHORIZED');
  });
});

describe('transport of buffered calls', () => {
  // The reliability and connection files run once per transport: DC_TEST_TRANSPORT=node|undici (package.json "test").
  it('is the one this run asked for (DC_TEST_TRANSPORT, else auto)', async () => {
    const c = connectorFor(tlsEngine());
    try {
      await c.execute('ping');
      expect(c.engine.transport).toBe(process.env.DC_TEST_TRANSPORT ?? 'auto');
      if (process.env.DC_TEST_TRANSPORT === 'undici') expect(c.engine.bufferedTransportInUse).toBe('undici');
      if (process.env.DC_TEST_TRANSPORT === 'node') expect(c.engine.bufferedTransportInUse).toBe('node');
    } finally {
      c.close();
    }
  });
});

describe.each(engines())('retries on Engine $name', (engine) => {
  let proxy: FaultProxy;
  let host: string;
  beforeAll(async () => {
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    host = await proxy.start();
  });
  afterAll(() => proxy.close());

  it('a repeatable read whose connection drops before forwarding is retried and succeeds', async () => {
    proxy.clear();
    proxy.add({ match: (m, p) => m === 'GET' && p.endsWith('/info'), action: 'reset-before-forward', times: 2 });
    const c = connectorFor(engine, { host });
    try {
      const info = (await c.execute('get_info')) as { ServerVersion: string };
      expect(info.ServerVersion).toBe(engine.version);
    } finally {
      c.close();
    }
    const infoCalls = proxy.seen.filter((r) => r.path.endsWith('/info'));
    expect(infoCalls.map((r) => r.forwarded)).toEqual([false, false, true]);
  });

  it('a 503 from in front of the Engine is retried for a read', async () => {
    proxy.clear();
    proxy.add({ match: (m, p) => p.endsWith('/version'), action: 'respond-503' });
    const c = connectorFor(engine, { host });
    try {
      expect(await c.execute('get_version')).toHaveProperty('Version', engine.version);
    } finally {
      c.close();
    }
    expect(proxy.seen.filter((r) => r.path.endsWith('/version')).length).toBe(2);
  });

  it('a create whose connection drops is never sent twice and says its outcome is unknown', async () => {
    proxy.clear();
    const name = uniqueName('dct-retry');
    proxy.add({ match: (m, p) => m === 'POST' && p.includes('/containers/create'), action: 'reset-after-forward' });
    const c = connectorFor(engine, { host });
    const direct = connectorFor(engine);
    try {
      const e = await failure(c.execute('create_container' as never, { image: harness().image, name, command: ['true'] } as never));
      expect(e.code).toBe('CONNECTION_FAILED');
      expect(e.outcomeUnknown).toBe(true);
      expect(e.message).toMatch(/outcome is unknown/);
      expect(proxy.seen.filter((r) => r.path.includes('/containers/create')).length).toBe(1);
      // The Engine got it exactly once: the container exists, once. The proxy cut the
      // connection right after forwarding, so the Engine may still be creating it: wait for it.
      let count = 0;
      for (let waited = 0; count === 0 && waited < 5000; waited += 100) {
        const list = await direct.engine.json<{ Names: string[] }[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters: { name: [name] } } });
        count = list.body.filter((x) => x.Names.includes(`/${name}`)).length;
        if (count === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(count).toBe(1);
    } finally {
      await direct.engine.json({ method: 'DELETE', path: `/containers/${name}`, query: { force: true } }).catch(() => {});
      c.close();
      direct.close();
    }
  });

  it('a create whose connection drops before forwarding is not retried either (the connector cannot know)', async () => {
    proxy.clear();
    const name = uniqueName('dct-retry');
    proxy.add({ match: (m, p) => m === 'POST' && p.includes('/containers/create'), action: 'reset-before-forward' });
    const c = connectorFor(engine, { host });
    try {
      const e = await failure(c.execute('create_container' as never, { image: harness().image, name } as never));
      expect(e).toMatchObject({ code: 'CONNECTION_FAILED', outcomeUnknown: true });
      expect(proxy.seen.filter((r) => r.path.includes('/containers/create')).length).toBe(1);
    } finally {
      c.close();
    }
  });

  it('a connection refused is retried with backoff, then reported as CONNECTION_FAILED', async () => {
    const c = connectorFor(engine, { host: 'tcp://127.0.0.1:1', retry_attempts: 2, retry_delay: 0.05 });
    const started = Date.now();
    const e = await failure(c.execute('get_version'));
    c.close();
    expect(e.code).toBe('CONNECTION_FAILED');
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(75); // two backoffs: ≥ 25 ms + ≥ 50 ms
  });
});
