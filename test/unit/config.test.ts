import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { redact, REDACTED, scrubText, secretValues } from '../../src/config/redact.js';
import { loadTlsMaterial, resolveEndpoint } from '../../src/engine/endpoint.js';
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

  it('layers docker env < file < connector env < options', () => {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ host: 'tcp://file:1', timeout: 5, rate_limit: 7, retry_attempts: 1, api_keys: [{ id: 'a' }] }));
    const { config, surface } = loadConfig({
      configFile: file,
      env: { DOCKER_HOST: 'tcp://env:2', DOCKER_API_VERSION: '1.43', DOCKER_CONNECTOR_TIMEOUT: '9', DOCKER_CONNECTOR_RATE_LIMIT: '0' },
      options: { rate_limit: 11 },
      onWarning: () => {},
    });
    // The file beats DOCKER_HOST; a docker variable for a field the file leaves alone still applies.
    expect(config.host).toBe('tcp://file:1');
    expect(config.api_version).toBe('1.43');
    expect(config.timeout).toBe(9);
    expect(config.rate_limit).toBe(11);
    expect(config.retry_attempts).toBe(1);
    expect(surface).toEqual({ api_keys: [{ id: 'a' }] });
  });

  it('puts each source above the one before: defaults < docker env < file < DOCKER_CONNECTOR_* < options', () => {
    const file = join(dir, 'order.json');
    writeFileSync(file, JSON.stringify({ host: 'tcp://file:1' }));
    const host = (env: NodeJS.ProcessEnv, options: Record<string, unknown> = {}, configFile?: string) =>
      loadConfig({ env, options, configFile, onWarning: () => {} }).config.host;
    expect(host({})).toBeUndefined();
    expect(host({ DOCKER_HOST: 'tcp://docker:2' })).toBe('tcp://docker:2');
    expect(host({ DOCKER_HOST: 'tcp://docker:2' }, {}, file)).toBe('tcp://file:1');
    expect(host({ DOCKER_HOST: 'tcp://docker:2', DOCKER_CONNECTOR_HOST: 'tcp://connector:3' }, {}, file)).toBe('tcp://connector:3');
    expect(host({ DOCKER_HOST: 'tcp://docker:2', DOCKER_CONNECTOR_HOST: 'tcp://connector:3' }, { host: 'tcp://option:4' }, file)).toBe('tcp://option:4');
    // The file named by $DOCKER_CONNECTOR_CONFIG is a config file like any other.
    expect(host({ DOCKER_HOST: 'tcp://docker:2', DOCKER_CONNECTOR_CONFIG: file })).toBe('tcp://file:1');
  });

  it('warns when a docker CLI variable is ignored because the file sets that field, and only then', () => {
    const file = join(dir, 'prod.yaml');
    writeFileSync(file, 'host: tcp://prod:2376\nca_cert: /prod/ca.pem\n');
    const warnings: string[] = [];
    const { config } = loadConfig({
      configFile: file,
      env: { DOCKER_HOST: 'tcp://ambient:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/ambient', DOCKER_API_VERSION: '1.44' },
      onWarning: (w) => warnings.push(w),
    });
    expect(config).toMatchObject({ host: 'tcp://prod:2376', ca_cert: '/prod/ca.pem', client_cert: '/ambient/cert.pem', client_key: '/ambient/key.pem', verify_ssl: true, api_version: '1.44' });
    expect(warnings).toEqual([`DOCKER_HOST is set but ignored for host: the config file ${file} sets it`, `DOCKER_CERT_PATH is set but ignored for ca_cert: the config file ${file} sets it`]);

    const none: string[] = [];
    loadConfig({ env: { DOCKER_HOST: 'tcp://ambient:2376' }, options: { host: 'tcp://flag:1' }, onWarning: (w) => none.push(w) });
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ timeout: 5 }));
    loadConfig({ configFile: other, env: { DOCKER_HOST: 'tcp://ambient:2376' }, onWarning: (w) => none.push(w) });
    expect(none).toEqual([]);
  });

  it('lets a file naming the Engine by server beat DOCKER_HOST', () => {
    const file = join(dir, 'split.json');
    writeFileSync(file, JSON.stringify({ server: 'prod.example', port: 2400 }));
    const warnings: string[] = [];
    const { config } = loadConfig({ configFile: file, env: { DOCKER_HOST: 'tcp://ambient:2376' }, onWarning: (w) => warnings.push(w) });
    expect(resolveEndpoint(config)).toMatchObject({ kind: 'tcp', hostname: 'prod.example', port: 2400 });
    expect(warnings).toEqual([`DOCKER_HOST is set but ignored for host: the config file ${file} sets it`]);
  });

  it('gives the warning to process.emitWarning by default', async () => {
    const file = join(dir, 'default-warn.json');
    writeFileSync(file, JSON.stringify({ host: 'tcp://file:1' }));
    let listener: ((w: Error) => void) | undefined;
    const seen = new Promise<Error | undefined>((resolve) => {
      listener = resolve;
      process.once('warning', listener);
      // Node emits warnings on the next tick: a second is plenty.
      setTimeout(() => resolve(undefined), 1000);
    });
    loadConfig({ configFile: file, env: { DOCKER_HOST: 'tcp://ambient:2' } });
    const w = await seen;
    process.off('warning', listener!);
    expect(w?.message).toMatch(/DOCKER_HOST is set but ignored/);
  });

  it('accepts API versions written v1.41 as well as 1.41, from every source', () => {
    expect(loadConfig({ env: {}, options: { api_version: 'v1.41' } }).config.api_version).toBe('1.41');
    expect(loadConfig({ env: {}, options: { api_version: '1.41' } }).config.api_version).toBe('1.41');
    expect(loadConfig({ env: { DOCKER_API_VERSION: 'v1.40' } }).config.api_version).toBe('1.40');
    expect(loadConfig({ env: { DOCKER_CONNECTOR_API_VERSION: 'v1.44' } }).config.api_version).toBe('1.44');
    const file = join(dir, 'v.yaml');
    writeFileSync(file, 'api_version: "v1.43"\n');
    expect(loadConfig({ configFile: file, env: {} }).config.api_version).toBe('1.43');
    expect(loadConfig({ env: {}, options: { api_version: 'auto' } }).config.api_version).toBe('auto');
    for (const bad of ['v2', 'vv1.41', '1.41v', 'v', '2.0']) {
      expect(fails(() => loadConfig({ env: {}, options: { api_version: bad } })).message, bad).toMatch(/api_version: expected "auto" or a version like "1.44"/);
    }
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
    expect(fails(() => resolveEndpoint(loadConfig({ env: {}, options: { host: 'npipe:////./pipe/docker_engine' } }).config)).message).toMatch(/not supported/);
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

describe('certificates as PEM text (issue 18)', () => {
  // Real PEM material (a self-signed certificate and its key, by openssl), since the text is parsed.
  const pemDir = mkdtempSync(join(tmpdir(), 'dc-config-pem-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=dc-test', '-keyout', join(pemDir, 'key.pem'), '-out', join(pemDir, 'cert.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(pemDir, 'cert.pem'), 'utf8');
  const ca = cert;
  const key = readFileSync(join(pemDir, 'key.pem'), 'utf8');
  const keyLine = key.split('\n').find((l) => l.length > 40 && !l.startsWith('-----'))!;

  it('accepts the PEM text itself for ca_cert, client_cert and client_key, and hands it to TLS as it is', () => {
    const { config } = loadConfig({ env: {}, options: { host: 'https://h:2376', ca_cert: ca, client_cert: cert, client_key: key } });
    expect(config).toMatchObject({ ca_cert: ca, client_cert: cert, client_key: key });
    const material = loadTlsMaterial(config);
    expect([material.ca?.toString(), material.cert?.toString(), material.key?.toString()]).toEqual([ca, cert, key]);
    // From the environment too (a secret store's variables), with leading whitespace tolerated.
    const fromEnv = loadConfig({ env: { DOCKER_CONNECTOR_CLIENT_KEY: `\n${key}`, DOCKER_CONNECTOR_CLIENT_CERT: cert } }).config;
    expect(loadTlsMaterial(fromEnv).key?.toString()).toBe(key);
  });

  it('refuses PEM text that does not hold what the field needs, naming the field and never quoting the text', () => {
    const cases: [string, Record<string, string>][] = [
      ['client_key', { client_cert: cert, client_key: `-----BEGIN PRIVATE KEY-----\nplantedKEYmaterial\n-----END PRIVATE KEY-----\n` }],
      ['client_key', { client_cert: cert, client_key: cert }],
      ['ca_cert', { ca_cert: key }],
      ['client_cert', { client_cert: `-----BEGIN CERTIFICATE-----\nplantedCERT\n-----END CERTIFICATE-----`, client_key: key }],
    ];
    for (const [field, settings] of cases) {
      const err = fails(() => loadConfig({ env: {}, options: { host: 'https://h:2376', ...settings } }));
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message, field).toMatch(new RegExp(`${field}: expected the path of a PEM file, or PEM text holding a`));
      expect(err.message).not.toContain('planted');
      expect(err.message).not.toContain(keyLine);
      expect(err.message).not.toContain('BEGIN');
    }
    // Neither a path nor PEM text: a value with line breaks, or PEM text after something else.
    expect(fails(() => loadConfig({ env: {}, options: { ca_cert: 'x\ny' } })).message).toMatch(/ca_cert: expected the path of a PEM file, or PEM text starting with -----BEGIN/);
    expect(fails(() => loadConfig({ env: {}, options: { ca_cert: `junk${ca}` } })).message).toMatch(/ca_cert: expected the path of a PEM file, or PEM text starting with/);
  });

  it('redacts the key text wherever configuration is printed or scrubbed, and leaves a key path visible', () => {
    const { config } = loadConfig({ env: {}, options: { host: 'https://h:2376', ca_cert: ca, client_cert: cert, client_key: key } });
    const printed = JSON.stringify(redact(config));
    expect(JSON.parse(printed)).toMatchObject({ client_key: REDACTED, ca_cert: ca, client_cert: cert });
    expect(printed).not.toContain(keyLine);
    // The key text is a registered secret: text built elsewhere (an error, a log line) loses it too.
    expect(scrubText(`before ${key} after`, secretValues(config as unknown as Record<string, unknown>))).toBe(`before ${REDACTED} after`);
    expect(redact({ message: `quoted: ${key}` })).toEqual({ message: `quoted: ${REDACTED}` });
    // A path is not the secret: shown, so `config` says which file is used.
    const byPath = loadConfig({ env: {}, options: { host: 'https://h:2376', client_cert: '/etc/dc/cert.pem', client_key: '/etc/dc/key.pem' } }).config;
    expect(redact(byPath)).toMatchObject({ client_key: '/etc/dc/key.pem' });
    expect(secretValues(byPath as unknown as Record<string, unknown>)).not.toContain('/etc/dc/key.pem');
    // Other fields whose names look secret stay redacted whatever they hold.
    expect(redact({ api_key: '/a/path', ssh_key_passphrase: 'pw' })).toEqual({ api_key: REDACTED, ssh_key_passphrase: REDACTED });
  });

  it('reads a context field from every source: DOCKER_CONNECTOR_CONTEXT, the config file, options', () => {
    expect(loadConfig({ env: { DOCKER_CONNECTOR_CONTEXT: 'default' } }).config.context).toBe('default');
    expect(fails(() => loadConfig({ env: {}, options: { context: '' } })).message).toMatch(/context/);
  });
});
