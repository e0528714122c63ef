import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, runCli } from '../support/cli.js';
import { engines, harness } from '../support/harness.js';

/*
 * Configuration as users meet it, through the built CLI (bin/docker-connector.js):
 * an explicit config file beats ambient docker CLI variables (with a warning),
 * API versions written "v1.41", and the one redaction in error logs, audit lines
 * and INVALID_CONFIG errors.
 */

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dc-config-precedence-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

describe.each(engines())('configuration precedence on Engine $name', (engine) => {
  it('an explicit config file beats DOCKER_HOST, and says so on stderr', async () => {
    const config = join(dir, `prod-${engine.name}.yaml`);
    writeFileSync(config, `host: ${engine.host}\nrate_limit: 0\n`);
    const r = await runCli(['--config', config, 'run', 'get_version'], { DOCKER_HOST: 'unix:///nonexistent' });
    expect(r.stderr).toContain('DOCKER_HOST');
    expect(r.code, r.stderr).toBe(0);
    // The file's Engine answered, not the one DOCKER_HOST names.
    expect(JSON.parse(r.stdout)).toMatchObject({ Version: engine.version, ApiVersion: engine.apiVersion });
    const [warning] = lines(r.stderr);
    expect(warning).toEqual({ warning: { code: 'DOCKER_ENV_IGNORED', message: `DOCKER_HOST is set but ignored for host: the config file ${config} sets it` } });
  });

  it('DOCKER_HOST still applies without a config file, and a file that does not name the Engine warns about nothing', async () => {
    const plain = await runCli(['run', 'ping'], { DOCKER_HOST: engine.host, DOCKER_CONNECTOR_RATE_LIMIT: '0' });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toBe('');
    const config = join(dir, `timeouts-${engine.name}.json`);
    writeFileSync(config, JSON.stringify({ timeout: 30 }));
    const r = await runCli(['--config', config, 'run', 'ping'], { DOCKER_HOST: engine.host, DOCKER_CONNECTOR_RATE_LIMIT: '0' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('accepts api_version "v1.41" in the config file, DOCKER_API_VERSION and --api-version', async () => {
    const config = join(dir, `v-${engine.name}.yaml`);
    writeFileSync(config, `host: ${engine.host}\napi_version: v1.41\n`);
    const fromFile = await runCli(['--config', config, 'run', 'ping']);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ ok: true, api_version: '1.41' });
    const fromEnv = await runCli(['--host', engine.host, 'run', 'ping'], { DOCKER_API_VERSION: 'v1.41' });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ ok: true, api_version: '1.41' });
    const fromFlag = await runCli(['--host', engine.host, '--api-version', 'v1.40', 'run', 'ping']);
    expect(fromFlag.code, fromFlag.stderr).toBe(0);
    expect(JSON.parse(fromFlag.stdout)).toMatchObject({ ok: true, api_version: '1.40' });
  });

  it('the error log of a failing create_container carries no secret from env', async () => {
    const params = { image: 'dc-no-such-image/x:1', env: ['DB_PASSWORD=hunter2', 'PGPASSWORD=planted-pg', 'AWS_SECRET_ACCESS_KEY=planted-aws', 'MODE=prod'] };
    const r = await runCli(['--host', engine.host, '--log-level', 'error', 'run', 'create_container', '--params', JSON.stringify(params)]);
    expect(r.code).toBe(1);
    const log = lines(r.stderr).find((l) => l.msg === 'operation failed');
    expect(log, r.stderr).toBeDefined();
    expect(log!.params.env).toEqual(['DB_PASSWORD=[REDACTED]', 'PGPASSWORD=[REDACTED]', 'AWS_SECRET_ACCESS_KEY=[REDACTED]', 'MODE=prod']);
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toContain('planted');
  });
});

describe('INVALID_CONFIG through the CLI', () => {
  it('never repeats the value it rejected for a secret field', async () => {
    const pem = join(dir, 'pem.yaml');
    // A readable client_cert, so nothing but client_key can be what is refused.
    writeFileSync(pem, `host: https://127.0.0.1:2376\nclient_cert: ${harness().tls.clientCert}\nclient_key: |\n  -----BEGIN PRIVATE KEY-----\n  MIIEvQplantedKEYmaterial\n  -----END PRIVATE KEY-----\n`);
    const a = await runCli(['--config', pem, 'run', 'ping']);
    expect(a.code).toBe(2);
    expect(JSON.parse(a.stderr)).toMatchObject({ error: { code: 'INVALID_CONFIG', message: expect.stringContaining('client_key') } });
    expect(a.stderr).not.toContain('plantedKEYmaterial');
    expect(a.stderr).not.toContain('BEGIN');

    const typed = join(dir, 'typed.json');
    writeFileSync(typed, JSON.stringify({ username: 'u', password: 918273645, registry_identity_token: ['planted-identity'] }));
    const b = await runCli(['--config', typed, 'run', 'ping']);
    expect(b.code).toBe(2);
    expect(JSON.parse(b.stderr)).toMatchObject({ error: { code: 'INVALID_CONFIG', message: expect.stringMatching(/password.*registry_identity_token/) } });
    expect(b.stderr).not.toContain('918273645');
    expect(b.stderr).not.toContain('planted');

    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'username: u\npassword: planted-yaml-pass: x\n');
    const c = await runCli(['--config', broken, 'run', 'ping']);
    expect(c.code).toBe(2);
    expect(JSON.parse(c.stderr)).toMatchObject({ error: { code: 'INVALID_CONFIG', message: expect.stringMatching(/not valid YAML.*line 2/) } });
    expect(c.stderr).not.toContain('planted');
  });
});

