import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { listOperations } from 'docker-connector/catalogue';
import { HttpService } from 'docker-connector/service';
import { connectorFor } from '../support/connector.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { engines, harness } from '../support/harness.js';

/*
 * Server policy and limits of the HTTP service, over real HTTP: read_only,
 * allow/deny, per-key rate limit, request timeout, Engine failures (502),
 * an Engine-side 401, several endpoints, shutdown, TLS.
 */

const ADMIN = 'admin-key-policy-4e1a9c7b2d';
const OTHER = 'other-key-policy-7f3b2e8a1c';
const API_KEYS = [
  { id: 'admin', key: ADMIN, scopes: ['admin'] },
  { id: 'other', key: OTHER, scopes: ['admin'] },
];

async function call(base: string, name: string, params: unknown = {}, key = ADMIN, query = ''): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${base}/v1/operations/${name}${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(params),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

describe.each(engines())('HTTP service policy and limits on Engine $version (API $apiVersion)', (engine) => {
  const running: HttpService[] = [];
  const bases: DockerConnector[] = [];
  let proxy: FaultProxy;
  let proxyHost: string;

  /** A service whose only endpoint goes through a fault proxy (which also records what reached the Engine). */
  async function start(surface: Record<string, unknown>, endpointSettings: Record<string, unknown> = {}): Promise<string> {
    const base = connectorFor(engine);
    bases.push(base);
    const service = HttpService.create({
      base,
      env: {},
      surface: {
        api_keys: API_KEYS,
        audit_log: 'off',
        endpoints: { engine: { host: proxyHost, rate_limit: 0, retry_delay: 0.05, ...endpointSettings } },
        ...surface,
        service: { listen: '127.0.0.1:0', rate_limit: 0, ...(surface.service as object) },
      },
    });
    running.push(service);
    return service.listen();
  }

  beforeAll(async () => {
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    proxyHost = await proxy.start();
  });

  afterEach(() => proxy.clear());

  afterAll(async () => {
    await Promise.all(running.map((s) => s.close()));
    for (const b of bases) b.close();
    await proxy.close();
  });

  it('read_only refuses every write and destructive operation of the catalogue before anything reaches the Engine', async () => {
    const url = await start({ read_only: true });
    const writes = listOperations().filter((op) => op.safety !== 'read');
    expect(writes.length).toBeGreaterThan(10);
    for (const op of writes) {
      const r = await call(url, op.name, {});
      expect({ op: op.name, status: r.status, code: r.body.error.code, rule: r.body.error.details?.rule }).toEqual({ op: op.name, status: 403, code: 'FORBIDDEN', rule: 'read_only' });
      expect(r.body.error.message).toContain('read_only');
    }
    expect(proxy.seen).toEqual([]);
    // Read operations still run (and do reach the Engine).
    const v = await call(url, 'get_version');
    expect(v.status).toBe(200);
    expect(v.body.ApiVersion).toBe(engine.apiVersion);
    expect(proxy.forwarded('GET', /\/version$/).length).toBe(1);
  });

  it('allow and deny lists name the rule that refused', async () => {
    const url = await start({ allow: ['ping', 'get_*', 'list_*'], deny: ['list_images'] });
    expect((await call(url, 'ping')).status).toBe(200);
    expect((await call(url, 'get_info')).status).toBe(200);
    const denied = await call(url, 'list_images');
    expect(denied).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN', details: { rule: 'deny', pattern: 'list_images' } } } });
    expect(denied.body.error.message).toContain('list_images');
    const notAllowed = await call(url, 'inspect_container', { container: 'x' });
    expect(notAllowed).toMatchObject({ status: 403, body: { error: { details: { rule: 'allow' } } } });
    expect(proxy.forwarded(undefined, /\/(images|containers)\//)).toEqual([]);
  });

  it('refuses to start with a deny rule that matches no operation', () => {
    const base = connectorFor(engine);
    bases.push(base);
    expect(() => HttpService.create({ base, env: {}, surface: { api_keys: API_KEYS, audit_log: 'off', deny: ['remove_contianer'] } })).toThrow(/deny names "remove_contianer"/);
  });

  it('limits the request rate per key: 429 with Retry-After, other keys unaffected', async () => {
    const url = await start({ service: { rate_limit: 6, rate_limit_burst: 2 } });
    expect((await call(url, 'ping')).status).toBe(200);
    expect((await call(url, 'ping')).status).toBe(200);
    const limited = await call(url, 'ping');
    expect(limited).toMatchObject({ status: 429, body: { error: { code: 'RATE_LIMITED', status: 429, retryable: true } } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await call(url, 'ping', {}, OTHER)).status).toBe(200);
  });

  it('cancels a call past request_timeout with 504 TIMEOUT', async () => {
    const url = await start({ service: { request_timeout: 1 } });
    proxy.add({ match: (m, p) => m === 'GET' && p.endsWith('/info'), action: 'stall', times: 5 });
    const started = Date.now();
    const r = await call(url, 'get_info');
    expect(r).toMatchObject({ status: 504, body: { error: { code: 'TIMEOUT', status: 504, operation: 'get_info' } } });
    expect(r.body.error.message).toContain('request_timeout');
    expect(r.body.error.outcome_unknown).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('cancels a write past request_timeout with 504 TIMEOUT that says its outcome is unknown', async () => {
    const url = await start({ service: { request_timeout: 1 } });
    proxy.add({ match: (m, p) => m === 'POST' && p.endsWith('/volumes/create'), action: 'stall', times: 5 });
    const started = Date.now();
    const r = await call(url, 'create_volume', { name: `dc-http-timeout-${process.pid}` });
    expect(r).toMatchObject({ status: 504, body: { error: { code: 'TIMEOUT', status: 504, operation: 'create_volume', outcome_unknown: true } } });
    expect(r.body.error.message).toContain('may or may not have taken effect');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('answers and audits 504 at once when the client goes away, for a read given up on and for a streaming call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-http-gone-'));
    const auditPath = join(dir, 'audit.log');
    try {
      const url = await start({ audit_log: auditPath });
      // get_info never gets an answer; system_events would run for 30 s.
      proxy.add({ match: (m, p) => m === 'GET' && p.endsWith('/info'), action: 'stall', times: 5 });
      const now = Date.now() / 1000;
      const leave = async (name: string, params: unknown) => {
        const ac = new AbortController();
        const pending = fetch(`${url}/v1/operations/${name}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
          body: JSON.stringify(params),
          signal: ac.signal,
        }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 500));
        ac.abort();
        await pending;
      };
      const started = Date.now();
      await Promise.all([leave('get_info', {}), leave('system_events', { since: now - 1, until: now + 30 })]);
      const lines = () =>
        readFileSync(auditPath, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { operation: string; status: number; outcome: string; key_id: string });
      while (lines().length < 2 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
      expect(Date.now() - started).toBeLessThan(5000);
      expect(lines().map((l) => [l.operation, l.status, l.outcome, l.key_id]).sort()).toEqual([
        ['get_info', 504, 'TIMEOUT', 'admin'],
        ['system_events', 504, 'TIMEOUT', 'admin'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('maps an Engine failure (503 from the path to it) to 502 with the Engine status', async () => {
    const url = await start({}, { retry_attempts: 0 });
    proxy.add({ match: (m, p) => m === 'GET' && p.endsWith('/info'), action: 'respond-503', times: 5 });
    const r = await call(url, 'get_info');
    expect(r).toMatchObject({ status: 502, body: { error: { code: 'UNAVAILABLE', status: 502, engine_status: 503, operation: 'get_info' } } });
  });

  it('cancels calls still running at the shutdown deadline with 504 TIMEOUT', async () => {
    const url = await start({ service: { shutdown_timeout: 1 } });
    const service = running.at(-1)!;
    const now = Date.now() / 1000;
    // system_events waits until `until`: 2.5 s, past the 1 s deadline; get_info gets no answer at all.
    proxy.add({ match: (m, p) => m === 'GET' && p.endsWith('/info'), action: 'stall', times: 5 });
    const pause = () => new Promise((r) => setTimeout(r, 100));
    const slow = [call(url, 'system_events', { since: now - 1, until: now + 2.5 })];
    await pause();
    // A call that started after the first and ends before the others leaves them in flight (and cancellable).
    const short = call(url, 'system_events', { since: now - 1, until: now + 0.5 });
    await pause();
    slow.push(call(url, 'get_info'), call(url, 'system_events', { since: now - 1, until: now + 2.5 }));
    expect((await short).status).toBe(200);
    expect((await call(url, 'ping')).status).toBe(200);
    const closing = service.close();
    const answers = await Promise.all(slow);
    await closing;
    for (const r of answers) {
      expect(r).toMatchObject({ status: 504, body: { error: { code: 'TIMEOUT' } } });
      expect(r.body.error.message).toContain('shutting down');
    }
    expect(answers.map((r) => r.body.error.operation)).toEqual(['system_events', 'get_info', 'system_events']);
    await expect(fetch(`${url}/openapi.json`)).rejects.toThrow();
  });

  it('lets a short in-flight call finish during a graceful close', async () => {
    const url = await start({ service: { shutdown_timeout: 10 } });
    const service = running.at(-1)!;
    const now = Date.now() / 1000;
    const slow = call(url, 'system_events', { since: now - 1, until: now + 1.2 });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await Promise.all([service.close(), slow.then((r) => expect(r.status).toBe(200))]);
    // It waited for the call, not for the deadline.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('HTTP service without API keys, on loopback', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dc-http-noauth-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves every /v1 route to an anonymous caller, still under the server policy, with the usual headers', async () => {
    const base = connectorFor(engines()[0]!);
    // No keys, no rate limit, no audit log: nothing runs before the handler.
    const service = HttpService.create({ base, env: {}, surface: { audit_log: 'off', read_only: true, service: { listen: '127.0.0.1:0', rate_limit: 0 } }, overrides: { no_auth: true } });
    try {
      const url = await service.listen();
      const ping = await fetch(`${url}/v1/operations/ping`, { method: 'POST' });
      expect(ping.status).toBe(200);
      expect(ping.headers.get('x-content-type-options')).toBe('nosniff');
      expect(ping.headers.get('cache-control')).toBe('no-store');
      expect(await ping.json()).toMatchObject({ ok: true });
      const refused = await fetch(`${url}/v1/operations/create_volume`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: { details: { rule: string } } }).error.details.rule).toBe('read_only');
      const ops = (await (await fetch(`${url}/v1/operations`)).json()) as { operations: { name: string; allowed: boolean }[] };
      expect(ops.operations.find((o) => o.name === 'ping')?.allowed).toBe(true);
      expect(ops.operations.find((o) => o.name === 'create_volume')?.allowed).toBe(false);
      expect((await fetch(`${url}/v1/manifest`)).status).toBe(200);
      expect((await fetch(`${url}/v1/health`)).status).toBe(200);
    } finally {
      await service.close();
      base.close();
    }
  });

  it('audits anonymous calls as "anonymous" and applies the per-client rate limit', async () => {
    const base = connectorFor(engines()[0]!);
    const auditPath = join(dir, 'audit.log');
    const service = HttpService.create({
      base,
      env: {},
      surface: { audit_log: auditPath, service: { listen: '127.0.0.1:0', rate_limit: 6, rate_limit_burst: 2 } },
      overrides: { no_auth: true },
    });
    try {
      const url = await service.listen();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${url}/v1/operations/ping`, { method: 'POST' })).status);
      expect(statuses).toEqual([200, 200, 429]);
      const lines = readFileSync(auditPath, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { operation: string; status: number; outcome: string; key_id: string });
      expect(lines.map((l) => [l.operation, l.status, l.outcome, l.key_id])).toEqual([
        ['ping', 200, 'ok', 'anonymous'],
        ['ping', 200, 'ok', 'anonymous'],
        ['ping', 429, 'RATE_LIMITED', 'anonymous'],
      ]);
    } finally {
      await service.close();
      base.close();
    }
  });
});

describe('HTTP service with several Engine endpoints', () => {
  let service: HttpService;
  let base: DockerConnector;
  let url: string;
  const all = engines();

  beforeAll(async () => {
    base = connectorFor(all[0]!);
    const endpoints = Object.fromEntries(all.map((e) => [e.name, { host: e.host, rate_limit: 0 }]));
    service = HttpService.create({ base, env: {}, surface: { api_keys: API_KEYS, audit_log: 'off', endpoints, service: { listen: '127.0.0.1:0' } } });
    url = await service.listen();
  });

  afterAll(async () => {
    await service.close();
    base.close();
  });

  it('routes each call to the endpoint named by ?endpoint=, the first by default', async () => {
    for (const e of all) {
      const r = await call(url, 'get_version', {}, ADMIN, `?endpoint=${e.name}`);
      expect(r.status).toBe(200);
      expect(r.body.Version).toBe(e.version);
    }
    expect((await call(url, 'get_version')).body.Version).toBe(all[0]!.version);
    expect((await call(url, 'get_version', {}, ADMIN, '?endpoint=elsewhere')).status).toBe(400);
  });

  it('GET /v1/health reports every endpoint, each with its own negotiated version', async () => {
    const res = await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; endpoints: Record<string, { reachable: boolean; api_version: string }> };
    expect(body.ok).toBe(true);
    for (const e of all) expect(body.endpoints[e.name]).toMatchObject({ reachable: true, api_version: e.apiVersion });
  });

  it('refuses an endpoint with invalid settings at start, naming it', () => {
    expect(() =>
      HttpService.create({ base, env: {}, surface: { api_keys: API_KEYS, audit_log: 'off', endpoints: { broken: { host: 'ftp://nowhere', rate_limit: 0 } } } }),
    ).toThrow(/endpoints\.broken/);
  });
});

describe('HTTP service facing an authenticating proxy in front of the Engine', () => {
  it("reports the proxy refusing the connector as 502 UNAUTHORIZED, not as the caller's 401", async () => {
    const base = connectorFor(engines()[0]!);
    const service = HttpService.create({
      base,
      env: {},
      surface: { api_keys: API_KEYS, audit_log: 'off', endpoints: { guarded: { host: harness().proxy.basicHost, retry_attempts: 0 } }, service: { listen: '127.0.0.1:0' } },
    });
    try {
      const url = await service.listen();
      const r = await call(url, 'get_version');
      expect(r).toMatchObject({ status: 502, body: { error: { code: 'UNAUTHORIZED', status: 502, engine_status: 401 } } });
    } finally {
      await service.close();
      base.close();
    }
  });
});

describe('HTTP service over TLS', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dc-http-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves HTTPS with tls_cert and tls_key', async () => {
    const base = connectorFor(engines()[0]!);
    const service = HttpService.create({
      base,
      env: {},
      surface: { api_keys: API_KEYS, audit_log: 'off', service: { listen: '127.0.0.1:0', tls_cert: join(dir, 'cert.pem'), tls_key: join(dir, 'key.pem') } },
    });
    try {
      const url = await service.listen();
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = (await import('node:fs')).readFileSync(join(dir, 'cert.pem'));
      const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpsRequest(`${url}/v1/operations/ping`, { method: 'POST', ca, headers: { authorization: `Bearer ${ADMIN}` } }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body.status).toBe(200);
      expect(JSON.parse(body.text)).toMatchObject({ ok: true });
    } finally {
      await service.close();
      base.close();
    }
  });
});
