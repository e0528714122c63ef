import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeRegistryAuth, encodeRegistryConfig } from '../../src/engine/registry-auth.js';
import { ConnectorError } from '../../src/errors.js';
import { normalizeRegistry, registryCall, registryOf } from '../../src/operations/shared/registry-access.js';
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
