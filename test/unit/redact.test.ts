import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { isSecretKey, redact, REDACTED } from '../../src/config/redact.js';
import { ConnectorError } from '../../src/errors.js';
import { auditParams, createAuditLog } from '../../src/access/audit.js';

/* The one redaction (src/config/redact.ts) used by logs, audit lines and error details. */

describe('redact', () => {
  it('redacts NAME=value entries whose NAME contains a secret word, whatever else the name holds', () => {
    const env = ['PGPASSWORD=x', 'AWS_SECRET_ACCESS_KEY=z', 'DB_PASSWORD=hunter2', 'MYSQL_ROOT_PASSWD=p', 'GITHUB_TOKEN=t', 'SSH_KEY=k', 'GOOGLE_CREDENTIALS=c', 'BASIC_AUTH=a', 'MODE=prod', 'PATH=/bin'];
    expect(redact({ env })).toEqual({
      env: [
        `PGPASSWORD=${REDACTED}`,
        `AWS_SECRET_ACCESS_KEY=${REDACTED}`,
        `DB_PASSWORD=${REDACTED}`,
        `MYSQL_ROOT_PASSWD=${REDACTED}`,
        `GITHUB_TOKEN=${REDACTED}`,
        `SSH_KEY=${REDACTED}`,
        `GOOGLE_CREDENTIALS=${REDACTED}`,
        `BASIC_AUTH=${REDACTED}`,
        'MODE=prod',
        'PATH=/bin',
      ],
    });
  });

  it('is case-insensitive, for keys and NAME=value entries', () => {
    expect(redact({ Password: 'a', MyToken: 'b', 'Api-Key': 'c', dbSecret: 'd', build_args: ['pgpassword=e', 'Aws_Secret=f'] })).toEqual({
      Password: REDACTED,
      MyToken: REDACTED,
      'Api-Key': REDACTED,
      dbSecret: REDACTED,
      build_args: [`pgpassword=${REDACTED}`, `Aws_Secret=${REDACTED}`],
    });
    for (const name of ['PASSWORD', 'passwd', 'Secret', 'tOkEn', 'KEY', 'credential', 'Auth']) expect(isSecretKey(`x_${name}_y`), name).toBe(true);
    for (const name of ['image', 'command', 'labels', 'host', 'username', 'env']) expect(isSecretKey(name), name).toBe(false);
  });

  it('walks nested objects and arrays, and redacts a secret key whatever its value holds', () => {
    const input = {
      image: 'x',
      nested: { deeper: { db_password: 'p1', list: [{ api_key: 'k1' }, { name: 'n', env: ['DB_PASSWORD=hunter2'] }] } },
      auth: { username: 'u', password: 'p2' },
      matrix: [['SECRET=s'], [{ token: 't' }]],
    };
    const before = JSON.stringify(input);
    expect(redact(input)).toEqual({
      image: 'x',
      nested: { deeper: { db_password: REDACTED, list: [{ api_key: REDACTED }, { name: 'n', env: [`DB_PASSWORD=${REDACTED}`] }] } },
      auth: REDACTED,
      matrix: [[`SECRET=${REDACTED}`], [{ token: REDACTED }]],
    });
    // A copy: the caller's parameters are not touched.
    expect(JSON.stringify(input)).toBe(before);
  });

  it('redacts the X-Registry-Auth header in any spelling', () => {
    const out = redact({ method: 'POST', headers: { 'X-Registry-Auth': 'eyJwYXNzd29yZCI6InAifQ==', 'x-registry-auth': 'eyJ9', 'content-type': 'application/json' } });
    expect(out).toEqual({ method: 'POST', headers: { 'X-Registry-Auth': REDACTED, 'x-registry-auth': REDACTED, 'content-type': 'application/json' } });
  });

  it('redacts --name=value arguments, keeps what is not secret (an image tag, a=b, empty values)', () => {
    expect(redact({ command: ['mysql', '--password=hunter2', 'echo', 'a=b'], image: 'secret-app:1.0', password: '', token: null })).toEqual({
      command: ['mysql', `--password=${REDACTED}`, 'echo', 'a=b'],
      image: 'secret-app:1.0',
      password: '',
      token: null,
    });
  });

  it('scrubs the secret values of a loaded configuration out of any string', () => {
    loadConfig({ env: {}, options: { username: 'u', password: 'cfg-planted-pass-7f3a', access_token: 'cfg-planted-token-9c1d' } });
    expect(redact({ message: 'the proxy said cfg-planted-pass-7f3a was wrong', list: ['Bearer cfg-planted-token-9c1d'] })).toEqual({
      message: `the proxy said ${REDACTED} was wrong`,
      list: [`Bearer ${REDACTED}`],
    });
  });
});

