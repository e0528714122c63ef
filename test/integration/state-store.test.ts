import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { runCli } from '../support/cli.js';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { engines, harness } from '../support/harness.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { rawRequest, startServed, type Served } from '../support/served.js';

/*
 * Issue 17 §4: several replicas behave as one. A private redis-server and
 * two `serve` (or `mcp --listen`) processes started from one config file
 * with state_store: limits, failed-auth counters, confirmations and plans
 * hold across both; a lost Redis fails closed only what needs it.
 * What is checked is the replicas' shared state, so one Engine is enough.
 */
const engine = engines()[0]!;
const KEY = 'replica-admin-key-3f9a1c7e5b2d';
const API_KEYS = [{ id: 'replica-admin', key: KEY, scopes: ['admin'] }];
const AUTH = { authorization: `Bearer ${KEY}` };
const RUN = uniqueName('replicas');

let redis: PrivateRedis;
let dir: string;
let dc: DockerConnector;
const served: Served[] = [];

beforeAll(async () => {
  redis = await startRedis('state-store-it');
  dir = mkdtempSync(join(tmpdir(), 'dc-replicas-'));
  dc = connectorFor(engine);
});
afterAll(async () => {
  await Promise.all(served.map((s) => s.stop()));
  const left = (await dc.execute('list_containers', { all: true, filters: { label: [`run=${RUN}`] } })) as { Id: string }[];
  for (const c of left) await dc.execute('remove_container', { container: c.Id, force: true }).catch(() => undefined);
  dc.close();
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Two processes of `args` started from one config file holding state_store. */
async function replicas(name: string, config: Record<string, unknown>, args: string[]): Promise<[Served, Served]> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ api_keys: API_KEYS, state_store: redis.url, ...config }));
  // Each its own state folder, as on two hosts: without the store, plans made by one would not be found by the other.
  const pair = await Promise.all([0, 1].map((i) => startServed([...args, '--config', file, '--host', engine.host, '--listen', '127.0.0.1:0'], { XDG_STATE_HOME: join(dir, `${name}-state-${i}`) })));
  served.push(...pair);
  return pair as [Served, Served];
}

const get = (s: Served, path: string, headers: Record<string, string> = AUTH) => rawRequest(s.port, { path, headers });
const post = (s: Served, op: string, params: object, headers: Record<string, string> = AUTH) =>
  rawRequest(s.port, { method: 'POST', path: `/v1/operations/${op}`, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(params) });

async function stoppedContainer(): Promise<string> {
  const name = uniqueName('replica');
  const { id } = await dc.execute('create_container', { image: harness().image, name, command: ['true'], labels: { [TEST_LABEL]: RUN, run: RUN } });
  return id;
}
const exists = (id: string) => dc.execute('inspect_container', { container: id }).then(() => true, () => false);

