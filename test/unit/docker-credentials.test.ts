import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { redact } from '../../src/config/redact.js';
import {
  allDockerCredentials,
  configKeyFor,
  convertToHostname,
  CredentialHelperFailure,
  DOCKER_HUB_KEY,
  dockerConfigFile,
  helperFailureError,
  lookupDockerCredentials,
  readDockerConfig,
} from '../../src/engine/docker-credentials.js';

/*
 * The docker CLI's registry credentials, read as it reads them: config.json
 * `auths`, `credHelpers`, `credsStore`, and real `docker-credential-*`
 * programs (shell scripts on a private PATH) asked with the server on stdin.
 */

const root = mkdtempSync(join(tmpdir(), 'dc-dcred-'));
const bin = join(root, 'bin');
mkdirSync(bin);
/** Every helper call appends "<action> <stdin>" here. */
const calls = join(root, 'calls.log');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A helper program: `body` is shell run after reading the server into $server. */
function helper(name: string, body: string): void {
  const path = join(bin, `docker-credential-${name}`);
  writeFileSync(path, `#!/bin/sh\nserver=$(cat)\necho "$1 $server" >> '${calls}'\n${body}\n`);
  chmodSync(path, 0o755);
}

helper('good', `case "$1" in
  get) case "$server" in
    reg.example:5000) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-secret-1"}' "$server" ;;
    ${DOCKER_HUB_KEY}) printf '{"ServerURL":"%s","Username":"<token>","Secret":"hub-identity-token"}' "$server" ;;
    other.example) printf '{"ServerURL":"%s","Username":"store-user","Secret":"store-secret-2"}' "$server" ;;
    *) echo "credentials not found in native keychain"; exit 1 ;;
  esac ;;
  list) printf '{"other.example":"store-user","missing.example":"x"}' ;;
esac`);
helper('locked', 'echo "error: keychain is locked" >&2; exit 3');
helper('garbage', 'echo "not json but maybe-a-secret-value"; exit 0');
helper('slow', 'sleep 5');
helper('empty', `printf '{"ServerURL":"","Username":"","Secret":""}'`);

