import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { runCli, type CliRun } from '../support/cli.js';
import { connectorFor, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { failure } from '../support/expect-error.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';

/*
 * Registry credentials the way Docker users keep them: found only in the
 * docker CLI's $DOCKER_CONFIG/config.json (auths, credHelpers, credsStore with
 * real docker-credential-* programs), against the harness registries (htpasswd
 * auth, one inside each Engine's network namespace), through the built CLI and
 * the library; registry_login and inspect_distribution; and the secret never
 * in any output.
 */

const USER = harness().registry.username;
const SECRET = harness().registry.password;
/** A wrong password that only config.json holds: it must not show either. */
const WRONG = 'wrong-pass-only-in-config-json-5d1f';
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** What the registry itself says the manifest digest of repo:tag is (queried inside the Engine's namespace). */
function registryDigest(engine: HarnessEngine, repoPath: string, tag: string): string {
  const accept = [
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.oci.image.index.v1+json',
  ].join(', ');
  // Credentials go in on stdin (curl -K -), never on a command line.
  const headers = execFileSync('nsenter', [`--net=/var/run/netns/${engine.netns}`, 'curl', '-sS', '-f', '-I', '-K', '-', `http://${engine.registry}/v2/${repoPath}/manifests/${tag}`], {
    input: `user = "${USER}:${SECRET}"\nheader = "Accept: ${accept}"\n`,
    encoding: 'utf8',
  });
  const m = /^docker-content-digest:\s*(\S+)/im.exec(headers);
  if (!m) throw new Error(`no Docker-Content-Digest in the registry's answer:\n${headers}`);
  return m[1]!;
}

describe.each(engines())('registry credentials on Engine $name', (engine) => {
  const tmp = mkdtempSync(join(tmpdir(), 'dc-regcred-'));
  const bin = join(tmp, 'bin');
  /** Every helper call appends "<program> <action> <server>" here. */
  const calls = join(tmp, 'helper-calls.log');
  const savedEnv = { PATH: process.env.PATH };
  const image = harness().image;
  /** The image the harness pushed to this Engine's registry. */
  const regImage = `${engine.registry}/dc/busybox:latest`;
  const tags: string[] = [];
  let dc: DockerConnector;

  function helper(name: string, body: string): void {
    const path = join(bin, `docker-credential-${name}`);
    writeFileSync(path, `#!/bin/sh\nserver=$(cat)\necho "${name} $1 $server" >> '${calls}'\n${body}\n`);
    chmodSync(path, 0o755);
  }

  /** A $DOCKER_CONFIG directory holding this config.json (none: an empty directory). */
  function dockerConfig(name: string, content?: unknown): string {
    const dir = join(tmp, name);
    mkdirSync(dir);
    if (content !== undefined) writeFileSync(join(dir, 'config.json'), JSON.stringify(content));
    return dir;
  }

  const dirs = {} as Record<'auths' | 'credHelpers' | 'credsStore' | 'none' | 'wrong' | 'missing' | 'locked' | 'notFound', string>;

  /** The library, reading the docker configuration in `dir` (the connector's `env`: DOCKER_CONFIG, and PATH for the helpers). */
  function useDockerConfig(dir: string): void {
    dc?.close();
    dc = connectorFor(engine, { env: { DOCKER_CONFIG: dir, PATH: `${bin}:${savedEnv.PATH ?? ''}` } });
  }

  function cli(dir: string, op: string, params: unknown, extra: string[] = []): Promise<CliRun> {
    return runCli(['run', op, '--host', engine.host, '--params', JSON.stringify(params), ...extra], { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH ?? ''}`, DOCKER_CONNECTOR_RATE_LIMIT: '0' }, 120_000);
  }
  const errorOf = (r: CliRun) => (JSON.parse(r.stdout || r.stderr.trim().split('\n').pop()!) as { error: { code: string; message: string } }).error;
  const helperCalls = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) : []);

  /** A fresh repository in the harness registry, tagged locally from the harness image. */
  function newRepo(): { repo: string; path: string } {
    const path = `${uniqueName('dcrc')}/app`;
    const repo = `${engine.registry}/${path}`;
    docker(engine, ['tag', image, `${repo}:v1`]);
    tags.push(`${repo}:v1`);
    return { repo, path };
  }
  const untag = (ref: string) => docker(engine, ['rmi', ref]);
  const imageId = () => docker(engine, ['image', 'inspect', '-f', '{{.Id}}', image]).trim();

  beforeAll(() => {
    mkdirSync(bin);
    // Answers for this Engine's registry only, as a keychain holding one login would.
    helper('dctest', `case "$1" in get) ;; *) exit 1 ;; esac
if [ "$server" = "${engine.registry}" ]; then printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${SECRET}"}' "$server"; exit 0; fi
echo "credentials not found in native keychain"; exit 1`);
    helper('dclocked', 'echo "the keychain is locked" >&2; exit 1');
    helper('dcempty', 'echo "credentials not found in native keychain"; exit 1');
    dirs.auths = dockerConfig('auths', { auths: { [engine.registry]: { auth: b64(`${USER}:${SECRET}`) } } });
    dirs.credHelpers = dockerConfig('helpers', { credHelpers: { [engine.registry]: 'dctest' }, auths: { [engine.registry]: {} } });
    dirs.credsStore = dockerConfig('store', { credsStore: 'dctest', auths: { [engine.registry]: {} } });
    dirs.none = dockerConfig('none');
    dirs.wrong = dockerConfig('wrong', { auths: { [engine.registry]: { auth: b64(`${USER}:${WRONG}`) } } });
    dirs.missing = dockerConfig('missing', { credsStore: 'dc-not-installed' });
    dirs.locked = dockerConfig('locked', { credHelpers: { [engine.registry]: 'dclocked' } });
    dirs.notFound = dockerConfig('notfound', { credsStore: 'dcempty' });
    dc = connectorFor(engine);
  });

  beforeEach(() => rmSync(calls, { force: true }));

  afterAll(() => {
    dc.close();
    for (const t of tags) if (docker(engine, ['image', 'ls', '-q', t]).trim()) untag(t);
    rmSync(tmp, { recursive: true, force: true });
  });

  it.each(['auths', 'credHelpers', 'credsStore'] as const)('credentials only in config.json (%s): push and inspect through the CLI, pull through the library', async (source) => {
    const { repo, path } = newRepo();
    const pushed = await cli(dirs[source], 'push_image', { image: `${repo}:v1` });
    expect(pushed.code, pushed.stderr).toBe(0);
    const digest = (JSON.parse(pushed.stdout) as { digest: string }).digest;
    expect(digest).toBe(registryDigest(engine, path, 'v1'));

    const inspected = await cli(dirs[source], 'inspect_distribution', { image: `${repo}:v1` });
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ digest, size: expect.any(Number), platforms: [{ architecture: expect.any(String), os: 'linux' }] });

    untag(`${repo}:v1`);
    useDockerConfig(dirs[source]);
    const pulled = await dc.execute('pull_image', { image: `${repo}:v1` });
    expect(pulled).toMatchObject({ image: `${repo}:v1`, id: imageId(), digest, changed: true });
    // A helper is asked for this registry by host:port, as the docker CLI asks it.
    if (source !== 'auths') expect(helperCalls()).toEqual(Array(3).fill(`dctest get ${engine.registry}`));
    else expect(helperCalls()).toEqual([]);
  });

  it("build_image pulls its base image with config.json's logins, as docker build sends them, and without them is refused", async () => {
    const { repo } = newRepo();
    expect((await cli(dirs.auths, 'push_image', { image: `${repo}:v1` })).code).toBe(0);
    untag(`${repo}:v1`);
    const dockerfile = `FROM ${repo}:v1\nRUN echo built > /built\n`;
    const denied = await cli(dirs.none, 'build_image', { dockerfile });
    expect(denied.code, denied.stdout).toBe(1);
    expect(errorOf(denied).code).toBe('UNAUTHORIZED');
    const built = await cli(dirs.auths, 'build_image', { dockerfile, tags: [`${repo}:built`] });
    expect(built.code, built.stderr).toBe(0);
    tags.push(`${repo}:built`, `${repo}:v1`);
    expect(docker(engine, ['run', '--rm', `${repo}:built`, 'cat', '/built'])).toBe('built\n');
    expect(built.stdout + built.stderr).not.toContain(SECRET);
  });

  it('without config.json credentials the same calls are refused: UNAUTHORIZED (the control)', async () => {
    const { repo } = newRepo();
    const pushed = await cli(dirs.none, 'push_image', { image: `${repo}:v1` });
    expect(pushed.code).toBe(1);
    expect(errorOf(pushed).code).toBe('UNAUTHORIZED');
    useDockerConfig(dirs.none);
    expect((await failure(dc.execute('inspect_distribution', { image: regImage }))).code).toBe('UNAUTHORIZED');
  });

  it('explicit credentials win over config.json: the call\'s auth and the configured registry_* settings', async () => {
    const { repo, path } = newRepo();
    // config.json holds a wrong password: explicit credentials make the calls work.
    useDockerConfig(dirs.wrong);
    const auth = { username: USER, password: SECRET, serveraddress: engine.registry };
    const pushed = await dc.execute('push_image', { image: `${repo}:v1`, auth });
    expect(pushed.digest).toBe(registryDigest(engine, path, 'v1'));
    const configured = connectorFor(engine, { registry_username: USER, registry_password: SECRET, registry_server: engine.registry });
    try {
      expect((await configured.execute('inspect_distribution', { image: `${repo}:v1` })).digest).toBe(pushed.digest);
    } finally {
      configured.close();
    }
    const viaFlags = await cli(dirs.wrong, 'inspect_distribution', { image: `${repo}:v1` }, ['--registry-username', USER, '--registry-password', SECRET, '--registry-server', engine.registry]);
    expect(viaFlags.code, viaFlags.stderr).toBe(0);
    // And the other way round: config.json right, explicit wrong: the explicit ones are what is sent.
    useDockerConfig(dirs.auths);
    const refused = await failure(dc.execute('inspect_distribution', { image: `${repo}:v1`, auth: { ...auth, password: WRONG } }));
    expect(refused.code).toBe('UNAUTHORIZED');
    // A credential helper is not even run when explicit credentials apply.
    useDockerConfig(dirs.missing);
    expect((await dc.execute('inspect_distribution', { image: `${repo}:v1`, auth })).digest).toBe(pushed.digest);
  });

  it('credential helper failures: a missing or failing helper fails pull with a clear error; "not found" and search go on without credentials', async () => {
    const missing = await cli(dirs.missing, 'pull_image', { image: regImage });
    expect(missing.code).toBe(2);
    expect(errorOf(missing)).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/docker-credential-dc-not-installed.*not installed/) });
    expect(errorOf(missing).message).toContain(join(dirs.missing, 'config.json'));

    useDockerConfig(dirs.locked);
    const locked = await failure(dc.execute('pull_image', { image: regImage }));
    expect(locked).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/docker-credential-dclocked.*the keychain is locked/) });

    // "Not found in the keychain": the pull goes on anonymously, and the registry is the one refusing it.
    useDockerConfig(dirs.notFound);
    rmSync(calls, { force: true });
    const anonymous = await failure(dc.execute('pull_image', { image: regImage }));
    expect(anonymous.code).toBe('UNAUTHORIZED');
    expect(anonymous.message).toMatch(/no basic auth credentials|authentication required|unauthorized/i);
    expect(helperCalls()).toEqual([`dcempty get ${engine.registry}`]);

    // As `docker search`: a helper that cannot run leaves the search anonymous (the stub needs no credentials).
    const search = await cli(dirs.missing, 'search_images', { term: `${engine.searchRegistry}/foo`, limit: 1 }, ['--log-level', 'warn']);
    expect(search.code, search.stderr).toBe(0);
    expect(JSON.parse(search.stdout)).toMatchObject({ count: 1 });
    expect(search.stderr).toMatch(/docker-credential-dc-not-installed.*without registry credentials/);
  });

  it('registry_login: good credentials succeed, a wrong password is UNAUTHORIZED, and the password shows nowhere', async () => {
    const good = await cli(dirs.none, 'registry_login', { username: USER, password: SECRET, server: engine.registry }, ['--log-level', 'trace']);
    expect(good.code, good.stderr).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({ status: 'Login Succeeded', identity_token: null });
    const bad = await cli(dirs.none, 'registry_login', { username: USER, password: WRONG, server: engine.registry }, ['--log-level', 'trace']);
    expect(bad.code).toBe(1);
    expect(errorOf(bad).code).toBe('UNAUTHORIZED');
    for (const out of [good.stdout, good.stderr, bad.stdout, bad.stderr]) {
      expect(out).not.toContain(SECRET);
      expect(out).not.toContain(WRONG);
    }
    // Something was logged (the check above looked at real log lines), with the password redacted.
    expect(bad.stderr).toMatch(/"password":"\[REDACTED\]"/);

    expect(await dc.execute('registry_login', { username: USER, password: SECRET, server: `http://${engine.registry}/` })).toEqual({ status: 'Login Succeeded', identity_token: null });
    const err = await failure(dc.execute('registry_login', { username: USER, password: WRONG, server: engine.registry }));
    expect(err.code).toBe('UNAUTHORIZED');
    expect(JSON.stringify(err)).not.toContain(WRONG);
    // Nothing is written: the docker configuration stays as it was (none).
    expect(existsSync(join(dirs.none, 'config.json'))).toBe(false);
  });

  it('inspect_distribution: the registry\'s digest without pulling; an unknown tag is NOT_FOUND', async () => {
    const ref = regImage;
    const path = ref.slice(ref.indexOf('/') + 1, ref.lastIndexOf(':'));
    const auth = { username: USER, password: SECRET, serveraddress: engine.registry };
    const before = docker(engine, ['image', 'ls', '-q', ref]).trim();
    const r = await dc.execute('inspect_distribution', { image: ref, auth });
    expect(r).toEqual({ digest: registryDigest(engine, path, 'latest'), media_type: 'application/vnd.docker.distribution.manifest.v2+json', size: expect.any(Number), platforms: [{ architecture: 'amd64', os: 'linux' }] });
    // A reference without a tag means :latest; by digest names the same manifest.
    const bare = await dc.execute('inspect_distribution', { image: ref.slice(0, ref.lastIndexOf(':')), auth });
    expect(bare.digest).toBe(r.digest);
    expect((await dc.execute('inspect_distribution', { image: `${ref.slice(0, ref.lastIndexOf(':'))}@${r.digest}`, auth })).digest).toBe(r.digest);
    // Nothing was pulled.
    expect(docker(engine, ['image', 'ls', '-q', ref]).trim()).toBe(before);
    const missing = await failure(dc.execute('inspect_distribution', { image: `${ref.slice(0, ref.lastIndexOf(':'))}:no-such-tag`, auth }));
    expect(missing.code).toBe('NOT_FOUND');
    const id = await failure(dc.execute('inspect_distribution', { image: imageId() }));
    expect(id).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/image/) });
  });

  it('config.json secrets never reach logs, results or errors', async () => {
    const { repo } = newRepo();
    const outputs: CliRun[] = [];
    for (const source of ['auths', 'credHelpers', 'credsStore'] as const) {
      outputs.push(await cli(dirs[source], 'push_image', { image: `${repo}:v1` }, ['--log-level', 'trace']));
      outputs.push(await cli(dirs[source], 'inspect_distribution', { image: `${repo}:v1` }, ['--log-level', 'trace']));
    }
    // A refused password read from config.json: the error must not quote it.
    outputs.push(await cli(dirs.wrong, 'pull_image', { image: `${repo}:v1` }, ['--log-level', 'trace']));
    expect(outputs.slice(0, -1).map((o) => o.code)).toEqual(Array(6).fill(0));
    expect(outputs.at(-1)!.code).toBe(1);
    expect(errorOf(outputs.at(-1)!).code).toBe('UNAUTHORIZED');
    for (const o of outputs) {
      // Real log lines were written, each of them free of the secrets in any form.
      expect(o.stderr).toMatch(/"msg":"engine request"/);
      for (const secret of [SECRET, WRONG, b64(`${USER}:${SECRET}`), b64(`${USER}:${WRONG}`)]) {
        expect(o.stdout).not.toContain(secret);
        expect(o.stderr).not.toContain(secret);
      }
    }
  });

  it('config.json is read only by image operations that need credentials', async () => {
    const auth = { username: USER, password: SECRET, serveraddress: engine.registry };
    for (const [op, params] of [
      ['ping', {}],
      ['list_images', {}],
      ['inspect_image', { image }],
      ['inspect_distribution', { image: regImage, auth }],
    ] as const) {
      const r = await cli(dirs.credsStore, op, params);
      expect(r.code, `${op}: ${r.stderr}`).toBe(0);
    }
    expect(helperCalls()).toEqual([]);
    const r = await cli(dirs.credsStore, 'inspect_distribution', { image: regImage });
    expect(r.code, r.stderr).toBe(0);
    expect(helperCalls()).toEqual([`dctest get ${engine.registry}`]);
  });
});