describe('serve ×2: the per-key rate limit and failed-auth counters are shared', () => {
  let a: Served;
  let b: Served;
  beforeAll(async () => {
    // 6/min with a burst of 3: one replica alone lets 3 through at once, two separate ones 6.
    [a, b] = await replicas('limits', { audit_log: 'off', service: { rate_limit: 6, rate_limit_burst: 3, auth_failures_per_minute: 4 } }, ['serve']);
  });

  it('a key gets its allowance once across both replicas, not once on each', async () => {
    const statuses: { replica: string; status: number }[] = [];
    for (let i = 0; i < 10; i++) {
      const s = i % 2 === 0 ? a : b;
      statuses.push({ replica: s === a ? 'a' : 'b', status: (await get(s, '/v1/operations')).status });
    }
    const accepted = statuses.filter((x) => x.status === 200);
    expect(statuses.every((x) => x.status === 200 || x.status === 429), JSON.stringify(statuses)).toBe(true);
    // Within the window: at most rate + burst in any case, and here exactly the one burst both share.
    expect(accepted.length).toBeLessThanOrEqual(6 + 3);
    expect(accepted.length).toBe(3);
    // Both replicas refused the key, though neither alone had seen more than 5 requests.
    expect(new Set(statuses.filter((x) => x.status === 429).map((x) => x.replica))).toEqual(new Set(['a', 'b']));
    const limited = await get(b, '/v1/operations');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED', message: expect.stringContaining('replica-admin') } });
  });

  it('failed authentications on one replica count on the other', async () => {
    // 2 wrong keys on each: neither replica alone reached its 4.
    for (const s of [a, b, a, b]) expect((await get(s, '/v1/operations', { authorization: 'Bearer wrong-key-0123456789abcdef' })).status).toBe(401);
    const limited = await get(a, '/v1/operations', { authorization: 'Bearer wrong-key-0123456789abcdef' });
    expect(limited.status).toBe(429);
    expect(limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED', message: expect.stringMatching(/failed authentications/i) } });
    // Over the limit even the right key is not looked at, on either replica.
    expect((await get(b, '/v1/operations')).status).toBe(429);
  });
});

describe('serve ×2: plans made on one replica are used on the other; a lost Redis', () => {
  let a: Served;
  let b: Served;
  let audit: string;
  beforeAll(async () => {
    audit = join(dir, 'audit.jsonl');
    [a, b] = await replicas('plans', { audit_log: audit, log_level: 'trace', service: { rate_limit: 0 } }, ['serve']);
  });

  it('a dry run on replica a gives a plan_id replica b acts on', async () => {
    const id = await stoppedContainer();
    const dry = await post(a, 'remove_container', { container: id, dry_run: true });
    expect(dry.status).toBe(200);
    const planId = dry.json().plan_id as string;
    expect(planId).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
    expect(await exists(id)).toBe(true);
    const real = await post(b, 'remove_container', { container: id, plan_id: planId });
    expect(real.status, real.text).toBe(200);
    expect(await exists(id)).toBe(false);
    // Used up on b: a cannot use it again.
    const again = await post(a, 'remove_container', { container: id, plan_id: planId });
    expect(again.json()).toMatchObject({ error: { code: 'INVALID_PARAMS', message: expect.stringMatching(/no such plan/) } });
  });

  it('a plan made by a CLI command with --state-store is used by a replica (and the command exits)', async () => {
    const id = await stoppedContainer();
    const dry = await runCli(['run', 'remove_container', '--host', engine.host, '--state-store', redis.url, '--params', JSON.stringify({ container: id, dry_run: true })], {
      DOCKER_CONNECTOR_RATE_LIMIT: '0',
      XDG_STATE_HOME: join(dir, 'cli-state'),
    });
    expect(dry.code, dry.stderr).toBe(0);
    const planId = (JSON.parse(dry.stdout) as { plan_id: string }).plan_id;
    expect((await post(b, 'remove_container', { container: id, plan_id: planId })).status).toBe(200);
    expect(await exists(id)).toBe(false);
  });

  it('health reports the store; killing Redis: reads work, plan-bound calls fail closed, health says degraded; it recovers', async () => {
    const healthy = await get(a, '/v1/health');
    expect(healthy.status).toBe(200);
    expect(healthy.json().state_store).toEqual({ kind: 'redis', address: `redis://127.0.0.1:${redis.port}/0`, reachable: true, degraded: [] });

    const id = await stoppedContainer();
    const planId = (await post(a, 'remove_container', { container: id, dry_run: true })).json().plan_id as string;
    await redis.kill();
    try {
      const started = Date.now();
      const real = await post(b, 'remove_container', { container: id, plan_id: planId });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(real.status).toBe(502);
      expect(real.json()).toMatchObject({ error: { code: 'UNAVAILABLE', message: expect.stringMatching(/state store redis:\/\/127\.0\.0\.1:\d+\/0 is unreachable.*refused/) } });
      expect(await exists(id)).toBe(true);
      // A dry run that would make a plan is refused too: a plan kept by one replica alone would not be found on the other.
      expect((await post(a, 'remove_container', { container: id, dry_run: true })).json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      // Reads go on, with the key's limits held per replica meanwhile.
      for (const s of [a, b]) expect((await post(s, 'ping', {})).status).toBe(200);
      expect((await get(b, '/v1/operations', { authorization: 'Bearer wrong-key-0123456789abcdef' })).status).toBe(401);
      const degraded = await get(b, '/v1/health');
      expect(degraded.status).toBe(200);
      expect(degraded.json()).toMatchObject({ ok: true, state_store: { kind: 'redis', reachable: false, error: expect.any(String), degraded: expect.arrayContaining([expect.stringMatching(/^plans: .*refused/), expect.stringMatching(/^rate_limits: per replica/)]) } });
    } finally {
      await redis.start();
    }
    // Back without restarting the services (the store reconnects in the background).
    await expect.poll(async () => (await get(b, '/v1/health')).json().state_store.reachable, { timeout: 10_000, interval: 200 }).toBe(true);
    const dry = await post(b, 'remove_container', { container: id, dry_run: true });
    expect(dry.status).toBe(200);
    expect((await post(a, 'remove_container', { container: id, plan_id: dry.json().plan_id })).status).toBe(200);
    expect(await exists(id)).toBe(false);
  });

  it('the password is in no output: config, trace logs, audit lines, health', async () => {
    const file = join(dir, 'plans.json');
    const config = await runCli(['config', '--config', file]);
    expect(config.code).toBe(0);
    expect(JSON.parse(config.stdout).state_store).toBe(`redis://:[REDACTED]@127.0.0.1:${redis.port}/0`);
    const flag = await runCli(['config', '--state-store', redis.url]);
    const env = await runCli(['config'], { DOCKER_CONNECTOR_STATE_STORE: redis.url });
    const health = await get(a, '/v1/health');
    const logs = a.stderr() + b.stderr();
    // The logs are at trace level (each Engine request is in them) and audit lines were written.
    expect(logs).toMatch(/"msg":"engine request"/);
    const auditText = readFileSync(audit, 'utf8');
    expect(auditText).toMatch(/"operation":"remove_container"/);
    for (const text of [config.stdout, config.stderr, flag.stdout, flag.stderr, env.stdout, env.stderr, health.text, logs, auditText]) {
      expect(text).not.toContain(redis.password);
    }
    expect(JSON.parse(flag.stdout).state_store).toContain('[REDACTED]');
    expect(JSON.parse(env.stdout).state_store).toContain('[REDACTED]');
  });
});

describe('mcp --listen ×2 with --confirm-destructive', () => {
  let a: Served;
  let b: Served;
  const clients: Client[] = [];
  beforeAll(async () => {
    [a, b] = await replicas('mcp', { mcp: { rate_limit: 0 } }, ['mcp', '--allow-destructive', '--confirm-destructive', '--audit-log', 'off']);
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
  });

  async function client(s: Served): Promise<Client> {
    const c = new Client({ name: 'replica-test', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: AUTH } }));
    clients.push(c);
    return c;
  }
  type Answer = Awaited<ReturnType<Client['callTool']>>;
  const errorOf = (r: Answer) => {
    expect(r.isError).toBe(true);
    return (JSON.parse((r.content as { text: string }[])[1]!.text) as { error: { code: string; message: string } }).error;
  };

  it('a dry run through replica a confirms the destructive call on replica b, once', async () => {
    const [ca, cb] = [await client(a), await client(b)];
    const id = await stoppedContainer();
    expect(errorOf(await cb.callTool({ name: 'remove_container', arguments: { container: id } }))).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/dry_run: true/) });
    const dry = await ca.callTool({ name: 'remove_container', arguments: { container: id, dry_run: true } });
    expect(dry.isError).toBeFalsy();
    const real = await cb.callTool({ name: 'remove_container', arguments: { container: id } });
    expect(real.isError, JSON.stringify(real.content)).toBeFalsy();
    expect(await exists(id)).toBe(false);
    // One dry run, one call: a second one on a is refused.
    expect(errorOf(await ca.callTool({ name: 'remove_container', arguments: { container: id } }))).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('with Redis lost, a confirmed destructive call is refused (UNAVAILABLE) and reads still work', async () => {
    const [ca, cb] = [await client(a), await client(b)];
    const id = await stoppedContainer();
    expect((await ca.callTool({ name: 'remove_container', arguments: { container: id, dry_run: true } })).isError).toBeFalsy();
    await redis.kill();
    try {
      expect(errorOf(await cb.callTool({ name: 'remove_container', arguments: { container: id } }))).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/state store .* is unreachable.*refused \(nothing was done\)/),
      });
      expect(await exists(id)).toBe(true);
      const read = await cb.callTool({ name: 'inspect_container', arguments: { container: id } });
      expect(read.isError).toBeFalsy();
    } finally {
      await redis.start();
    }
    // After the restart (an empty Redis): a new dry run confirms the call again.
    await expect
      .poll(async () => !(await ca.callTool({ name: 'remove_container', arguments: { container: id, dry_run: true } })).isError, { timeout: 10_000, interval: 250 })
      .toBe(true);
    expect((await cb.callTool({ name: 'remove_container', arguments: { container: id } })).isError).toBeFalsy();
    expect(await exists(id)).toBe(false);
  });
});

