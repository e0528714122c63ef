import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerConnector } from 'docker-connector';
import { runCli, type CliRun } from '../support/cli.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';

/*
 * docker CLI contexts (issue 18 §2), created by the real docker CLI
 * (`docker context create` with a private DOCKER_CONFIG), selected each of
 * the four ways (--context / the context setting, DOCKER_CONTEXT,
 * currentContext in config.json, a config file), and precedence between them.
 * Which Engine answered is told by its version: the old Engine is 20.10, the
 * new one 28.x; the mTLS endpoint is the new Engine behind TLS.
 */

let dir: string;
let dockerConfig: string;
// All the harness' Engines, also when a run is limited to one (DC_ENGINES): each case names the one it needs.
const oldEngine = () => harness().engines.find((e) => e.name === 'old') as HarnessEngine;
const newEngine = () => harness().engines.find((e) => e.name === 'new') as HarnessEngine;
const tlsEngine = () => harness().engines.find((e) => e.name === harness().tls.engine) as HarnessEngine;
const tlsHost = () => harness().tls.host;
const SSH_HOST = 'ssh://dc-user@127.0.0.1:2299';

function dockerCli(args: string[]): string {
  return execFileSync('docker', args, { env: { PATH: process.env.PATH ?? '', DOCKER_CONFIG: dockerConfig }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dc-contexts-'));
  dockerConfig = join(dir, 'docker');
  const t = harness().tls;
  dockerCli(['context', 'create', 'old-unix', '--docker', `host=${oldEngine().host}`]);
  dockerCli(['context', 'create', 'new-unix', '--description', 'the new Engine', '--docker', `host=${newEngine().host}`]);
  dockerCli(['context', 'create', 'mtls', '--docker', `host=${tlsHost()},ca=${t.caCert},cert=${t.clientCert},key=${t.clientKey}`]);
  dockerCli(['context', 'create', 'remote-ssh', '--docker', `host=${SSH_HOST}`]);
  // currentContext in config.json: the ambient choice every other way overrides.
  dockerCli(['context', 'use', 'new-unix']);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI with this test's docker config (and HOME, so nothing of the machine's is read). */
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { DOCKER_CONFIG: dockerConfig, HOME: dir, DOCKER_CONNECTOR_RATE_LIMIT: '0', ...env });

function versionOf(r: CliRun): string {
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { Version: string }).Version;
}

function configFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('docker contexts, created by the docker CLI', () => {
  it('each of the four ways selects a context, and real operations reach its Engine', async () => {
    // 1. currentContext in config.json (docker context use new-unix).
    expect(versionOf(await cli(['run', 'get_version']))).toBe(newEngine().version);
    // 2. DOCKER_CONTEXT.
    expect(versionOf(await cli(['run', 'get_version'], { DOCKER_CONTEXT: 'old-unix' }))).toBe(oldEngine().version);
    // 3. --context (the fast `run` path and commander's path both take it).
    expect(versionOf(await cli(['--context', 'old-unix', 'run', 'get_version']))).toBe(oldEngine().version);
    expect(versionOf(await cli(['run', 'get_version', '--context', 'old-unix', '--log-level', 'silent']))).toBe(oldEngine().version);
    // 4. The config file's context, and DOCKER_CONNECTOR_CONTEXT: the mTLS context, certificates from the context store.
    const file = configFile('ctx.yaml', 'context: mtls\n');
    const health = await cli(['--config', file, 'health']);
    expect(health.code, health.stderr).toBe(0);
    expect(JSON.parse(health.stdout)).toMatchObject({
      reachable: true,
      endpoint: tlsHost().replace('tcp://', 'https://'),
      endpoint_source: `docker context "mtls" (context in the config file ${file})`,
      engine_version: tlsEngine().version,
    });
    const viaEnv = await cli(['run', 'list_containers', '--params', '{"all":true}'], { DOCKER_CONNECTOR_CONTEXT: 'mtls' });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(viaEnv.stdout))).toBe(true);
  });

  it('follows --host > --context > DOCKER_HOST > DOCKER_CONTEXT > currentContext', async () => {
    const o = oldEngine();
    const n = newEngine();
    expect(versionOf(await cli(['--host', o.host, '--context', 'new-unix', 'run', 'get_version']))).toBe(o.version);
    expect(versionOf(await cli(['--context', 'old-unix', 'run', 'get_version'], { DOCKER_HOST: n.host }))).toBe(o.version);
    expect(versionOf(await cli(['run', 'get_version'], { DOCKER_HOST: o.host, DOCKER_CONTEXT: 'new-unix' }))).toBe(o.version);
    expect(versionOf(await cli(['run', 'get_version'], { DOCKER_CONTEXT: 'old-unix' }))).toBe(o.version); // over currentContext new-unix
    // "default" is no context: currentContext no longer applies, DOCKER_HOST does.
    expect(versionOf(await cli(['--context', 'default', 'run', 'get_version'], { DOCKER_HOST: o.host }))).toBe(o.version);
    expect(versionOf(await cli(['run', 'get_version'], { DOCKER_CONTEXT: 'default', DOCKER_HOST: o.host }))).toBe(o.version);
  });

  it("a config file's host beats DOCKER_CONTEXT and currentContext (with a warning for the variable); its context beats DOCKER_HOST", async () => {
    const o = oldEngine();
    const n = newEngine();
    const hostFile = configFile('host.yaml', `host: ${o.host}\n`);
    const r = await cli(['--config', hostFile, 'run', 'get_version'], { DOCKER_CONTEXT: 'new-unix' });
    expect(versionOf(r)).toBe(o.version);
    expect(JSON.parse(r.stderr.trim())).toEqual({ warning: { code: 'DOCKER_ENV_IGNORED', message: `DOCKER_CONTEXT is set but ignored: the config file ${hostFile} sets host` } });
    // currentContext is the docker CLI's saved state, not the shell's: overridden silently.
    const quiet = await cli(['--config', hostFile, 'run', 'get_version']);
    expect(versionOf(quiet)).toBe(o.version);
    expect(quiet.stderr).toBe('');
    const ctxFile = configFile('ctx-old.yaml', 'context: old-unix\n');
    const c = await cli(['--config', ctxFile, 'run', 'get_version'], { DOCKER_HOST: n.host });
    expect(versionOf(c)).toBe(o.version);
    expect(c.stderr).toContain(`DOCKER_HOST is set but ignored for host: the config file ${ctxFile} selects docker context \\"old-unix\\"`);
    // Flags still beat the file: --context over its host.
    expect(versionOf(await cli(['--config', hostFile, '--context', 'new-unix', 'run', 'get_version']))).toBe(n.version);
  });

  it('an unknown context is a usage error (exit 2) naming it, and nothing is sent', async () => {
    for (const [args, env, name] of [
      [['--context', 'no-such-ctx', 'run', 'get_version'], {}, 'no-such-ctx'],
      [['run', 'get_version'], { DOCKER_CONTEXT: 'missing-env-ctx' }, 'missing-env-ctx'],
      [['health'], { DOCKER_CONNECTOR_CONTEXT: 'missing-connector-ctx' }, 'missing-connector-ctx'],
      [['contexts'], { DOCKER_CONTEXT: 'missing-listed-ctx' }, 'missing-listed-ctx'],
    ] as [string[], Record<string, string>, string][]) {
      const r = await cli(args, env);
      expect(r.code, r.stderr).toBe(2);
      const err = JSON.parse(r.stderr) as { error: { code: string; message: string } };
      expect(err.error.code).toBe('INVALID_CONFIG');
      expect(err.error.message).toContain(`unknown docker context "${name}"`);
    }
  });

  it('an ssh:// context resolves to its ssh URL', async () => {
    const r = await cli(['--context', 'remote-ssh', 'config']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ host: SSH_HOST, context: 'remote-ssh', endpoint_source: 'docker context "remote-ssh" (--context flag or context option)' });
  });

  it('`contexts --json` lists name, endpoint, TLS, and which is current and why', async () => {
    const list = async (args: string[], env: Record<string, string> = {}) => {
      const r = await cli(['contexts', '--json', ...args], env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { name: string; endpoint: string; tls: boolean; current: boolean; current_because?: string; description: string | null }[];
    };
    const rows = await list([]);
    expect(rows.map((r) => [r.name, r.endpoint, r.tls, r.current])).toEqual([
      ['default', 'unix:///var/run/docker.sock', false, false],
      ['mtls', tlsHost(), true, false],
      ['new-unix', newEngine().host, false, true],
      ['old-unix', oldEngine().host, false, false],
      ['remote-ssh', SSH_HOST, false, false],
    ]);
    expect(rows.find((r) => r.current)).toMatchObject({ description: 'the new Engine', current_because: `currentContext in ${join(dockerConfig, 'config.json')}` });
    const current = async (args: string[], env: Record<string, string> = {}) => (await list(args, env)).filter((r) => r.current).map((r) => [r.name, r.current_because]);
    expect(await current([], { DOCKER_CONTEXT: 'old-unix' })).toEqual([['old-unix', 'DOCKER_CONTEXT']]);
    expect(await current(['--context', 'mtls'], { DOCKER_CONTEXT: 'old-unix' })).toEqual([['mtls', 'the --context flag']]);
    const file = configFile('list.yaml', 'context: remote-ssh\n');
    expect(await current(['--config', file])).toEqual([['remote-ssh', `context in the config file ${file}`]]);
    // With DOCKER_HOST (or a host setting) no context is in use: "default" is current, with the address it stands for.
    const byHost = await list([], { DOCKER_HOST: oldEngine().host });
    expect(byHost.filter((r) => r.current)).toEqual([
      { name: 'default', description: expect.any(String), endpoint: oldEngine().host, tls: false, current: true, current_because: 'no context selected; the address comes from DOCKER_HOST' },
    ]);
    // Piped, the output is JSON even without --json (as `operations`); the terminal table is a unit test's.
    const piped = await cli(['contexts']);
    expect(JSON.parse(piped.stdout)).toEqual(rows);
  });

  it('the library selects a context too, from its options or the env it is given', async () => {
    const fromOption = new DockerConnector({ context: 'old-unix', env: { DOCKER_CONFIG: dockerConfig }, rate_limit: 0 });
    const fromEnv = new DockerConnector({ env: { DOCKER_CONFIG: dockerConfig, DOCKER_CONTEXT: 'mtls' }, rate_limit: 0 });
    try {
      expect((await fromOption.execute('get_version', {})).Version).toBe(oldEngine().version);
      expect(fromOption.endpointSource).toMatchObject({ by: 'context', from: 'options', context: 'old-unix' });
      expect((await fromEnv.execute('get_version', {})).Version).toBe(tlsEngine().version);
      expect(fromEnv.config).toMatchObject({ host: tlsHost(), context: 'mtls' });
    } finally {
      fromOption.close();
      fromEnv.close();
    }
  });
});

