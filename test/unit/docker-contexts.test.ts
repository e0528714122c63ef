import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { homeOf, listDockerContexts, readDockerContext } from '../../src/config/docker-contexts.js';
import { loadConfig, type LoadConfigOptions } from '../../src/config/load.js';
import { discoverSocket, socketCandidates } from '../../src/config/socket-discovery.js';
import { ConnectorError } from '../../src/errors.js';
import { contextsTable } from '../../src/cli/contexts.js';

/*
 * docker CLI contexts and socket discovery (src/config/docker-contexts.ts,
 * endpoint-source.ts, socket-discovery.ts). The context store is written here
 * in the layout `docker context create` writes (test/integration/contexts.test.ts
 * uses the real docker CLI for it); sockets are real listening unix sockets.
 */

const root = mkdtempSync(join(tmpdir(), 'dc-contexts-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const sha = (name: string) => createHash('sha256').update(name).digest('hex');

function makeContext(configDir: string, name: string, host: string, opts: { skip?: boolean; files?: ('ca' | 'cert' | 'key')[]; description?: string } = {}): void {
  const meta = join(configDir, 'contexts', 'meta', sha(name));
  mkdirSync(meta, { recursive: true });
  const metadata = opts.description ? { Description: opts.description } : {};
  writeFileSync(join(meta, 'meta.json'), JSON.stringify({ Name: name, Metadata: metadata, Endpoints: { docker: { Host: host, SkipTLSVerify: opts.skip ?? false } } }));
  if (opts.files?.length) {
    const tls = join(configDir, 'contexts', 'tls', sha(name), 'docker');
    mkdirSync(tls, { recursive: true });
    for (const f of opts.files) writeFileSync(join(tls, `${f}.pem`), 'not read by these tests');
  }
}

/** A docker config dir with contexts a, b, c (unix sockets), t (TLS files), s (skip-tls-verify), and currentContext c. */
const dockerConfig = join(root, 'docker');
makeContext(dockerConfig, 'a', 'unix:///ctx/a.sock');
makeContext(dockerConfig, 'b', 'unix:///ctx/b.sock', { description: 'the b one' });
makeContext(dockerConfig, 'c', 'unix:///ctx/c.sock');
makeContext(dockerConfig, 't', 'tcp://tls.example:2376', { files: ['ca', 'cert', 'key'] });
makeContext(dockerConfig, 's', 'tcp://skip.example:2376', { skip: true });
makeContext(dockerConfig, 'r', 'ssh://deploy@remote.example:2222');
writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: {}, currentContext: 'c' }));
const tlsDir = (name: string) => join(dockerConfig, 'contexts', 'tls', sha(name), 'docker');

/** Hermetic: no system socket, no home of the machine's. */
const discovery = { defaultSocket: join(root, 'no-default.sock'), systemPodmanSocket: join(root, 'no-podman.sock') };
const baseEnv = { DOCKER_CONFIG: dockerConfig, HOME: join(root, 'home') };

function load(env: NodeJS.ProcessEnv, rest: Omit<LoadConfigOptions, 'env'> = {}) {
  return loadConfig({ env: { ...baseEnv, ...env }, discovery, onWarning: () => {}, ...rest });
}

function configFile(name: string, settings: Record<string, unknown>): string {
  const p = join(root, name);
  writeFileSync(p, JSON.stringify(settings));
  return p;
}

function invalidConfig(fn: () => unknown): ConnectorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('INVALID_CONFIG');
    return err as ConnectorError;
  }
  throw new Error('expected INVALID_CONFIG');
}

