import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../support/harness.js';
import { rawRequest, startServed, type Served } from '../support/served.js';

/*
 * Failed logins are limited per client address on both listeners, and the
 * MCP server over HTTP has the service's per-key rate limit. Started from the
 * command line; what is checked is the surface, so one Engine is enough.
 */
const engine = engines()[0]!;
const KEY = 'throttle-admin-key-7c1e9b3d5a';
const API_KEYS = [{ id: 'throttle-admin', key: KEY, scopes: ['admin'] }];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dc-throttle-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('serve: failed authentications per client address', () => {
  let s: Served;
  beforeAll(async () => {
    const config = join(dir, 'serve.json');
    writeFileSync(config, JSON.stringify({ api_keys: API_KEYS, audit_log: 'off' }));
    s = await startServed(['serve', '--config', config, '--host', engine.host, '--listen', '127.0.0.1:0']);
  });
  afterAll(async () => {
    await s?.stop();
  });

  const ping = (authorization?: string) =>
    rawRequest(s.port, { method: 'POST', path: '/v1/operations/ping', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: '{}' });

  it('answers 401 to 30 wrong keys in a minute, then 429 with Retry-After, even for the right key', async () => {
    // Calls without a key guess nothing: they are refused but not counted.
    for (let i = 0; i < 3; i++) expect((await ping()).status).toBe(401);
    for (let i = 1; i <= 30; i++) {
      const r = await ping(`Bearer wrong-key-${i}-0123456789`);
      expect(r.status, `wrong key #${i}`).toBe(401);
    }
    const limited = await ping('Bearer wrong-key-31-0123456789');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED', status: 429, retryable: true, message: expect.stringMatching(/failed authentications/i) } });
    // Over the limit the key is not even looked at, so a guess that happens to be right learns nothing.
    const right = await ping(`Bearer ${KEY}`);
    expect(right.status).toBe(429);
    expect(right.headers['retry-after']).toBeDefined();
  });
});

describe('mcp --listen: failed authentications and the per-key rate limit', () => {
  let s: Served;
  beforeAll(async () => {
    const config = join(dir, 'mcp.json');
    writeFileSync(config, JSON.stringify({ api_keys: API_KEYS, mcp: { rate_limit: 6, rate_limit_burst: 3, auth_failures_per_minute: 2 } }));
    s = await startServed(['mcp', '--config', config, '--host', engine.host, '--listen', '127.0.0.1:0', '--audit-log', 'off']);
  });
  afterAll(async () => {
    await s?.stop();
  });

  const initialize = (authorization: string) =>
    rawRequest(s.port, {
      method: 'POST',
      path: '/mcp',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'throttle-test', version: '1' } } }),
    });

  it('limits a key to its burst, then answers 429 with Retry-After', async () => {
    for (let i = 1; i <= 3; i++) expect((await initialize(`Bearer ${KEY}`)).status, `request #${i}`).toBe(200);
    const limited = await initialize(`Bearer ${KEY}`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json()).toMatchObject({ error: { data: { code: 'RATE_LIMITED' }, message: expect.stringContaining('throttle-admin') } });
  });

  it('limits wrong keys per client address (auth_failures_per_minute)', async () => {
    for (let i = 1; i <= 2; i++) expect((await initialize(`Bearer wrong-${i}-0123456789`)).status).toBe(401);
    const limited = await initialize('Bearer wrong-3-0123456789');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json()).toMatchObject({ error: { data: { code: 'RATE_LIMITED' } } });
  });
});