describe('the audit line of an unknown operation', () => {
  it('carries the parameter names, not their values', async () => {
    const engine = engines()[0]!;
    const audit = join(dir, 'audit.log');
    const child = spawn(process.execPath, [CLI_BIN, 'serve', '--host', engine.host, '--listen', '127.0.0.1:0', '--no-auth', '--audit-log', audit], {
      env: { PATH: process.env.PATH ?? '', DOCKER_CONNECTOR_RATE_LIMIT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stderr = '';
        child.stderr!.on('data', (d) => {
          stderr += d;
          const m = /"event":"listening","url":"([^"]+)"/.exec(stderr);
          if (m) resolve(m[1]!);
        });
        void exited.then((code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
      });
      const res = await fetch(`${url}/v1/operations/no_such_operation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: 'planted-unknown-value', nested: { x: 'planted-nested' } }),
      });
      expect(res.status).toBe(404);
      const known = await fetch(`${url}/v1/operations/ping`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(known.status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const text = readFileSync(audit, 'utf8');
      const [unknown, ping] = lines(text);
      expect(unknown).toMatchObject({ operation: 'no_such_operation', outcome: 'UNKNOWN_OPERATION', params: { data: '[REDACTED]', nested: '[REDACTED]' } });
      expect(ping).toMatchObject({ operation: 'ping', outcome: 'ok', params: {} });
      expect(text).not.toContain('planted');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('PEM text and contexts among the sources', () => {
  it('a config file holding the PEM text inline beats the ambient DOCKER_CERT_PATH (with a warning) and connects', async () => {
    const t = harness().tls;
    const engine = harness().engines.find((e) => e.name === t.engine)!;
    const block = (path: string) => `|\n${readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}\n`;
    const file = join(dir, 'inline-pem.yaml');
    writeFileSync(file, `host: ${t.host.replace('tcp://', 'https://')}\nrate_limit: 0\nca_cert: ${block(t.caCert)}client_cert: ${block(t.clientCert)}client_key: ${block(t.clientKey)}`);
    // The ambient variables name the wrong CA and client pair: used, they would fail the handshake.
    const ambient = { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dirname(t.wrongCaCert) };
    const r = await runCli(['--config', file, 'run', 'get_version'], ambient);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ Version: engine.version });
    expect(lines(r.stderr)).toEqual([
      { warning: { code: 'DOCKER_ENV_IGNORED', message: `DOCKER_CERT_PATH is set but ignored for ca_cert, client_cert, client_key: the config file ${file} sets them` } },
    ]);
    const config = await runCli(['--config', file, 'config'], ambient);
    expect(config.code, config.stderr).toBe(0);
    expect(JSON.parse(config.stdout)).toMatchObject({ client_key: '[REDACTED]', endpoint_source: `host in the config file ${file}` });
    const keyBody = readFileSync(t.clientKey, 'utf8').split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    for (const l of keyBody) expect(config.stdout + config.stderr + r.stderr).not.toContain(l);
  });

  it('DOCKER_CONNECTOR_CONTEXT beats the config file; the file beats DOCKER_CONTEXT', async () => {
    const [old, neu] = [harness().engines.find((e) => e.name === 'old')!, harness().engines.find((e) => e.name === 'new')!];
    const dockerConfig = join(dir, 'docker-config');
    for (const e of [old, neu]) {
      execFileSync('docker', ['context', 'create', `ctx-${e.name}`, '--docker', `host=${e.host}`], { env: { PATH: process.env.PATH ?? '', DOCKER_CONFIG: dockerConfig }, stdio: 'ignore' });
    }
    const file = join(dir, 'file-context.yaml');
    writeFileSync(file, 'context: ctx-old\nrate_limit: 0\n');
    const version = async (env: Record<string, string>) => {
      const r = await runCli(['--config', file, 'run', 'get_version'], { DOCKER_CONFIG: dockerConfig, ...env });
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { Version: string }).Version;
    };
    expect(await version({ DOCKER_CONTEXT: 'ctx-new' })).toBe(old.version);
    expect(await version({ DOCKER_CONTEXT: 'ctx-new', DOCKER_CONNECTOR_CONTEXT: 'ctx-new' })).toBe(neu.version);
    expect(await version({ DOCKER_CONNECTOR_HOST: neu.host })).toBe(neu.version);
  });
});