describe('the docker context store', () => {
  it('reads a context where `docker context create` writes it: meta.json by the sha256 of the name, certificates beside it', () => {
    expect(readDockerContext('t', baseEnv)).toEqual({
      name: 't',
      host: 'tcp://tls.example:2376',
      skipTlsVerify: false,
      tls: { ca: join(tlsDir('t'), 'ca.pem'), cert: join(tlsDir('t'), 'cert.pem'), key: join(tlsDir('t'), 'key.pem') },
    });
    expect(readDockerContext('b', baseEnv)).toMatchObject({ name: 'b', description: 'the b one', host: 'unix:///ctx/b.sock', tls: {} });
    expect(listDockerContexts(baseEnv).map((c) => c.name)).toEqual(['a', 'b', 'c', 'r', 's', 't']);
  });

  it('an unknown context is INVALID_CONFIG naming it, whichever way it was selected', () => {
    for (const env of [{ DOCKER_CONTEXT: 'nope-env' }, { DOCKER_CONNECTOR_CONTEXT: 'nope-connector' }]) {
      const name = Object.values(env)[0]!;
      expect(invalidConfig(() => load(env)).message).toContain(`unknown docker context "${name}"`);
    }
    expect(invalidConfig(() => load({}, { options: { context: 'nope-flag' } })).message).toContain('"nope-flag"');
    const file = configFile('unknown-context.json', { context: 'nope-file' });
    expect(invalidConfig(() => load({}, { configFile: file })).message).toContain('"nope-file"');
    const other = join(root, 'other-docker');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'config.json'), JSON.stringify({ currentContext: 'nope-current' }));
    expect(invalidConfig(() => load({ DOCKER_CONFIG: other })).message).toContain('"nope-current"');
  });

  it("an environment handed in without HOME (env: {}) picks up nothing ambient; the process's own environment does", () => {
    expect(homeOf({})).toBeUndefined();
    expect(homeOf({ HOME: '/h' })).toBe('/h');
    expect(homeOf(process.env)).toBeTruthy();
    expect(socketCandidates({}, discovery).map((c) => c.path)).toEqual([discovery.systemPodmanSocket]);
  });

  it('refuses a config.json that is not JSON without quoting it (it holds registry credentials)', () => {
    const bad = join(root, 'bad-docker');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'config.json'), '{"auths": {"r": {"auth": "planted-auth"}}');
    const err = invalidConfig(() => load({ DOCKER_CONFIG: bad }));
    expect(err.message).toMatch(/config\.json is not valid JSON/);
    expect(err.message).not.toContain('planted');
  });
});

