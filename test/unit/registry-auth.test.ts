import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeRegistryAuth, encodeRegistryConfig, type RegistryCredentials } from '../../src/engine/registry-auth.js';
import { ConnectorError } from '../../src/errors.js';
import type { OperationContext } from '../../src/operations/define.js';
import { normalizeRegistry, registryCall, registryOf, resolveRegistryAuth } from '../../src/operations/shared/registry-access.js';
import { splitReference } from '../../src/operations/shared/image-refs.js';

/** Decodes the way the Engine does: base64url with padding required. */
function strictDecode(value: string): unknown {
  expect(value).toMatch(/^[A-Za-z0-9_-]*={0,2}$/);
  expect(value.length % 4).toBe(0);
  return JSON.parse(Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
}

describe('X-Registry-Auth encoding', () => {
  it('is base64url with padding, round-tripping the credentials', () => {
    // Lengths chosen so the JSON is not a multiple of 3 bytes: padding must be present.
    for (const password of ['p', 'pa', 'pas', 'pass?>>', 'ü~~~']) {
      const creds = { username: 'user', password, serveraddress: '127.0.0.1:5000' };
      const enc = encodeRegistryAuth(creds);
      expect(strictDecode(enc)).toEqual(creds);
    }
    expect(encodeRegistryAuth({ username: 'u', password: 'p' })).toMatch(/=$/);
  });

  it('never uses "+" or "/" and always decodes (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (username, password, serveraddress) => {
        const enc = encodeRegistryAuth({ username, password, serveraddress });
        expect(enc).not.toMatch(/[+/]/);
        const back = strictDecode(enc) as Record<string, string>;
        expect(back.username).toBe(username);
        expect(back.password).toBe(password);
      }),
    );
  });

  it('an identity token replaces username and password', () => {
    expect(strictDecode(encodeRegistryAuth({ username: 'u', password: 'p', identitytoken: 'tok', serveraddress: 'r' }))).toEqual({ identitytoken: 'tok', serveraddress: 'r' });
  });

  it('the empty object still encodes to a padded value (push needs the header)', () => {
    expect(encodeRegistryAuth({})).toBe('e30=');
  });

  it('X-Registry-Config is a padded map keyed by registry', () => {
    const map = { 'reg:5000': { username: 'a', password: 'b' } };
    expect(strictDecode(encodeRegistryConfig(map))).toEqual(map);
  });
});

describe('image references', () => {
  it('splits registry host, repository, tag and digest', () => {
    expect(splitReference('busybox')).toEqual({ repo: 'busybox' });
    expect(splitReference('busybox:1.36')).toEqual({ repo: 'busybox', tag: '1.36' });
    expect(splitReference('127.0.0.1:5000/team/app')).toEqual({ repo: '127.0.0.1:5000/team/app' });
    expect(splitReference('127.0.0.1:5000/team/app:v1')).toEqual({ repo: '127.0.0.1:5000/team/app', tag: 'v1' });
    expect(splitReference('app@sha256:abc')).toEqual({ repo: 'app', digest: 'sha256:abc' });
    expect(splitReference('reg:5000/app:v1@sha256:abc')).toEqual({ repo: 'reg:5000/app', tag: 'v1', digest: 'sha256:abc' });
  });
});

