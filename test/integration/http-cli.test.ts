import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../support/harness.js';

/*
 * `serve` as a real child process: started from the command line
 * (bin/docker-connector.js, built by `npm test`) with a config file, called
 * over HTTP, stopped with SIGTERM while a call is in flight.
 */
const root = new URL('../..', import.meta.url).pathname;
const ENTRY = [join(root, 'bin/docker-connector.js')];

const READ_KEY = 'cli-read-key-6d2f9a4e1b7c';
const ENV_KEY = 'cli-env-key-3a8c5e1f9d2b';

interface Server {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function serve(args: string[], env: Record<string, string> = {}): Promise<Server> {
  const child = spawn(process.execPath, [...ENTRY, 'serve', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', DOCKER_CONNECTOR_RATE_LIMIT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /"event":"listening","url":"([^"]+)"/.exec(stderr);
      if (m) resolve({ child, url: m[1]!, stdout: () => stdout, stderr: () => stderr, exited });
    });
    void exited.then((code) => reject(Object.assign(new Error(`serve exited (${code}) before listening: ${stderr}`), { code, stderr })));
  });
}

/** Runs serve expecting it to refuse to start; returns exit code and stderr. */
async function refused(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  try {
    const s = await serve(args, env);
    s.child.kill('SIGKILL');
    throw new Error('serve started but should have refused');
  } catch (err) {
    const e = err as { code?: number | null; stderr?: string };
    if (e.stderr === undefined) throw err;
    return { code: e.code ?? null, stderr: e.stderr };
  }
}

async function call(url: string, name: string, params: unknown, key: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/v1/operations/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(params) });
  return { status: res.status, body: await res.json() };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dc-http-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe.each(engines())('docker-connector serve (child process) on Engine $name', (engine) => {
  it('serves with keys from the config file and the environment, audits to stdout, and drains on SIGTERM', async () => {
    const config = join(dir, `config-${engine.name}.json`);
    writeFileSync(config, JSON.stringify({ api_keys: [{ id: 'file-reader', key: READ_KEY, scopes: ['read'] }], service: { shutdown_timeout: 20 } }));
    const s = await serve(['--config', config, '--host', engine.host, '--listen', '127.0.0.1:0', '--read-only'], {
      DOCKER_CONNECTOR_API_KEYS: JSON.stringify([{ id: 'env-admin', key: ENV_KEY, scopes: ['admin'] }]),
    });
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const version = await call(s.url, 'get_version', {}, READ_KEY);
      expect(version.status).toBe(200);
      expect(version.body.Version).toBe(engine.version);
      // --read-only holds even for an admin key.
      const write = await call(s.url, 'create_volume', {}, ENV_KEY);
      expect(write).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN', details: { rule: 'read_only' } } } });

      // A call in flight when SIGTERM arrives still gets its answer.
      const now = Date.now() / 1000;
      const slow = call(s.url, 'system_events', { since: now - 1, until: now + 1.5 }, READ_KEY);
      await new Promise((r) => setTimeout(r, 400));
      s.child.kill('SIGTERM');
      const answer = await slow;
      expect(answer.status).toBe(200);
      expect(answer.body).toHaveProperty('events');
      expect(await s.exited).toBe(0);
      expect(s.stderr()).toContain('"event":"stopped"');

      const audit = s.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(audit.map((a) => [a.operation, a.key_id, a.outcome])).toEqual([
        ['get_version', 'file-reader', 'ok'],
        ['create_volume', 'env-admin', 'FORBIDDEN'],
        ['system_events', 'file-reader', 'ok'],
      ]);
      expect(s.stdout()).not.toContain(READ_KEY);
      expect(s.stdout()).not.toContain(ENV_KEY);
    } finally {
      s.child.kill('SIGKILL');
    }
  });
});

describe('docker-connector serve refuses unsafe starts', () => {
  it('refuses to start without API keys', async () => {
    const r = await refused(['--host', engines()[0]!.host, '--listen', '127.0.0.1:0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('INVALID_CONFIG');
    expect(r.stderr).toContain('API keys');
  });

  it('refuses --no-auth on an address other machines can reach', async () => {
    const r = await refused(['--host', engines()[0]!.host, '--listen', '0.0.0.0:0', '--no-auth']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('loopback');
  });
});