describe('which setting chooses the Engine', () => {
  const host = (env: NodeJS.ProcessEnv, rest: Omit<LoadConfigOptions, 'env'> = {}) => {
    const { config, endpointSource } = load(env, rest);
    return [config.host, endpointSource.by, endpointSource.from ?? null];
  };

  it("follows the docker CLI's order among its own settings: --host > --context > DOCKER_HOST > DOCKER_CONTEXT > currentContext", () => {
    expect(host({})).toEqual(['unix:///ctx/c.sock', 'context', 'config_json']);
    expect(host({ DOCKER_CONTEXT: 'b' })).toEqual(['unix:///ctx/b.sock', 'context', 'docker_env']);
    expect(host({ DOCKER_CONTEXT: 'b', DOCKER_HOST: 'unix:///env/host.sock' })).toEqual(['unix:///env/host.sock', 'host', 'docker_env']);
    expect(host({ DOCKER_CONTEXT: 'b', DOCKER_HOST: 'unix:///env/host.sock' }, { options: { context: 'a' } })).toEqual(['unix:///ctx/a.sock', 'context', 'options']);
    expect(host({ DOCKER_CONTEXT: 'b', DOCKER_HOST: 'unix:///env/host.sock' }, { options: { context: 'a', host: 'unix:///flag.sock' } })).toEqual(['unix:///flag.sock', 'host', 'options']);
  });

  it("fits the connector's layers: a config file's host or context beats the docker CLI's ambient settings, DOCKER_CONNECTOR_* beats the file", () => {
    const ambient = { DOCKER_CONTEXT: 'b', DOCKER_HOST: 'unix:///env/host.sock' };
    const fileHost = configFile('host.json', { host: 'unix:///file.sock' });
    const fileContext = configFile('context.json', { context: 'a' });
    expect(host(ambient, { configFile: fileHost })).toEqual(['unix:///file.sock', 'host', 'file']);
    expect(host({ DOCKER_CONTEXT: 'b' }, { configFile: fileHost })).toEqual(['unix:///file.sock', 'host', 'file']);
    expect(host(ambient, { configFile: fileContext })).toEqual(['unix:///ctx/a.sock', 'context', 'file']);
    expect(host({ ...ambient, DOCKER_CONNECTOR_CONTEXT: 'b' }, { configFile: fileHost })).toEqual(['unix:///ctx/b.sock', 'context', 'connector_env']);
    expect(host({ DOCKER_CONNECTOR_HOST: 'unix:///connector.sock', DOCKER_CONNECTOR_CONTEXT: 'b' }, { configFile: fileContext })).toEqual(['unix:///connector.sock', 'host', 'connector_env']);
    expect(host({ DOCKER_CONNECTOR_HOST: 'unix:///connector.sock' }, { options: { context: 'a' } })).toEqual(['unix:///ctx/a.sock', 'context', 'options']);
    // The split form names the Engine as host does.
    expect(load({ DOCKER_CONTEXT: 'b' }, { options: { server: 'split.example' } }).endpointSource).toMatchObject({ by: 'server', from: 'options' });
  });

  it('"default" is no context: DOCKER_HOST still applies, DOCKER_CONTEXT and currentContext do not', () => {
    expect(host({ DOCKER_CONTEXT: 'default' })).toEqual([undefined, 'default', null]);
    expect(host({ DOCKER_CONTEXT: 'b' }, { options: { context: 'default' } })).toEqual([undefined, 'default', null]);
    expect(host({ DOCKER_HOST: 'unix:///env/host.sock' }, { options: { context: 'default' } })).toEqual(['unix:///env/host.sock', 'host', 'docker_env']);
    const fileContext = configFile('context-b.json', { context: 'b' });
    expect(host({}, { configFile: fileContext, options: { context: 'default' } })).toEqual([undefined, 'default', null]);
  });

  it("a context brings its certificates and replaces the lower layers' (DOCKER_CERT_PATH's); the same layer's own settings still win", () => {
    const env = { DOCKER_HOST: 'tcp://ambient:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/ambient' };
    const t = load(env, { options: { context: 't' } }).config;
    expect(t).toMatchObject({ host: 'tcp://tls.example:2376', context: 't', verify_ssl: true, ca_cert: join(tlsDir('t'), 'ca.pem'), client_cert: join(tlsDir('t'), 'cert.pem'), client_key: join(tlsDir('t'), 'key.pem') });
    const plain = load(env, { options: { context: 'a' } }).config;
    expect(plain.host).toBe('unix:///ctx/a.sock');
    expect([plain.ca_cert, plain.client_cert, plain.client_key]).toEqual([undefined, undefined, undefined]);
    const own = load({}, { options: { context: 't', ca_cert: '/mine/ca.pem' } }).config;
    expect(own.ca_cert).toBe('/mine/ca.pem');
    expect(own.client_key).toBe(join(tlsDir('t'), 'key.pem'));
    // skip-tls-verify without certificates still means TLS, unverified, as the docker CLI uses it.
    expect(load({ DOCKER_CONTEXT: 's' }).config).toMatchObject({ host: 'https://skip.example:2376', verify_ssl: false });
    // An ssh:// context flows through as it is (the SSH transport reaches it).
    expect(load({ DOCKER_CONTEXT: 'r' }).config.host).toBe('ssh://deploy@remote.example:2222');
  });

  it('describes the choice for config and health output', () => {
    expect(load({ DOCKER_CONTEXT: 'b' }).endpointSource.description).toBe('docker context "b" (DOCKER_CONTEXT)');
    expect(load({}).endpointSource.description).toBe(`docker context "c" (currentContext in ${join(dockerConfig, 'config.json')})`);
    expect(load({}, { options: { context: 'a' } }).endpointSource.description).toBe('docker context "a" (--context flag or context option)');
    expect(load({ DOCKER_HOST: 'unix:///x.sock' }).endpointSource.description).toBe('DOCKER_HOST');
    const file = configFile('describe.json', { host: 'unix:///f.sock' });
    expect(load({}, { configFile: file }).endpointSource.description).toBe(`host in the config file ${file}`);
  });

  it('warns when a config file overrides DOCKER_CONTEXT, or overrides DOCKER_HOST by a context', () => {
    const fileHost = configFile('warn-host.json', { host: 'unix:///file.sock' });
    const fileContext = configFile('warn-context.json', { context: 'a' });
    expect(load({ DOCKER_CONTEXT: 'b' }, { configFile: fileHost }).warnings).toEqual([`DOCKER_CONTEXT is set but ignored: the config file ${fileHost} sets host`]);
    expect(load({ DOCKER_CONTEXT: 'b' }, { configFile: fileContext }).warnings).toEqual([`DOCKER_CONTEXT is set but ignored: the config file ${fileContext} selects docker context "a"`]);
    expect(load({ DOCKER_HOST: 'unix:///env.sock', DOCKER_CERT_PATH: '/certs' }, { configFile: fileContext }).warnings).toEqual([
      `DOCKER_HOST is set but ignored for host: the config file ${fileContext} selects docker context "a"`,
      `DOCKER_CERT_PATH is set but ignored for ca_cert, client_cert, client_key: the config file ${fileContext} selects docker context "a"`,
    ]);
    // Outranked by DOCKER_HOST anyway: nothing to say about DOCKER_CONTEXT.
    expect(load({ DOCKER_CONTEXT: 'b', DOCKER_HOST: 'unix:///env.sock' }, { configFile: fileHost }).warnings).toEqual([`DOCKER_HOST is set but ignored for host: the config file ${fileHost} sets it`]);
  });
});

