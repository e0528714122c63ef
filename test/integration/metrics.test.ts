/**
 * The service's GET /metrics (Prometheus text): after real calls (one ok,
 * one failing, one retried through a fault, a fan-out with an unreachable
 * endpoint, one refused by the per-key limit) the exact counters moved, and
 * the Engine-side count agrees with what the Engine (a fault proxy in front
 * of it) saw. Scope checks, the loopback-only metrics listener (in-process
 * and through the CLI's --metrics-listen), and no secret or parameter value
 * in a scrape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { HttpService } from 'docker-connector/service';
import { runCli } from '../support/cli.js';
import { connectorFor, uniqueName } from '../support/connector.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { engines } from '../support/harness.js';
import { rawRequest, startServed, type Served } from '../support/served.js';

const READER = 'metrics-reader-key-8c2f1e9a7b';
const READER2 = 'metrics-reader2-key-3b7d9e1f0a';
const SCRAPER = 'metrics-scraper-key-6a4e2c8d1f';
const ADMIN = 'metrics-admin-key-1f9b3d7e5c';
const API_KEYS = [
  { id: 'reader-id-m', key: READER, scopes: ['read'] },
  { id: 'reader2-id-m', key: READER2, scopes: ['read', 'write'] },
  { id: 'scraper-id-m', key: SCRAPER, scopes: ['metrics'] },
  { id: 'admin-id-m', key: ADMIN, scopes: ['admin'] },
];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` with exactly these labels; undefined when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(found.length, `${name}${JSON.stringify(labels)}`).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

function sum(samples: Sample[], name: string, where: Record<string, string>): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

async function call(base: string, name: string, params: unknown, key: string, query = ''): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/v1/operations/${name}${query}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(params) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function scrape(url: string, key?: string): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${url}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe.each(engines())('service metrics on Engine $version (API $apiVersion)', (engine) => {
  let proxy: FaultProxy;
  let base: DockerConnector;
  let service: HttpService;
  let url: string;
  const proxyPassword = `proxy-pw-${uniqueName()}`;
  const proxyUser = `proxy-user-${uniqueName()}`;
  // A parameter value: it must never become a label.
  const missing = uniqueName('dc-metrics-missing');
  const labelValue = uniqueName('metrics-label-value');

  beforeAll(async () => {
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    const proxied = await proxy.start();
    base = connectorFor(engine);
    service = HttpService.create({
      base,
      env: {},
      surface: {
        api_keys: API_KEYS,
        audit_log: 'off',
        // 4 requests per key at once, then one a minute: the fifth is refused.
        service: { listen: '127.0.0.1:0', rate_limit: 1, rate_limit_burst: 4 },
        endpoints: {
          // The proxy forwards the Basic auth header untouched; the Engine ignores it. Its password must never show.
          main: { host: proxied, username: proxyUser, password: proxyPassword, rate_limit: 0, retry_attempts: 2, retry_delay: 0.05 },
          // One request at once, then one every 0.5 s: its second request waits.
          slow: { host: engine.host, rate_limit: 120, rate_limit_burst: 1, retry_attempts: 0 },
          // Port 9 (discard) has no listener here: connection refused at once.
          gone: { host: 'tcp://127.0.0.1:9', rate_limit: 0, retry_attempts: 0, timeout: 5 },
        },
      },
    });
    url = await service.listen();
  });

  afterAll(async () => {
    await service?.close();
    base?.close();
    await proxy?.close();
  });

  it('needs a key with the metrics (or admin) scope on the main listener: 401 without a key, 403 for read/write keys', async () => {
    const none = await scrape(url);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).error.code).toBe('UNAUTHORIZED');
    const reader = await scrape(url, READER2);
    expect(reader.status).toBe(403);
    expect(JSON.parse(reader.text).error).toMatchObject({ code: 'FORBIDDEN', details: { needed_scope: 'metrics' } });
    const admin = await scrape(url, ADMIN);
    expect(admin.status).toBe(200);
    const scraper = await scrape(url, SCRAPER);
    expect(scraper.status).toBe(200);
    expect(scraper.type).toMatch(/^text\/plain; version=0\.0\.4/);
    // A fresh service: nothing counted yet, but the default process metrics are there.
    const samples = parse(scraper.text);
    expect(samples.filter((s) => s.name === 'docker_connector_calls_total')).toEqual([]);
    expect(value(samples, 'docker_connector_calls_in_flight')).toBe(0);
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    // A metrics-only key runs no operation.
    const op = await call(url, 'ping', {}, SCRAPER);
    expect(op.status).toBe(403);
  });

  it('counts calls, Engine requests, retries, rate-limit waits, refusals and fan-out failures exactly', async () => {
    proxy.clear();
    proxy.add({ match: (m, p) => m === 'GET' && /\/version$/.test(p), action: 'respond-503', times: 1 });
    // The metrics-only key's ping above was refused: counted as a FORBIDDEN call.
    expect((await call(url, 'ping', {}, READER)).status).toBe(200);
    const notFound = await call(url, 'inspect_container', { container: missing }, READER);
    expect(notFound.status).toBe(404);
    expect((await call(url, 'get_version', {}, READER)).status).toBe(200);
    expect(proxy.seen.filter((r) => r.fault === 'respond-503')).toHaveLength(1);
    const fan = await call(url, 'list_containers', { all: true, filters: { label: [`${labelValue}=1`] } }, READER, '?endpoint=all');
    expect(fan.status).toBe(200);
    expect(Object.keys(fan.body.results).sort()).toEqual(['main', 'slow']);
    expect(Object.keys(fan.body.errors)).toEqual(['gone']);
    const refused = await call(url, 'ping', {}, READER);
    expect(refused.status).toBe(429);

    const scraped = await scrape(url, SCRAPER);
    expect(scraped.status).toBe(200);
    const s = parse(scraped.text);
    const calls = (operation: string, endpoint: string, code: string) => value(s, 'docker_connector_calls_total', { operation, endpoint, code });
    expect(calls('ping', 'main', 'FORBIDDEN')).toBe(1);
    expect(calls('ping', 'main', 'ok')).toBe(1);
    expect(calls('inspect_container', 'main', 'NOT_FOUND')).toBe(1);
    expect(calls('get_version', 'main', 'ok')).toBe(1);
    expect(calls('list_containers', '(fan-out)', 'ok')).toBe(1);
    expect(calls('ping', 'main', 'RATE_LIMITED')).toBe(1);
    expect(s.filter((x) => x.name === 'docker_connector_calls_total').reduce((a, x) => a + x.value, 0)).toBe(6);
    expect(value(s, 'docker_connector_call_duration_seconds_count', { operation: 'ping', endpoint: 'main' })).toBe(3);
    expect(value(s, 'docker_connector_call_duration_seconds_count', { operation: 'list_containers', endpoint: '(fan-out)' })).toBe(1);
    expect(value(s, 'docker_connector_calls_in_flight')).toBe(0);
    expect(value(s, 'docker_connector_key_rate_limit_refusals_total')).toBe(1);
    expect(value(s, 'docker_connector_fanout_endpoint_failures_total', { operation: 'list_containers', endpoint: 'gone', code: 'CONNECTION_FAILED' })).toBe(1);
    expect(s.filter((x) => x.name === 'docker_connector_fanout_endpoint_failures_total')).toHaveLength(1);

    // Engine side: the retried request, and every request the Engine (behind the proxy) saw.
    expect(value(s, 'docker_connector_engine_retries_total', { endpoint: 'main', operation: 'get_version', code: 'UNAVAILABLE' })).toBe(1);
    expect(sum(s, 'docker_connector_engine_retries_total', {})).toBe(1);
    expect(value(s, 'docker_connector_engine_requests_total', { endpoint: 'main', method: 'GET', status_class: '5xx', status: '503', code: 'UNAVAILABLE' })).toBe(1);
    expect(value(s, 'docker_connector_engine_requests_total', { endpoint: 'main', method: 'GET', status_class: '4xx', status: '404', code: 'NOT_FOUND' })).toBe(1);
    expect(sum(s, 'docker_connector_engine_requests_total', { endpoint: 'main' })).toBe(proxy.seen.length);
    expect(sum(s, 'docker_connector_engine_requests_total', { endpoint: 'main', status: '200' })).toBe(proxy.seen.length - 2);
    expect(value(s, 'docker_connector_engine_requests_total', { endpoint: 'gone', method: 'HEAD', status_class: 'none', status: 'none', code: 'CONNECTION_FAILED' })).toBe(1);
    // slow: its version ping took the one token, the list waited for the next.
    expect(sum(s, 'docker_connector_engine_requests_total', { endpoint: 'slow' })).toBe(2);
    expect(value(s, 'docker_connector_engine_rate_limit_waits_total', { endpoint: 'slow' })).toBe(1);
    expect(value(s, 'docker_connector_engine_rate_limit_wait_seconds_total', { endpoint: 'slow' })).toBeGreaterThan(0.1);
    expect(value(s, 'docker_connector_engine_rate_limit_waits_total', { endpoint: 'main' })).toBeUndefined();

    // No secret, key id or parameter value anywhere in the scrape.
    for (const secret of [READER, READER2, SCRAPER, ADMIN, proxyPassword, proxyUser, Buffer.from(`${proxyUser}:${proxyPassword}`).toString('base64'), missing, labelValue, 'reader-id-m', 'scraper-id-m']) {
      expect(scraped.text).not.toContain(secret);
    }
    // Every label is one of the allowed names.
    const labelNames = new Set(s.filter((x) => x.name.startsWith('docker_connector_')).flatMap((x) => Object.keys(x.labels)));
    expect([...labelNames].sort()).toEqual(['code', 'endpoint', 'le', 'method', 'operation', 'status', 'status_class']);
  });
});

describe('metrics listener (metrics_listen, --metrics-listen)', () => {
  const engine = engines().find((e) => e.name === 'new') ?? engines()[0]!;
  const bases: DockerConnector[] = [];
  const services: HttpService[] = [];
  const served: Served[] = [];

  const create = (service: Record<string, unknown>) => {
    const base = connectorFor(engine);
    bases.push(base);
    const s = HttpService.create({ base, env: {}, surface: { api_keys: API_KEYS, audit_log: 'off', service: { listen: '127.0.0.1:0', ...service } } });
    services.push(s);
    return s;
  };

  afterAll(async () => {
    for (const s of services) await s.close();
    for (const b of bases) b.close();
    for (const s of served) await s.stop();
  });

  it('serves /metrics without a key on loopback, and only /metrics; two services keep their own counts', async () => {
    const a = create({ metrics_listen: '127.0.0.1:0' });
    const b = create({ metrics_listen: '[::1]:0' });
    const urlA = await a.listen();
    await b.listen();
    expect(a.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(b.metricsUrl).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect((await call(urlA, 'ping', {}, READER)).status).toBe(200);

    const open = await scrape(a.metricsUrl!);
    expect(open.status).toBe(200);
    expect(value(parse(open.text), 'docker_connector_calls_total', { operation: 'ping', endpoint: 'default', code: 'ok' })).toBe(1);
    // The other service in this process counted nothing.
    const other = await scrape(b.metricsUrl!);
    expect(other.status).toBe(200);
    expect(parse(other.text).filter((x) => x.name === 'docker_connector_calls_total')).toEqual([]);
    // The main listener still wants a key.
    expect((await scrape(urlA)).status).toBe(401);

    const post = await fetch(`${a.metricsUrl}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const elsewhere = await fetch(`${a.metricsUrl}/v1/operations/ping`, { method: 'POST' });
    expect(elsewhere.status).toBe(404);
    // DNS rebinding: a Host naming another machine is refused here too.
    const rebound = await rawRequest(Number(new URL(a.metricsUrl!).port), { path: '/metrics', headers: { host: 'attacker.example' } });
    expect(rebound.status).toBe(403);
  });

  it('refuses a non-loopback metrics_listen', () => {
    for (const listen of ['0.0.0.0:9464', '192.0.2.10:9464', '[::]:9464', 'metrics.example:9464']) {
      expect(() => create({ metrics_listen: listen }), listen).toThrow(/metrics_listen is only allowed on a loopback address/);
    }
    expect(() => create({ metrics_listen: 'nonsense' })).toThrow(/metrics_listen "nonsense" is not host:port/);
  });

  it('serve --metrics-listen: a keyless loopback scrape of the CLI-started service; a non-loopback address is refused', async () => {
    const s = await startServed(['serve', '--host', engine.host, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0'], { DOCKER_CONNECTOR_API_KEYS: JSON.stringify(API_KEYS) });
    served.push(s);
    const metricsUrl = (JSON.parse(s.stderr().split('\n').find((l) => l.includes('"listening"'))!) as { metrics_url?: string }).metrics_url;
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await call(s.url, 'get_version', {}, READER)).status).toBe(200);
    const open = await scrape(metricsUrl!);
    expect(open.status).toBe(200);
    expect(value(parse(open.text), 'docker_connector_calls_total', { operation: 'get_version', endpoint: 'default', code: 'ok' })).toBe(1);
    expect(open.text).not.toContain(READER);

    const refused = await runCli(['serve', '--host', engine.host, '--no-auth', '--listen', '127.0.0.1:0', '--metrics-listen', '0.0.0.0:0'], { DOCKER_CONNECTOR_RATE_LIMIT: '0' }, 20_000);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/metrics_listen is only allowed on a loopback address/);
  });
});
