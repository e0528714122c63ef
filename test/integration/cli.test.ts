import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listOperations } from 'docker-connector/catalogue';
import { runCli, type CliRun } from '../support/cli.js';
import { engines, harness } from '../support/harness.js';

/** The real CLI, with the limiter off unless a test says otherwise. */
const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> => runCli(args, { DOCKER_CONNECTOR_RATE_LIMIT: '0', ...env });

describe.each(engines())('CLI against Engine $name', (engine) => {
  it('run get_version prints the Engine version as JSON, exit 0', async () => {
    const r = await cli(['run', 'get_version', '--host', engine.host]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ Version: engine.version, ApiVersion: engine.apiVersion });
    expect(r.stdout.trim().split('\n')).toHaveLength(1); // compact when piped
  });

  it('health reports the negotiated API version, exit 0', async () => {
    const r = await cli(['health'], { DOCKER_HOST: engine.host });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ reachable: true, api_version: engine.apiVersion });
  });

  it('takes parameters from --params, --params-file and -p, coercing by type', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-cli-'));
    const file = join(dir, 'p.json');
    writeFileSync(file, JSON.stringify({ since: '1m' }));
    const r = await cli(['run', 'system_events', '--host', engine.host, '--params-file', file, '--params', '{"filters":{"type":["volume"]}}', '-p', 'max_events=5']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty('events');
  });
});

