import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConnectorError, ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { errorBody, httpStatusFor } from '../../src/http/errors.js';
import { parseServiceSettings } from '../../src/http/settings.js';
import { negotiateStream, textToNdjson, wantsStream } from '../../src/http/stream.js';
import { createAuditLog } from '../../src/access/audit.js';
import { redact } from '../../src/config/redact.js';
import { isLoopback, parseListen } from '../../src/access/listener.js';

/* Pure pieces of the surfaces: audit log, HTTP status mapping, service settings, stream negotiation. */

describe('audit log', () => {
  it('writes one JSON line per call with secrets redacted, to a private file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-audit-'));
    try {
      const path = join(dir, 'sub', 'audit.log');
      const log = createAuditLog(path);
      const entry = { surface: 'http', key_id: 'ci', client: '127.0.0.1', endpoint: 'default', outcome: 'ok', status: 200, duration_ms: 1.5 };
      log.record({ ...entry, operation: 'create_container', params: { image: 'x', env: ['MODE=prod', 'DB_PASSWORD=hunter2-planted'], auth: { password: 'pw-planted' }, labels: { api_token: 'tok-planted' } } });
      log.record({ ...entry, operation: 'ping', params: {} });
      await log.close();
      const text = readFileSync(path, 'utf8');
      const lines = text.trim().split('\n').map((l) => JSON.parse(l));
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatchObject({ ...entry, log: 'audit', event: 'call', operation: 'create_container' });
      expect(lines[0].params.env).toEqual(['MODE=prod', 'DB_PASSWORD=[REDACTED]']);
      expect(Date.parse(lines[0].time)).not.toBeNaN();
      expect(text).not.toMatch(/planted/);
      expect(statSync(path).mode & 0o077).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('"off" records nothing; a bad setting is INVALID_CONFIG', async () => {
    const off = createAuditLog('off');
    off.record({ surface: 'http', key_id: null, client: null, endpoint: null, operation: null, params: {}, outcome: 'ok', duration_ms: 0 });
    await off.close();
    expect(off.destination).toBe('off');
    expect(() => createAuditLog(42)).toThrow(ConnectorError);
    expect(() => createAuditLog('/etc/passwd/x/audit.log')).toThrow(/cannot open audit_log/);
  });

  it('redacts NAME=value strings only when NAME looks secret', () => {
    expect(redact({ build_args: ['GITHUB_TOKEN=abc', 'VERSION=1'], command: ['echo', 'a=b'] })).toEqual({ build_args: ['GITHUB_TOKEN=[REDACTED]', 'VERSION=1'], command: ['echo', 'a=b'] });
  });
});

describe('HTTP status of errors', () => {
  it('maps every error code', () => {
    const table = Object.fromEntries(ERROR_CODES.map((c) => [c, httpStatusFor(new ConnectorError(c, 'x'))]));
    expect(table).toEqual({
      INVALID_PARAMS: 400,
      INVALID_CONFIG: 500,
      UNKNOWN_OPERATION: 404,
      UNAUTHORIZED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      CONFLICT: 409,
      ENGINE_ERROR: 502,
      UNAVAILABLE: 502,
      TIMEOUT: 504,
      CONNECTION_FAILED: 502,
      TLS_ERROR: 502,
      API_VERSION_UNSUPPORTED: 502,
      UNSUPPORTED: 502,
      STREAM_ERROR: 502,
      RATE_LIMITED: 429,
      INTERNAL_ERROR: 500,
    } satisfies Record<ErrorCode, number>);
  });

  it('keeps the Engine refusing the connector (its 401/403) apart from the caller being refused', () => {
    expect(httpStatusFor(new ConnectorError('UNAUTHORIZED', 'proxy said no', { status: 401 }))).toBe(502);
    expect(httpStatusFor(new ConnectorError('FORBIDDEN', 'authz plugin said no', { status: 403 }))).toBe(502);
    const body = errorBody(new ConnectorError('UNAUTHORIZED', 'proxy said no', { status: 401, operation: 'ping' }));
    expect(body).toEqual({ error: { code: 'UNAUTHORIZED', status: 502, message: 'proxy said no', operation: 'ping', engine_status: 401, retryable: false } });
  });

  it('redacts secret-named details', () => {
    const body = errorBody(new ConnectorError('INVALID_PARAMS', 'x', { details: { password: 'p', parameters: ['a'] } }));
    expect(body.error.details).toEqual({ password: '[REDACTED]', parameters: ['a'] });
  });
});

describe('service settings', () => {
  it('parses listen addresses', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('localhost:9000')).toEqual({ host: 'localhost', port: 9000 });
    for (const bad of ['8080', '127.0.0.1', '::1:80', 'host:99999', 'a b:1']) expect(() => parseListen(bad), bad).toThrow(/not host:port/);
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.8.9.1', '::1', 'localhost', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1'].some(isLoopback)).toBe(false);
  });

  it('applies defaults and overrides, and names bad settings', () => {
    const s = parseServiceSettings(undefined, { listen: '127.0.0.1:0' });
    expect(s).toMatchObject({ listen: '127.0.0.1:0', body_limit: 1024 * 1024, rate_limit: 600, local_files: false, request_timeout: 300 });
    expect(() => parseServiceSettings({ body_limit: 'big' })).toThrow(/service\.body_limit/);
    expect(() => parseServiceSettings({ listn: 'x' })).toThrow(/unknown setting listn/);
    expect(() => parseServiceSettings({ tls_cert: '/c.pem' })).toThrow(/tls_cert and service.tls_key go together/);
    expect(() => parseServiceSettings([])).toThrow(/must be an object/);
  });
});

describe('stream negotiation', () => {
  it('selects the stream form only for stream media types named in Accept', () => {
    expect(wantsStream('application/x-tar')).toBe(true);
    expect(wantsStream('application/json, application/x-ndjson;q=0.5')).toBe(true);
    expect(wantsStream('application/x-tar;q=0')).toBe(false);
    expect(wantsStream('*/*')).toBe(false);
    expect(wantsStream(undefined)).toBe(false);
  });

  it('matches the stream type, or converts text to NDJSON, or refuses', () => {
    expect(negotiateStream('application/x-tar', 'application/x-tar')).toBe('as-is');
    expect(negotiateStream('text/*', 'text/plain; charset=utf-8')).toBe('as-is');
    expect(negotiateStream('application/x-ndjson', 'text/plain; charset=utf-8')).toBe('ndjson');
    expect(negotiateStream('application/x-tar', 'text/plain')).toBeUndefined();
  });

  it('turns text into one JSON object per line, bounded for endless lines', async () => {
    const chunks = [Buffer.from('one\ntw'), Buffer.from('o\r\n'), Buffer.from([0xc3]), Buffer.from([0xa9, 0x0a]), Buffer.from('x'.repeat(70 * 1024)), Buffer.from('\nlast')];
    let out = '';
    for await (const c of Readable.from(chunks).pipe(textToNdjson())) out += c;
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.slice(0, 3)).toEqual([{ text: 'one' }, { text: 'two' }, { text: 'é' }]);
    expect(lines[3]).toEqual({ text: 'x'.repeat(64 * 1024), partial: true });
    expect(lines[4]).toEqual({ text: 'x'.repeat(6 * 1024) });
    expect(lines[5]).toEqual({ text: 'last' });
  });
});