function configDir(content: unknown): string {
  const dir = mkdtempSync(join(root, 'cfg-'));
  writeFileSync(join(dir, 'config.json'), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}
const envFor = (dir: string) => ({ DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH ?? ''}` });
const helperCalls = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []);

beforeEach(() => rmSync(calls, { force: true }));

describe('where the docker configuration is', () => {
  it('is $DOCKER_CONFIG, else ~/.docker', () => {
    expect(dockerConfigFile({ DOCKER_CONFIG: '/x/y' })).toBe('/x/y/config.json');
    expect(dockerConfigFile({ HOME: '/home/u' })).toBe('/home/u/.docker/config.json');
    // An environment handed in without DOCKER_CONFIG or HOME (env: {}) reads no docker configuration.
    expect(dockerConfigFile({})).toBeUndefined();
    expect(dockerConfigFile({ DOCKER_CONFIG: '' })).toBeUndefined();
  });

  it('names registries as the docker CLI keys them', () => {
    expect(configKeyFor('docker.io')).toBe('https://index.docker.io/v1/');
    expect(configKeyFor('reg.example:5000')).toBe('reg.example:5000');
    expect(convertToHostname('https://reg.example:5000/v2/')).toBe('reg.example:5000');
    expect(convertToHostname('reg.example:5000')).toBe('reg.example:5000');
  });

  it('a missing file or directory means no credentials, silently', async () => {
    const warnings: string[] = [];
    const got = await lookupDockerCredentials('reg.example:5000', { env: { DOCKER_CONFIG: join(root, 'none') }, onWarning: (m) => warnings.push(m) });
    expect(got).toEqual({ credentials: undefined, source: 'none', file: join(root, 'none', 'config.json') });
    expect(warnings).toEqual([]);
  });

  it('a file that is not JSON is ignored with a warning that does not quote it', async () => {
    const warnings: string[] = [];
    const dir = configDir('{"auths": {"reg.example:5000": {"auth": "c2VjcmV0LXRleHQtaW4tYnJva2VuLWZpbGU"');
    const got = await readDockerConfig({ env: { DOCKER_CONFIG: dir }, onWarning: (m) => warnings.push(m) });
    expect(got.config).toEqual({});
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not valid JSON/);
    expect(warnings[0]).not.toContain('c2VjcmV0');
  });
});

describe('auths entries', () => {
  it('decode base64 "user:password" for host[:port], with the key as server address', async () => {
    const dir = configDir({ auths: { 'reg.example:5000': { auth: b64('alice:pa:ss-word-1') } } });
    const got = await lookupDockerCredentials('reg.example:5000', { env: envFor(dir) });
    // The password is everything after the first ":".
    expect(got).toMatchObject({ source: 'auths', credentials: { username: 'alice', password: 'pa:ss-word-1', serveraddress: 'reg.example:5000' } });
  });

  it('match a URL-form key by host, and Docker Hub under any of its names', async () => {
    const dir = configDir({ auths: { 'https://reg.example:5000/v1/': { auth: b64('bob:pw-bob-1') }, 'https://index.docker.io/v1/': { auth: b64('hubber:pw-hub-1') } } });
    expect((await lookupDockerCredentials('reg.example:5000', { env: envFor(dir) })).credentials).toMatchObject({ username: 'bob', password: 'pw-bob-1' });
    expect((await lookupDockerCredentials('docker.io', { env: envFor(dir) })).credentials).toMatchObject({ username: 'hubber', serveraddress: DOCKER_HUB_KEY });
    // Another port is another registry.
    expect((await lookupDockerCredentials('reg.example:5001', { env: envFor(dir) })).credentials).toBeUndefined();
    const short = configDir({ auths: { 'docker.io': { auth: b64('short:pw-short-1') } } });
    expect((await lookupDockerCredentials('docker.io', { env: envFor(short) })).credentials).toMatchObject({ username: 'short', serveraddress: 'docker.io' });
  });

  it('prefer the exact key over another key of the same host', async () => {
    const dir = configDir({ auths: { 'http://reg.example:5000': { auth: b64('url:pw-url-1') }, 'reg.example:5000': { auth: b64('exact:pw-exact-1') } } });
    expect((await lookupDockerCredentials('reg.example:5000', { env: envFor(dir) })).credentials).toMatchObject({ username: 'exact' });
  });

  it('take an identity token, and plain username/password fields', async () => {
    const dir = configDir({ auths: { 'a.example': { identitytoken: 'tok-aaaa-1' }, 'b.example': { username: 'carol', password: 'pw-carol-1' }, 'c.example': { email: 'x@y' } } });
    expect((await lookupDockerCredentials('a.example', { env: envFor(dir) })).credentials).toEqual({ identitytoken: 'tok-aaaa-1', serveraddress: 'a.example' });
    expect((await lookupDockerCredentials('b.example', { env: envFor(dir) })).credentials).toEqual({ username: 'carol', password: 'pw-carol-1', serveraddress: 'b.example' });
    // An entry without credentials (an email only) is none.
    expect(await lookupDockerCredentials('c.example', { env: envFor(dir) })).toMatchObject({ credentials: undefined, source: 'none' });
  });

  it('skip an "auth" that is not "user:password", with a warning that does not quote it', async () => {
    const warnings: string[] = [];
    const dir = configDir({ auths: { 'reg.example': { auth: b64('no-colon-secret') } } });
    const got = await lookupDockerCredentials('reg.example', { env: envFor(dir), onWarning: (m) => warnings.push(m) });
    expect(got.credentials).toBeUndefined();
    expect(warnings.join()).toMatch(/reg\.example/);
    expect(warnings.join()).not.toContain('no-colon-secret');
    expect(warnings.join()).not.toContain(b64('no-colon-secret'));
  });

  it('register what they hold with the redaction, so a message quoting it is scrubbed', async () => {
    const dir = configDir({ auths: { 'reg.example': { auth: b64('dave:only-in-config-json-7') } } });
    await lookupDockerCredentials('reg.example', { env: envFor(dir) });
    expect(redact({ message: 'registry said only-in-config-json-7 is wrong' }).message).toBe('registry said [REDACTED] is wrong');
  });
});

describe('credential helpers', () => {
  it('credHelpers: the registry\'s helper is asked "get" with the server on stdin', async () => {
    const dir = configDir({ credHelpers: { 'reg.example:5000': 'good' }, auths: { 'reg.example:5000': { auth: b64('ignored:ignored-pw') } } });
    const got = await lookupDockerCredentials('reg.example:5000', { env: envFor(dir) });
    expect(got).toEqual({ credentials: { username: 'helper-user', password: 'helper-secret-1', serveraddress: 'reg.example:5000' }, source: 'credHelpers', helper: 'docker-credential-good', file: join(dir, 'config.json') });
    expect(helperCalls()).toEqual(['get reg.example:5000']);
  });

  it('Docker Hub is asked for by its URL key; "<token>" as user means an identity token', async () => {
    for (const key of [DOCKER_HUB_KEY, 'docker.io', 'index.docker.io']) {
      rmSync(calls, { force: true });
      const dir = configDir({ credHelpers: { [key]: 'good' } });
      const got = await lookupDockerCredentials('docker.io', { env: envFor(dir) });
      expect(got.credentials, key).toEqual({ identitytoken: 'hub-identity-token', serveraddress: DOCKER_HUB_KEY });
      expect(helperCalls(), key).toEqual([`get ${DOCKER_HUB_KEY}`]);
    }
  });

  it('credsStore serves registries without a credHelpers entry', async () => {
    const dir = configDir({ credsStore: 'good', credHelpers: { 'reg.example:5000': 'locked' } });
    expect(await lookupDockerCredentials('other.example', { env: envFor(dir) })).toMatchObject({ source: 'credsStore', credentials: { username: 'store-user', password: 'store-secret-2' } });
    expect(helperCalls()).toEqual(['get other.example']);
  });

  it('"credentials not found" means none, and the auths entry is not used instead (as the docker CLI)', async () => {
    const dir = configDir({ credsStore: 'good', auths: { 'nohelp.example': { auth: b64('stale:stale-pw-1') } } });
    expect(await lookupDockerCredentials('nohelp.example', { env: envFor(dir) })).toMatchObject({ credentials: undefined, source: 'credsStore' });
    const empty = configDir({ credsStore: 'empty' });
    expect((await lookupDockerCredentials('x.example', { env: envFor(empty) })).credentials).toBeUndefined();
  });

  it('a helper that is not installed fails as "missing", naming the program', async () => {
    const dir = configDir({ credsStore: 'not-installed-here' });
    const err = await lookupDockerCredentials('reg.example', { env: envFor(dir) }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialHelperFailure);
    expect(err).toMatchObject({ missing: true, program: 'docker-credential-not-installed-here' });
    const mapped = helperFailureError(err as CredentialHelperFailure, 'reg.example', join(dir, 'config.json'), 'pull_image');
    expect(mapped.code).toBe('INVALID_CONFIG');
    expect(mapped.message).toMatch(/docker-credential-not-installed-here.*cannot be run/);
  });

  it('a helper that fails says how, from its own message; one whose answer is not JSON is not quoted', async () => {
    const locked = await lookupDockerCredentials('reg.example:5000', { env: envFor(configDir({ credHelpers: { 'reg.example:5000': 'locked' } })) }).then(() => undefined as never, (e: unknown) => e as CredentialHelperFailure);
    expect(locked).toMatchObject({ missing: false, message: 'exited with status 3: error: keychain is locked' });
    expect(helperFailureError(locked, 'reg.example:5000', 'f').code).toBe('UNAVAILABLE');
    const garbage = await lookupDockerCredentials('reg.example', { env: envFor(configDir({ credsStore: 'garbage' })) }).then(() => undefined as never, (e: unknown) => e as CredentialHelperFailure);
    expect(garbage).toBeInstanceOf(CredentialHelperFailure);
    expect(garbage.message).not.toContain('maybe-a-secret-value');
  });

  it('a helper that does not answer in time is stopped', async () => {
    const started = Date.now();
    const err = await lookupDockerCredentials('reg.example', { env: envFor(configDir({ credsStore: 'slow' })), timeoutMs: 300 }).then(() => undefined as never, (e: unknown) => e as CredentialHelperFailure);
    expect(err.message).toMatch(/did not answer/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a helper name is a suffix, never a path', async () => {
    const err = await lookupDockerCredentials('reg.example', { env: envFor(configDir({ credsStore: '../../bin/sh' })) }).then(() => undefined as never, (e: unknown) => e as CredentialHelperFailure);
    expect(err).toMatchObject({ missing: true });
    expect(helperCalls()).toEqual([]);
  });
});

describe('every credential, for a build', () => {
  it('gathers auths entries and credHelpers registries; a failing helper is left out with a warning', async () => {
    const warnings: string[] = [];
    const dir = configDir({ auths: { 'reg.example:5000': { auth: b64('alice:pw-all-1') }, 'mail.example': { email: 'x' } }, credHelpers: { 'docker.io': 'good', 'bad.example': 'locked' } });
    const all = await allDockerCredentials({ env: envFor(dir), onWarning: (m) => warnings.push(m) });
    expect(all).toEqual({
      'reg.example:5000': { username: 'alice', password: 'pw-all-1', serveraddress: 'reg.example:5000' },
      // Asked with its key as written: this helper knows only the URL form, so it has nothing.
    });
    expect(helperCalls().sort()).toEqual(['get bad.example', 'get docker.io']);
    expect(warnings.join()).toMatch(/bad\.example.*docker-credential-locked/);
  });

  it('with a credsStore, takes what its "list" names', async () => {
    const dir = configDir({ credsStore: 'good', auths: { 'reg.example:5000': {} } });
    const all = await allDockerCredentials({ env: envFor(dir) });
    expect(all).toEqual({ 'other.example': { username: 'store-user', password: 'store-secret-2', serveraddress: 'other.example' } });
    expect(helperCalls()).toEqual(['list ', 'get other.example', 'get missing.example']);
  });
});