describe('audit parameters', () => {
  it('keeps only the names of the parameters of an unknown operation', () => {
    expect(auditParams('no_such_operation', { data: 'planted-value', other: { x: 1 } })).toEqual({ data: REDACTED, other: REDACTED });
    expect(auditParams(null, { data: 'planted-value' })).toEqual({ data: REDACTED });
    expect(auditParams('no_such_operation', ['planted-value'])).toBe(REDACTED);
    // A known operation's parameters go through redact.
    expect(auditParams('create_container', { image: 'x', env: ['PGPASSWORD=x'] })).toEqual({ image: 'x', env: [`PGPASSWORD=${REDACTED}`] });
  });

  it('writes no parameter value of an unknown operation to the audit log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-redact-audit-'));
    try {
      const path = join(dir, 'audit.log');
      const log = createAuditLog(path);
      log.record({ surface: 'http', key_id: null, client: '127.0.0.1', endpoint: null, operation: 'no_such_operation', params: { data: 'planted-value' }, outcome: 'UNKNOWN_OPERATION', status: 404, duration_ms: 1 });
      log.record({ surface: 'http', key_id: null, client: '127.0.0.1', endpoint: null, operation: 'create_container', params: { image: 'x', env: ['AWS_SECRET_ACCESS_KEY=planted-z'] }, outcome: 'ok', status: 200, duration_ms: 1 });
      await log.close();
      const text = readFileSync(path, 'utf8');
      const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { params: unknown });
      expect(lines[0]!.params).toEqual({ data: REDACTED });
      expect(lines[1]!.params).toEqual({ image: 'x', env: [`AWS_SECRET_ACCESS_KEY=${REDACTED}`] });
      expect(text).not.toContain('planted');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('INVALID_CONFIG never repeats a rejected secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dc-redact-config-'));
  const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANplantedKEYmaterial0123456789\n-----END PRIVATE KEY-----\n';

  function configError(fn: () => unknown): ConnectorError {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).code).toBe('INVALID_CONFIG');
      return err as ConnectorError;
    }
    throw new Error('expected INVALID_CONFIG');
  }

  it('refuses PEM text given as client_key without quoting it', () => {
    const err = configError(() => loadConfig({ env: {}, options: { host: 'https://h:2376', client_cert: '/c.pem', client_key: PEM } }));
    expect(err.message).toMatch(/client_key: expected the path of a PEM file/);
    expect(err.message).not.toContain('plantedKEYmaterial');
    expect(err.message).not.toContain('BEGIN');
  });

  it('refuses a wrong type for a secret field without quoting it', () => {
    const file = join(dir, 'types.json');
    writeFileSync(file, JSON.stringify({ username: 'u', password: 87654321, access_token: { value: 'planted-token-obj' } }));
    const err = configError(() => loadConfig({ configFile: file, env: {} }));
    expect(err.message).toMatch(/password/);
    expect(err.message).toMatch(/access_token/);
    expect(err.message).not.toContain('87654321');
    expect(err.message).not.toContain('planted');
  });

  it('reports a syntax error in the file by position, not by quoting the line', () => {
    const yaml = join(dir, 'bad.yaml');
    writeFileSync(yaml, 'username: u\npassword: planted-pass-1: x\n');
    const y = configError(() => loadConfig({ configFile: yaml, env: {} }));
    expect(y.message).toMatch(/not valid YAML: .* at line 2, column \d+$/);
    expect(y.message).not.toContain('planted');
    const json = join(dir, 'bad.json');
    writeFileSync(json, '{"username": "u", "password": planted-pass-2}');
    const j = configError(() => loadConfig({ configFile: json, env: {} }));
    expect(j.message).toMatch(/not valid JSON/);
    expect(j.message).not.toContain('planted');
  });
});
