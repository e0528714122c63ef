import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.js';
import { getOperation, listOperations } from '../../src/operations/index.js';
import { KeyStore, localPathParams, Policy, requiredScope, scopesAllow } from '../../src/access/policy.js';

const KEY = 'a-key-of-sufficient-length-1';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function thrown(fn: () => unknown): ConnectorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    return err as ConnectorError;
  }
  throw new Error('expected a ConnectorError');
}

const op = (name: string) => {
  const o = getOperation(name);
  if (!o) throw new Error(`no operation ${name}`);
  return o;
};

describe('KeyStore', () => {
  it('accepts a key given in clear or as its SHA-256, from the config and the environment', () => {
    const store = KeyStore.load({
      config: [{ id: 'ci', key: KEY, scopes: ['read'] }],
      env: JSON.stringify([{ id: 'ops', key_sha256: sha('another-long-enough-key-2'), scopes: ['admin'] }]),
    });
    expect(store.size).toBe(2);
    expect(store.authenticate(`Bearer ${KEY}`)).toEqual({ id: 'ci', scopes: ['read'] });
    expect(store.authenticate('bearer   another-long-enough-key-2')).toEqual({ id: 'ops', scopes: ['admin'] });
  });

  it('accepts the config section as a JSON string too', () => {
    expect(KeyStore.load({ config: JSON.stringify([{ id: 'ci', key: KEY, scopes: ['write'] }]) }).verify(KEY)?.id).toBe('ci');
  });

  it('refuses missing, malformed and unknown keys with UNAUTHORIZED', () => {
    const store = KeyStore.load({ config: [{ id: 'ci', key: KEY, scopes: ['read'] }] });
    expect(thrown(() => store.authenticate(undefined))).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('Missing') });
    expect(thrown(() => store.authenticate(`Basic ${KEY}`))).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('Malformed') });
    expect(thrown(() => store.authenticate(`Bearer ${KEY}x`))).toMatchObject({ code: 'UNAUTHORIZED', message: 'Unknown API key' });
    expect(thrown(() => store.authenticate(`Bearer ${KEY.slice(0, -1)}`)).code).toBe('UNAUTHORIZED');
    // The error never echoes what was presented.
    expect(thrown(() => store.authenticate('Bearer guessed-key-value-123')).message).not.toContain('guessed');
  });

  it('rejects bad entries naming the entry and field, never the key', () => {
    const short = thrown(() => KeyStore.load({ config: [{ id: 'ci', key: 'short-secret', scopes: ['read'] }] }));
    expect(short).toMatchObject({ code: 'INVALID_CONFIG' });
    expect(short.message).toContain('api_keys[0].key');
    expect(short.message).not.toContain('short-secret');
    expect(thrown(() => KeyStore.load({ config: [{ id: 'ci', key: KEY, key_sha256: sha(KEY), scopes: ['read'] }] })).message).toContain('exactly one of key or key_sha256');
    expect(thrown(() => KeyStore.load({ config: [{ id: 'ci', key: KEY, scopes: ['root'] }] })).message).toContain('api_keys[0].scopes[0]');
    expect(thrown(() => KeyStore.load({ config: [{ id: 'ci', key: KEY, scopes: [] }] })).message).toContain('scopes');
    expect(thrown(() => KeyStore.load({ config: [{ id: 'ci', key: KEY, scopes: ['read'], extra: 1 }] })).message).toContain('unknown field "extra"');
    const env = thrown(() => KeyStore.load({ env: `[{"id":"x","key":"${KEY}"` }));
    expect(env.message).toContain('DOCKER_CONNECTOR_API_KEYS is not valid JSON');
    expect(env.message).not.toContain(KEY);
  });

  it('refuses duplicate ids and one key under two ids', () => {
    expect(thrown(() => KeyStore.load({ config: [{ id: 'a', key: KEY, scopes: ['read'] }], env: JSON.stringify([{ id: 'a', key: `${KEY}-2`, scopes: ['read'] }]) })).message).toContain('"a" is used twice');
    expect(thrown(() => KeyStore.load({ config: [{ id: 'a', key: KEY, scopes: ['read'] }, { id: 'b', key_sha256: sha(KEY), scopes: ['admin'] }] })).message).toContain('same key');
  });
});

