import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { redact, REDACTED, scrubText, secretValues } from '../../src/config/redact.js';
import { resolveEndpoint } from '../../src/engine/endpoint.js';
import { ConnectorError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'dc-config-'));

function fails(fn: () => unknown): ConnectorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    return err as ConnectorError;
  }
  throw new Error('expected a failure');
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const { config } = loadConfig({ env: {} });
    expect(config).toMatchObject({ api_version: 'auto', verify_ssl: true, timeout: 60, rate_limit: 60, retry_attempts: 3, retry_delay: 1, port: 2376, log_level: 'silent' });
    expect(resolveEndpoint(config)).toEqual({ kind: 'unix', socketPath: '/var/run/docker.sock', address: 'unix:///var/run/docker.sock' });
  });

  it('layers file < docker env < connector env < options', () => {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ host: 'tcp://file:1', timeout: 5, rate_limit: 7, retry_attempts: 1, api_keys: [{ id: 'a' }] }));
    const { config, surface } = loadConfig({
      configFile: file,
      env: { DOCKER_HOST: 'tcp://env:2', DOCKER_CONNECTOR_TIMEOUT: '9', DOCKER_CONNECTOR_RATE_LIMIT: '0' },
      options: { rate_limit: 11 },
    });
    expect(config.host).toBe('tcp://env:2');
    expect(config.timeout).toBe(9);
    expect(config.rate_limit).toBe(11);
    expect(config.retry_attempts).toBe(1);
    expect(surface).toEqual({ api_keys: [{ id: 'a' }] });
  });

  it('reads YAML files', () => {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'host: unix:///tmp/x.sock\nrate_limit: 0\nverify_ssl: false\n');
    expect(loadConfig({ configFile: file, env: {} }).config).toMatchObject({ host: 'unix:///tmp/x.sock', rate_limit: 0, verify_ssl: false });
  });

  it('follows the docker CLI for DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', () => {
    const { config } = loadConfig({ env: { DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs', DOCKER_API_VERSION: '1.41' } });
    expect(config).toMatchObject({ host: 'https://h:2376', ca_cert: '/certs/ca.pem', client_cert: '/certs/cert.pem', client_key: '/certs/key.pem', verify_ssl: true, api_version: '1.41' });
    const plain = loadConfig({ env: { DOCKER_HOST: 'tcp://h:2375' } }).config;
    expect(resolveEndpoint(plain)).toMatchObject({ kind: 'tcp', tls: false, hostname: 'h', port: 2375 });
  });

  it('builds the endpoint from the split form', () => {
    const { config } = loadConfig({ env: {}, options: { server: 'engine.example', port: 2400 } });
    expect(resolveEndpoint(config)).toMatchObject({ kind: 'tcp', hostname: 'engine.example', port: 2400, tls: true });
    const http = loadConfig({ env: {}, options: { server: 'e', protocol: 'http' } }).config;
    expect(resolveEndpoint(http)).toMatchObject({ tls: false, port: 2376 });
  });

  it('names the field in validation errors', () => {
    expect(fails(() => loadConfig({ env: { DOCKER_CONNECTOR_RATE_LIMIT: 'fast' } })).message).toMatch(/rate_limit .*must be a number/);
    expect(fails(() => loadConfig({ env: {}, options: { timeout: -1 } })).message).toMatch(/timeout/);
    expect(fails(() => loadConfig({ env: {}, options: { api_version: '2' } })).message).toMatch(/api_version/);
    expect(fails(() => loadConfig({ env: {}, options: { host: 'ftp://x' } })).message).toMatch(/host/);
    const file = join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ hots: 'unix:///x' }));
    const err = fails(() => loadConfig({ configFile: file, env: {} }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toMatch(/unknown setting hots/);
    expect(fails(() => loadConfig({ configFile: join(dir, 'missing.json'), env: {} })).message).toMatch(/Cannot read config file/);
  });

  it('refuses unsupported transports clearly', () => {
    expect(fails(() => resolveEndpoint(loadConfig({ env: {}, options: { host: 'ssh://u@h' } }).config)).message).toMatch(/not supported/);
  });
});

describe('redaction', () => {
  it('replaces secret values, deeply', () => {
    const out = redact({ password: 'p4ss', access_token: 'tok', nested: { registry_password: 'r', list: [{ api_key: 'k' }] }, host: 'h', empty: '' });
    expect(out).toEqual({ password: REDACTED, access_token: REDACTED, nested: { registry_password: REDACTED, list: [{ api_key: REDACTED }] }, host: 'h', empty: '' });
  });
  it('scrubs known secrets out of text, including the Basic header form', () => {
    const secrets = secretValues({ username: 'u', password: 'hunter22', access_token: 'tok-123456' });
    const basic = Buffer.from('u:hunter22').toString('base64');
    expect(scrubText(`a hunter22 b tok-123456 c ${basic}`, secrets)).toBe(`a ${REDACTED} b ${REDACTED} c ${REDACTED}`);
  });
});