describe('socket discovery when nothing names an Engine', () => {
  it('tries $XDG_RUNTIME_DIR/docker.sock, ~/.docker/run/docker.sock, then $XDG_RUNTIME_DIR/podman/podman.sock, and health and config say which', async () => {
    // The system paths discovery starts from and ends with must be absent on the test machine.
    expect(existsSync('/var/run/docker.sock')).toBe(false);
    expect(existsSync('/run/podman/podman.sock')).toBe(false);
    const base = mkdtempSync(join(tmpdir(), 'dc-discovery-'));
    const xdg = join(base, 'xdg');
    const home = join(base, 'home');
    const rootless = join(xdg, 'docker.sock');
    const desktop = join(home, '.docker', 'run', 'docker.sock');
    const podman = join(xdg, 'podman', 'podman.sock');
    mkdirSync(join(xdg, 'podman'), { recursive: true });
    mkdirSync(join(home, '.docker', 'run'), { recursive: true });
    // Real listening sockets: links to the harness Engines' sockets, a different Engine at each step.
    const socketOf = (e: HarnessEngine) => e.host.replace('unix://', '');
    symlinkSync(socketOf(oldEngine()), rootless);
    symlinkSync(socketOf(newEngine()), desktop);
    symlinkSync(socketOf(oldEngine()), podman);
    const env = { XDG_RUNTIME_DIR: xdg, HOME: home, DOCKER_CONNECTOR_RATE_LIMIT: '0' };
    try {
      const seen: [string, string, string][] = [];
      for (const [link, label] of [
        [rootless, '$XDG_RUNTIME_DIR/docker.sock, rootless Docker'],
        [desktop, '~/.docker/run/docker.sock, Docker Desktop'],
        [podman, '$XDG_RUNTIME_DIR/podman/podman.sock, rootless Podman'],
      ] as const) {
        const health = await runCli(['health'], env);
        expect(health.code, health.stderr).toBe(0);
        const h = JSON.parse(health.stdout) as { endpoint: string; endpoint_source: string; engine_version: string };
        expect(h.endpoint_source).toBe(`discovered ${link} (${label}): /var/run/docker.sock does not exist`);
        const config = await runCli(['config'], env);
        expect(config.code, config.stderr).toBe(0);
        expect(JSON.parse(config.stdout)).toMatchObject({ host: `unix://${link}`, endpoint_source: h.endpoint_source });
        seen.push([h.endpoint, h.engine_version, versionOf(await runCli(['run', 'get_version'], env))]);
        unlinkSync(link);
      }
      expect(seen).toEqual([
        [`unix://${rootless}`, oldEngine().version, oldEngine().version],
        [`unix://${desktop}`, newEngine().version, newEngine().version],
        [`unix://${podman}`, oldEngine().version, oldEngine().version],
      ]);
      // None left: the default stands, and health says it is unreachable at the default socket.
      const none = await runCli(['health'], { ...env, DOCKER_CONNECTOR_RETRY_ATTEMPTS: '0' });
      expect(none.code).toBe(1);
      expect(JSON.parse(none.stdout)).toMatchObject({ reachable: false });
      expect(JSON.parse((await runCli(['config'], env)).stdout)).toMatchObject({ endpoint_source: 'default (/var/run/docker.sock): nothing names an Engine' });
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
