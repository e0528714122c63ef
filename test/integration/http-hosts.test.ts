import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../support/harness.js';
import { rawRequest, startServed, type Served } from '../support/served.js';

/*
 * DNS rebinding: a web page the operator visits can point a name it controls
 * at 127.0.0.1 and make the browser call a local service as if it were its
 * own site. Both listeners (the HTTP service and the MCP server over HTTP),
 * started from the command line, refuse a Host that is not theirs and an
 * Origin that is not allowed, whatever the auth mode. What is checked here
 * is the surface, not the Engine: one Engine is enough.
 */
const engine = engines()[0]!;
const ALLOWED = 'connector.test';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dc-hosts-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('serve --no-auth on loopback checks Host and Origin', () => {
  let s: Served;
  beforeAll(async () => {
    const config = join(dir, 'serve.json');
    writeFileSync(config, JSON.stringify({ service: { allowed_hosts: [ALLOWED] }, audit_log: 'off' }));
    s = await startServed(['serve', '--config', config, '--host', engine.host, '--listen', '127.0.0.1:0', '--no-auth']);
  });
  afterAll(async () => {
    await s?.stop();
  });

  const ping = (headers: Record<string, string>) => rawRequest(s.port, { method: 'POST', path: '/v1/operations/ping', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

  it('refuses a rebound name (Host and Origin of the attacker) with 403 FORBIDDEN naming the Host', async () => {
    const r = await ping({ host: `attacker.example:${s.port}`, origin: `http://attacker.example:${s.port}` });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'FORBIDDEN', status: 403, message: expect.stringContaining(`attacker.example:${s.port}`) } });
  });

  it('refuses a rebound name even without an Origin header, on every route', async () => {
    for (const path of ['/v1/operations', '/v1/health', '/openapi.json', '/docs']) {
      const r = await rawRequest(s.port, { path, headers: { host: `attacker.example:${s.port}` } });
      expect(r.status, path).toBe(403);
      expect(r.json().error.code, path).toBe('FORBIDDEN');
    }
  });

  it('refuses a cross-origin call from a page elsewhere, even to the loopback name (a simple POST needs no preflight)', async () => {
    const r = await rawRequest(s.port, { method: 'POST', path: '/v1/operations/ping', headers: { host: `127.0.0.1:${s.port}`, origin: 'http://attacker.example' } });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringContaining('Origin http://attacker.example') } });
    const opaque = await ping({ host: `127.0.0.1:${s.port}`, origin: 'null' });
    expect(opaque.status).toBe(403);
  });

  it('answers loopback names and same-origin calls', async () => {
    for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `127.1.2.3:${s.port}`, `LOCALHOST:${s.port}`]) {
      const r = await ping({ host });
      expect(r.status, host).toBe(200);
      expect(r.json()).toMatchObject({ ok: true });
    }
    const same = await ping({ host: `127.0.0.1:${s.port}`, origin: `http://127.0.0.1:${s.port}` });
    expect(same.status).toBe(200);
  });

  it('lets a name from allowed_hosts through, as Host and as Origin', async () => {
    const r = await ping({ host: `${ALLOWED}:${s.port}`, origin: `https://${ALLOWED}` });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ ok: true });
  });
});

describe('mcp --listen --no-auth on loopback checks Host and Origin', () => {
  let s: Served;
  beforeAll(async () => {
    const config = join(dir, 'mcp.json');
    writeFileSync(config, JSON.stringify({ mcp: { allowed_hosts: [ALLOWED] } }));
    s = await startServed(['mcp', '--config', config, '--host', engine.host, '--listen', '127.0.0.1:0', '--no-auth', '--audit-log', 'off']);
  });
  afterAll(async () => {
    await s?.stop();
  });

  const initialize = (headers: Record<string, string>) =>
    rawRequest(s.port, {
      method: 'POST',
      path: '/mcp',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'hosts-test', version: '1' } } }),
    });

  it('refuses a rebound name with 403 naming the Host', async () => {
    const r = await initialize({ host: `attacker.example:${s.port}`, origin: `http://attacker.example:${s.port}` });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { data: { code: 'FORBIDDEN' }, message: expect.stringContaining(`attacker.example:${s.port}`) } });
  });

  it('refuses a cross-origin page calling the loopback name', async () => {
    const r = await initialize({ host: `127.0.0.1:${s.port}`, origin: 'http://attacker.example' });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { data: { code: 'FORBIDDEN' }, message: expect.stringContaining('Origin http://attacker.example') } });
  });

  it('answers a loopback Host, and a name from allowed_hosts', async () => {
    const local = await initialize({ host: `localhost:${s.port}` });
    expect(local.status).toBe(200);
    const named = await initialize({ host: `${ALLOWED}:${s.port}`, origin: `http://${ALLOWED}:${s.port}` });
    expect(named.status).toBe(200);
  });
});

describe('--allowed-host on the command line', () => {
  it('serve: the flag names the hosts, in place of the config file list', async () => {
    const config = join(dir, 'flag.json');
    writeFileSync(config, JSON.stringify({ service: { allowed_hosts: [ALLOWED] }, audit_log: 'off' }));
    const s = await startServed(['serve', '--config', config, '--host', engine.host, '--listen', '127.0.0.1:0', '--no-auth', '--allowed-host', 'one.test', '--allowed-host', 'two.test']);
    try {
      const ping = (host: string) => rawRequest(s.port, { method: 'POST', path: '/v1/operations/ping', headers: { host: `${host}:${s.port}` } });
      expect((await ping('one.test')).status).toBe(200);
      expect((await ping('two.test')).status).toBe(200);
      expect((await ping(ALLOWED)).status).toBe(403);
    } finally {
      await s.stop();
    }
  });

  it('mcp: the flag lets a named host through', async () => {
    const s = await startServed(['mcp', '--host', engine.host, '--listen', '127.0.0.1:0', '--no-auth', '--audit-log', 'off', '--allowed-host', 'one.test']);
    try {
      const get = (host: string) => rawRequest(s.port, { path: '/elsewhere', headers: { host: `${host}:${s.port}` } });
      // Past the host check, a path other than /mcp is 404; refused before it, 403.
      expect((await get('one.test')).status).toBe(404);
      expect((await get('two.test')).status).toBe(403);
    } finally {
      await s.stop();
    }
  });
});