describe('CLI start-up', () => {
  it('`run` loads neither commander nor any service code, and the other commands still parse with commander', async () => {
    const engine = engines()[0]!;
    // A module hook records every file Node loads for a real `run ping` of the built bin.
    const hook = `data:text/javascript,${encodeURIComponent(
      "import { register } from 'node:module'; import { appendFileSync } from 'node:fs';" +
        "const { port1, port2 } = new MessageChannel(); port1.on('message', (u) => appendFileSync(process.env.DC_LOADED, u + '\\n')); port1.unref();" +
        "register('data:text/javascript,' + encodeURIComponent('let p; export function initialize(d) { p = d.port; } export async function load(u, c, n) { p.postMessage(u); return n(u, c); }'), { data: { port: port2 }, transferList: [port2] });",
    )}`;
    const dir = mkdtempSync(join(tmpdir(), 'dc-cli-load-'));
    const record = join(dir, 'loaded.txt');
    writeFileSync(record, '');
    const r = await runCli(['run', 'ping', '--host', engine.host], { DOCKER_CONNECTOR_RATE_LIMIT: '0', DC_LOADED: record, NODE_OPTIONS: `--import=${hook}` });
    expect(r.code, r.stderr).toBe(0);
    const loaded = readFileSync(record, 'utf8').split('\n').filter(Boolean);
    expect(loaded.some((u) => u.includes('/dist/bundle/cli.js'))).toBe(true);
    // Bundled CommonJS keeps its package path in the chunk (esbuild's __commonJS keys): commander's chunk names it.
    const files = loaded.filter((u) => u.startsWith('file:')).map((u) => new URL(u).pathname);
    expect(files.filter((f) => /node_modules\/commander\//.test(readFileSync(f, 'utf8')))).toEqual([]);
    expect(loaded.filter((u) => /commander|fastify|modelcontextprotocol|\/bundle\/(serve|mcp)-/.test(u))).toEqual([]);
    const help = await cli(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: docker-connector run \[options\] <operation>/);
  });
});

describe('CLI contract', () => {
  it('health exits 1 when the Engine does not answer', async () => {
    const r = await cli(['health', '--host', 'unix:///nonexistent/docker.sock', '--retry-attempts', '0']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ reachable: false, error: { code: 'CONNECTION_FAILED' } });
  });

  it('an operation failure exits 1 with the error JSON on stderr', async () => {
    const r = await cli(['run', 'get_version', '--host', 'unix:///nonexistent/docker.sock', '--retry-attempts', '0']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const err = JSON.parse(r.stderr) as { error: { code: string; status: null; message: string; operation: string } };
    expect(err.error).toMatchObject({ code: 'CONNECTION_FAILED', status: null, operation: 'get_version' });
  });

  it('invalid parameters exit 2 naming the parameter; nothing is sent', async () => {
    const r = await cli(['run', 'system_events', '--host', 'unix:///nonexistent/docker.sock', '-p', 'max_events=-4']);
    expect(r.code).toBe(2);
    const err = JSON.parse(r.stderr) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('INVALID_PARAMS');
    expect(err.error.message).toMatch(/max_events/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('bad usage exits 2: unknown operation, bad JSON, bad config value', async () => {
    expect((await cli(['run', 'nope'])).code).toBe(2);
    const badJson = await cli(['run', 'ping', '--params', '{oops']);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/not valid JSON/);
    const badConfig = await cli(['run', 'ping', '--rate-limit', 'fast']);
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toMatch(/rate_limit/);
    expect((await cli(['frobnicate'])).code).toBe(2);
  });

  it('operations --json lists every operation of the catalogue', async () => {
    const r = await cli(['operations', '--json']);
    expect(r.code).toBe(0);
    const ops = JSON.parse(r.stdout) as { name: string; safety: string }[];
    expect(ops.map((o) => o.name).sort()).toEqual(listOperations().map((o) => o.name).sort());
  });

  it('manifest describes config fields and each operation with a JSON Schema', async () => {
    const r = await cli(['manifest']);
    const m = JSON.parse(r.stdout) as { config: { name: string; secret: boolean }[]; operations: { name: string; parameters: { type: string } }[] };
    expect(m.config.find((f) => f.name === 'password')?.secret).toBe(true);
    expect(m.config.find((f) => f.name === 'host')?.secret).toBe(false);
    expect(m.operations.length).toBe(listOperations().length);
    for (const op of m.operations) expect(op.parameters.type).toBe('object');
  });

  it('--help works everywhere', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/run \[options\] <operation>/);
    const run = await cli(['run', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--params-file/);
  });
});

describe('secrets never appear in CLI output', () => {
  const planted = {
    password: 'planted-pass-8f3k2',
    access_token: 'planted-token-x9q7w',
    registry_password: 'planted-regpass-m2n4',
    registry_identity_token: 'planted-idtok-z5v8',
  };

  function scan(r: CliRun, extra: string[] = []) {
    const all = r.stdout + r.stderr;
    const basic = Buffer.from(`proxyuser:${planted.password}`).toString('base64');
    for (const s of [...Object.values(planted), basic, ...extra]) expect(all).not.toContain(s);
  }

  it('not in config, errors, 401s, or debug logs', async () => {
    const p = harness().proxy;
    const dir = mkdtempSync(join(tmpdir(), 'dc-secrets-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ host: p.basicHost, username: p.username, ...planted, registry_username: 'reg', log_level: 'debug', retry_attempts: 0 }));
    const env = { DOCKER_CONNECTOR_CONFIG: file };

    const config = await cli(['config'], env);
    expect(config.code).toBe(0);
    expect(JSON.parse(config.stdout)).toMatchObject({ password: '[REDACTED]', access_token: '[REDACTED]' });
    scan(config);

    // The proxy refuses the planted password (and the token wins anyway): a 401 failure path.
    const failed = await cli(['run', 'get_version'], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/UNAUTHORIZED/);
    scan(failed);

    // A successful call with every secret set and debug logging on.
    const ok = await cli(['run', 'get_version', '--host', engines()[0]!.host], env);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/"engine request"/); // debug logs were written…
    scan(ok); // …and hold no secret

    const badPass = await cli(['run', 'get_version', '--access-token', '', '--password', 'flag-secret-77aa'], { ...env, DOCKER_CONNECTOR_ACCESS_TOKEN: '' });
    scan(badPass, ['flag-secret-77aa']);
    expect(readFileSync(file, 'utf8')).toContain(planted.password); // the scan looked for the right strings
  });
});