describe('which registry credentials are for', () => {
  it('reads the registry from the repository, Docker Hub by default', () => {
    expect(registryOf('busybox')).toBe('docker.io');
    expect(registryOf('library/busybox')).toBe('docker.io');
    expect(registryOf('127.0.0.1:5000/team/app')).toBe('127.0.0.1:5000');
    expect(registryOf('ghcr.io/org/app')).toBe('ghcr.io');
    expect(registryOf('localhost/app')).toBe('localhost');
  });

  it('normalises server addresses the way clients write them', () => {
    expect(normalizeRegistry('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeRegistry('registry-1.docker.io')).toBe('docker.io');
    expect(normalizeRegistry('http://Reg.Example:5000/')).toBe('reg.example:5000');
  });
});

describe('registry errors', () => {
  const creds = { username: 'u', password: 's3cr3t-pass', serveraddress: 'r' };

  it('scrubs per-call secrets from the message and details', async () => {
    const err = await registryCall(creds, async () => {
      throw new ConnectorError('ENGINE_ERROR', 'proxy said: bad s3cr3t-pass', { status: 502, details: { engine_message: 'bad s3cr3t-pass' } });
    }).catch((e: unknown) => e as ConnectorError);
    expect(err.code).toBe('ENGINE_ERROR');
    expect(JSON.stringify(err.toJSON())).not.toContain('s3cr3t-pass');
    expect(err.message).toContain('[REDACTED]');
  });

  it('a registry refusing credentials is UNAUTHORIZED, whether the Engine said 500 or wrote it in the stream', async () => {
    for (const inner of [
      new ConnectorError('ENGINE_ERROR', 'Engine answered HTTP 500: unauthorized: authentication required', { status: 500 }),
      new ConnectorError('STREAM_ERROR', 'no basic auth credentials'),
    ]) {
      const err = await registryCall(creds, async () => {
        throw inner;
      }).catch((e: unknown) => e as ConnectorError);
      expect(err.code).toBe('UNAUTHORIZED');
      expect(err.message).toBe(inner.message);
    }
  });

  it('other errors pass through untouched', async () => {
    const inner = new ConnectorError('NOT_FOUND', 'manifest unknown', { status: 404 });
    await expect(registryCall(creds, async () => Promise.reject(inner))).rejects.toBe(inner);
  });
});

describe('which credentials a registry call carries', () => {
  const root = mkdtempSync(join(tmpdir(), 'dc-rauth-'));
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'docker-credential-broken'), '#!/bin/sh\necho "helper exploded" >&2\nexit 1\n');
  chmodSync(join(bin, 'docker-credential-broken'), 0o755);
  const saved = { DOCKER_CONFIG: process.env.DOCKER_CONFIG, PATH: process.env.PATH };
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
    rmSync(root, { recursive: true, force: true });
  });

  function useDockerConfig(content: unknown): void {
    const dir = mkdtempSync(join(root, 'cfg-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(content));
    process.env.DOCKER_CONFIG = dir;
    process.env.PATH = `${bin}:${saved.PATH ?? ''}`;
  }

  /** The slice of an operation context these calls use; registryAuth as the connector builds it. */
  function ctxWith(config: Partial<Record<'registry_username' | 'registry_password' | 'registry_server' | 'registry_identity_token', string>> = {}) {
    const warnings: string[] = [];
    const ctx = {
      operation: 'pull_image',
      config,
      log: { trace() {}, debug() {}, info() {}, warn: (_o: object, m?: string) => warnings.push(m ?? ''), error() {} },
      registryAuth: (o?: RegistryCredentials) => {
        const c = o ?? (config.registry_username || config.registry_identity_token ? { username: config.registry_username, password: config.registry_password, identitytoken: config.registry_identity_token, serveraddress: config.registry_server } : undefined);
        return c ? encodeRegistryAuth(c) : undefined;
      },
    } as unknown as OperationContext;
    return { ctx, warnings };
  }
  const decoded = (a: { header: string | undefined }) => (a.header === undefined ? undefined : strictDecode(a.header));
  const fromFile = { auths: { 'reg.example:5000': { auth: Buffer.from('filer:file-pw-1').toString('base64') }, 'https://index.docker.io/v1/': { auth: Buffer.from('hub:hub-pw-1').toString('base64') } } };

  it('with nothing else, config.json\'s credentials for that registry, and they are the ones to scrub', async () => {
    useDockerConfig(fromFile);
    const { ctx } = ctxWith();
    const got = await resolveRegistryAuth(ctx, 'reg.example:5000', undefined);
    expect(decoded(got)).toEqual({ username: 'filer', password: 'file-pw-1', serveraddress: 'reg.example:5000' });
    expect(got.secrets?.password).toBe('file-pw-1');
    expect(decoded(await resolveRegistryAuth(ctx, 'docker.io', undefined))).toMatchObject({ username: 'hub' });
    expect(await resolveRegistryAuth(ctx, 'elsewhere.example', undefined)).toEqual({ header: undefined, secrets: undefined });
  });

  it('the call\'s own credentials win; the configured ones win where they apply', async () => {
    useDockerConfig(fromFile);
    const perCall = { username: 'caller', password: 'call-pw-1', serveraddress: 'reg.example:5000' };
    expect(decoded(await resolveRegistryAuth(ctxWith().ctx, 'reg.example:5000', perCall))).toEqual(perCall);
    // An all-undefined auth object is no credentials.
    expect(decoded(await resolveRegistryAuth(ctxWith().ctx, 'reg.example:5000', { username: undefined }))).toMatchObject({ username: 'filer' });
    const scoped = ctxWith({ registry_username: 'conf', registry_password: 'conf-pw-1', registry_server: 'reg.example:5000' }).ctx;
    expect(decoded(await resolveRegistryAuth(scoped, 'reg.example:5000', undefined))).toMatchObject({ username: 'conf' });
    // Configured ones for another registry do not apply: that registry's config.json entry does.
    expect(decoded(await resolveRegistryAuth(scoped, 'docker.io', undefined))).toMatchObject({ username: 'hub' });
    // Configured ones without a registry apply everywhere.
    const anywhere = ctxWith({ registry_username: 'conf', registry_password: 'conf-pw-1' }).ctx;
    expect(decoded(await resolveRegistryAuth(anywhere, 'docker.io', undefined))).toMatchObject({ username: 'conf' });
  });

  it('per-call credentials for another registry: refused, or (search) left out without falling back', async () => {
    useDockerConfig(fromFile);
    const other = { username: 'x', password: 'y', serveraddress: 'other.example' };
    await expect(resolveRegistryAuth(ctxWith().ctx, 'reg.example:5000', other)).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/auth\.serveraddress/) });
    expect(await resolveRegistryAuth(ctxWith().ctx, 'reg.example:5000', other, { onMismatch: 'omit' })).toEqual({ header: undefined, secrets: undefined });
  });

  it('a failing credential helper fails the call, or (search) leaves it anonymous with a warning', async () => {
    useDockerConfig({ credsStore: 'broken' });
    const err = await resolveRegistryAuth(ctxWith().ctx, 'reg.example:5000', undefined).then(() => undefined as never, (e: unknown) => e as ConnectorError);
    expect(err).toMatchObject({ code: 'UNAVAILABLE', operation: 'pull_image' });
    expect(err.message).toContain('docker-credential-broken');
    expect(err.message).toContain('helper exploded');
    expect(err.message).toContain(join(process.env.DOCKER_CONFIG!, 'config.json'));
    const { ctx, warnings } = ctxWith();
    expect(await resolveRegistryAuth(ctx, 'reg.example:5000', undefined, { onHelperFailure: 'anonymous' })).toEqual({ header: undefined, secrets: undefined });
    expect(warnings.join()).toMatch(/docker-credential-broken.*without registry credentials/);
    // Explicit credentials never run the helper.
    expect(decoded(await resolveRegistryAuth(ctxWith({ registry_username: 'c', registry_password: 'cpw1' }).ctx, 'reg.example:5000', undefined))).toMatchObject({ username: 'c' });
  });

  it('registryCall scrubs the secrets of every credential set it is given', async () => {
    const err = await registryCall([undefined, { password: 'from-config-json-9' }, { identitytoken: 'tok-from-helper-9' }], async () => {
      throw new ConnectorError('ENGINE_ERROR', 'echo from-config-json-9 and tok-from-helper-9', { status: 500 });
    }).catch((e: unknown) => e as ConnectorError);
    expect(err.message).toBe('echo [REDACTED] and [REDACTED]');
  });
});