describe('scopes', () => {
  it('are cumulative: read < write < admin', () => {
    const table = (['read', 'write', 'destructive'] as const).map((safety) => [safety, scopesAllow(['read'], safety), scopesAllow(['write'], safety), scopesAllow(['admin'], safety)]);
    expect(table).toEqual([
      ['read', true, true, true],
      ['write', false, true, true],
      ['destructive', false, false, true],
    ]);
    expect(scopesAllow([], 'read')).toBe(false);
    expect(requiredScope(op('remove_container'))).toBe('admin');
  });
});

describe('Policy', () => {
  it('read_only refuses every write and destructive operation, naming the rule', () => {
    const p = new Policy({ read_only: true });
    for (const o of listOperations()) {
      const refusal = p.check(o);
      if (o.safety === 'read') expect(refusal, o.name).toBeUndefined();
      else expect(refusal, o.name).toMatchObject({ code: 'FORBIDDEN', operation: o.name, details: { rule: 'read_only' } });
    }
  });

  it('allow and deny take names and "*" patterns; deny wins', () => {
    const p = new Policy({ allow: ['list_*', 'ping'], deny: ['list_volumes'] });
    expect(p.check(op('ping'))).toBeUndefined();
    expect(p.check(op('list_containers'))).toBeUndefined();
    expect(p.check(op('list_volumes'))).toMatchObject({ details: { rule: 'deny', pattern: 'list_volumes' } });
    expect(p.check(op('get_info'))).toMatchObject({ details: { rule: 'allow' } });
    expect(p.check(op('get_info'))!.message).toContain('allow list');
  });

  it('refuses patterns that match no operation (a typo must not silently allow)', () => {
    expect(thrown(() => new Policy({ deny: ['remove_contaner'] })).message).toContain('deny names "remove_contaner"');
    expect(thrown(() => new Policy({ allow: ['Ping'] })).code).toBe('INVALID_CONFIG');
    expect(thrown(() => new Policy({ read_only: 'yes' } as never)).message).toContain('read_only');
  });

  it('authorize checks the policy, then the key scopes', () => {
    const p = new Policy({ deny: ['kill_container'] });
    expect(() => p.authorize(op('ping'), { id: 'r', scopes: ['read'] })).not.toThrow();
    expect(thrown(() => p.authorize(op('kill_container'), { id: 'a', scopes: ['admin'] })).details).toMatchObject({ rule: 'deny' });
    const scope = thrown(() => p.authorize(op('remove_volume'), { id: 'ci', scopes: ['read', 'write'] }));
    expect(scope.details).toEqual({ rule: 'scope', needed_scope: 'admin' });
    expect(scope.message).toContain('"ci"');
    // No principal (a local MCP server): the policy alone decides.
    expect(() => p.authorize(op('remove_volume'))).not.toThrow();
  });
});

describe('local file parameters', () => {
  it('are recognised in every operation that reads or writes files on the connector host', () => {
    const expected: Record<string, string[]> = {
      container_logs: ['path'],
      container_export: ['path'],
      copy_from_container: ['dest'],
      copy_to_container: ['src'],
      build_image: ['context', 'context_tar'],
      save_images: ['path'],
      load_images: ['path'],
    };
    for (const [name, params] of Object.entries(expected)) expect(localPathParams(op(name)), name).toEqual(params);
    // Paths inside containers are not local files.
    expect(localPathParams(op('create_container'))).toEqual([]);
    expect(localPathParams(op('exec_container'))).toEqual([]);
  });

  it('are refused when local files are off, except in the stream form', () => {
    const p = new Policy({}, { localFiles: false });
    const err = thrown(() => p.checkParams(op('container_export'), { container: 'c', path: '/tmp/x.tar' }));
    expect(err).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'local_files', parameters: ['path'] } });
    expect(err.message).toContain('stream form');
    expect(() => p.checkParams(op('container_export'), { container: 'c', path: '/tmp/x.tar' }, 'stream')).not.toThrow();
    expect(() => p.checkParams(op('container_logs'), { container: 'c' })).not.toThrow();
    expect(() => new Policy().checkParams(op('container_export'), { container: 'c', path: '/tmp/x.tar' })).not.toThrow();
  });
});