describe('rediss:// (TLS) with state_store_ca_cert', () => {
  let tlsRedis: PrivateRedis;
  beforeAll(async () => {
    tlsRedis = await startRedis('state-store-tls-it', { tls: true });
  });
  afterAll(async () => {
    await tlsRedis?.close();
  });

  it('reaches a TLS Redis with the CA given, and reports it unreachable without', async () => {
    const withCa = join(dir, 'tls.json');
    writeFileSync(withCa, JSON.stringify({ api_keys: API_KEYS, state_store: tlsRedis.url, state_store_ca_cert: tlsRedis.caFile, audit_log: 'off' }));
    const withoutCa = join(dir, 'tls-no-ca.json');
    writeFileSync(withoutCa, JSON.stringify({ api_keys: API_KEYS, state_store: tlsRedis.url, audit_log: 'off' }));
    const [good, bad] = await Promise.all([withCa, withoutCa].map((f) => startServed(['serve', '--config', f, '--host', engine.host, '--listen', '127.0.0.1:0'])));
    served.push(good!, bad!);
    const address = `rediss://127.0.0.1:${tlsRedis.port}/0`;
    expect((await get(good!, '/v1/health')).json().state_store).toEqual({ kind: 'redis', address, reachable: true, degraded: [] });
    const refused = (await get(bad!, '/v1/health')).json().state_store;
    expect(refused).toMatchObject({ address, reachable: false, error: expect.stringMatching(/certificate/i) });
    expect(JSON.stringify(refused)).not.toContain(tlsRedis.password);
  });
});