describe('socket discovery', () => {
  const dir = join(root, 'discovery');
  const xdg = join(dir, 'xdg');
  const home = join(dir, 'home');
  const sys = join(dir, 'sys');
  const paths = { defaultSocket: join(sys, 'docker.sock'), systemPodmanSocket: join(sys, 'podman.sock') };
  const rootless = join(xdg, 'docker.sock');
  const desktop = join(home, '.docker', 'run', 'docker.sock');
  const userPodman = join(xdg, 'podman', 'podman.sock');
  const env = { XDG_RUNTIME_DIR: xdg, HOME: home, DOCKER_CONFIG: join(dir, 'empty-docker-config') };

  function listen(path: string): Promise<net.Server> {
    mkdirSync(join(path, '..'), { recursive: true });
    const server = net.createServer((s) => s.end());
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve(server));
    });
  }
  const close = (server: net.Server, path: string) =>
    new Promise<void>((resolve) =>
      server.close(() => {
        if (existsSync(path)) unlinkSync(path);
        resolve();
      }),
    );

  it('lists the candidates in the documented order', () => {
    expect(socketCandidates(env, paths).map((c) => c.path)).toEqual([rootless, desktop, userPodman, paths.systemPodmanSocket]);
    // Without XDG_RUNTIME_DIR the per-user runtime candidates are skipped, not guessed.
    expect(socketCandidates({ HOME: home }, paths).map((c) => c.path)).toEqual([desktop, paths.systemPodmanSocket]);
  });

  it('takes the first listening socket, in order, only when the default socket is absent', async () => {
    const servers = new Map<string, net.Server>();
    for (const p of [rootless, desktop, userPodman, paths.systemPodmanSocket]) servers.set(p, await listen(p));
    try {
      const pick = () => loadConfig({ env, discovery: paths }).config.host;
      const order: (string | undefined)[] = [];
      for (const p of [rootless, desktop, userPodman, paths.systemPodmanSocket]) {
        order.push(pick());
        await close(servers.get(p)!, p);
        servers.delete(p);
      }
      order.push(pick());
      expect(order).toEqual([`unix://${rootless}`, `unix://${desktop}`, `unix://${userPodman}`, `unix://${paths.systemPodmanSocket}`, undefined]);
    } finally {
      for (const [p, s] of servers) await close(s, p);
    }
  });

  it('says what it found and why; a default socket that exists stops it; a plain file is not a socket', async () => {
    const server = await listen(userPodman);
    try {
      writeFileSync(rootless, 'not a socket');
      const { config, endpointSource } = loadConfig({ env, discovery: paths });
      expect(config.host).toBe(`unix://${userPodman}`);
      expect(endpointSource).toEqual({
        by: 'discovered',
        socket: userPodman,
        description: `discovered ${userPodman} ($XDG_RUNTIME_DIR/podman/podman.sock, rootless Podman): ${paths.defaultSocket} does not exist`,
      });
      // Anything that names an Engine turns discovery off.
      expect(loadConfig({ env: { ...env, DOCKER_HOST: 'unix:///named.sock' }, discovery: paths }).config.host).toBe('unix:///named.sock');
      mkdirSync(sys, { recursive: true });
      writeFileSync(paths.defaultSocket, '');
      expect(discoverSocket(env, paths)).toBeUndefined();
      expect(loadConfig({ env, discovery: paths }).endpointSource).toEqual({ by: 'default', description: `default (${paths.defaultSocket}): nothing names an Engine` });
    } finally {
      rmSync(rootless, { force: true });
      rmSync(paths.defaultSocket, { force: true });
      await close(server, userPodman);
    }
  });
});

describe('the contexts table', () => {
  it('marks the current context and says why under the table', () => {
    const text = contextsTable([
      { name: 'default', description: null, endpoint: 'unix:///var/run/docker.sock', tls: false, current: false },
      { name: 'prod', description: null, endpoint: 'tcp://prod:2376', tls: true, current: true, current_because: 'DOCKER_CONTEXT' },
    ]);
    expect(text.split('\n')).toEqual([
      'NAME     ENDPOINT                     TLS',
      'default  unix:///var/run/docker.sock  no',
      'prod *   tcp://prod:2376              yes',
      '',
      'current: prod (DOCKER_CONTEXT)',
      '',
    ]);
  });
});
