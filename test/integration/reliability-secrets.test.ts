/**
 * Secrets never leak. Every secret field is planted (password, access_token,
 * registry_password, registry_identity_token, a per-call registry password,
 * and a client_key file carrying a marker line), then the connector is
 * driven through successes and failures (TLS errors, proxy 401s, registry
 * refusals, cut streams) with logs at trace level, through the library, the
 * HTTP service (responses and audit log) and the CLI. No secret, nor its
 * Basic/X-Registry-Auth encoding, nor the key file's content, may appear in
 * any result, error, response, log or audit line.
 * (test/integration/cli.test.ts covers config output and debug logs on 401s.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, type DockerConnector } from 'docker-connector';
import { buildApp } from 'docker-connector/service';
import { parseServiceSettings } from 'docker-connector/service';
import { encodeRegistryAuth } from 'docker-connector';
import { createLogger } from 'docker-connector/service';
import { createAuditLog } from 'docker-connector/service';
import { KeyStore, Policy } from 'docker-connector/service';
import { runCli } from '../support/cli.js';
import { connectorFor, uniqueName } from '../support/connector.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { harness, type HarnessEngine } from '../support/harness.js';


const planted = {
  password: 'PLANTED-pass-8f3k2x',
  access_token: 'PLANTED-token-x9q7w3',
  registry_password: 'PLANTED-regpass-m2n4q',
  registry_identity_token: 'PLANTED-idtok-z5v8r',
};
const PARAM_PASSWORD = 'PLANTED-parampass-k7j6';
const KEY_MARKER = 'PLANTED-KEY-MARKER-c0ffee42';
const API_KEY = 'PLANTED-apikey-0123456789abcdef';

/** The real CLI; stdout and stderr together, since a secret must appear in neither. */
async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  const r = await runCli(args, env);
  return { code: r.code, out: r.stdout + r.stderr };
}

describe('planted secrets never appear anywhere', () => {
  const engine = harness().engines.find((e) => e.name === harness().tls.engine) as HarnessEngine;
  const tmp = mkdtempSync(join(tmpdir(), 'dc-rel-secrets-'));
  const logFile = join(tmp, 'trace.log');
  const auditFile = join(tmp, 'audit.log');
  const markedKey = join(tmp, 'key-marked.pem');
  const brokenKey = join(tmp, 'key-broken.pem');
  const keyPem = readFileSync(harness().tls.clientKey, 'utf8');
  /** A line of the key's base64 body: the key's content must not leak either. */
  const keyBody = keyPem.split('\n').find((l) => l.length > 40 && !l.startsWith('-----'))!;
  const texts: [string, string][] = [];
  const seen = (where: string, value: unknown) => texts.push([where, typeof value === 'string' ? value : JSON.stringify(value)]);
  const fail = async (where: string, p: Promise<unknown>): Promise<ConnectorError> => {
    try {
      seen(`${where} (result)`, await p);
    } catch (err) {
      expect(err, where).toBeInstanceOf(ConnectorError);
      const e = err as ConnectorError;
      seen(`${where} (error)`, { json: e.toJSON(), message: e.message, stack: e.stack, cause: String(e.cause) });
      return e;
    }
    throw new Error(`${where}: expected a failure`);
  };
  let proxy: FaultProxy;
  const logger = createLogger('trace', logFile);
  const base = () => ({ ...planted, username: 'proxyuser', registry_username: harness().registry.username, registry_server: engine.registry, rate_limit: 0, retry_attempts: 1, retry_delay: 0.01, env: {}, logger });

  const forbidden = () => {
    const regAuth = [
      encodeRegistryAuth({ username: harness().registry.username, password: planted.registry_password, serveraddress: engine.registry }),
      encodeRegistryAuth({ username: harness().registry.username, password: PARAM_PASSWORD, serveraddress: engine.registry }),
    ];
    return [...Object.values(planted), PARAM_PASSWORD, KEY_MARKER, keyBody, API_KEY, Buffer.from(`proxyuser:${planted.password}`).toString('base64'), ...regAuth];
  };

  beforeAll(async () => {
    writeFileSync(markedKey, `${KEY_MARKER}\n${keyPem}`, { mode: 0o600 });
    writeFileSync(brokenKey, `${KEY_MARKER}\nthis is not a key\n`, { mode: 0o600 });
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    await proxy.start();
  });

  afterAll(async () => {
    await proxy.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('library: TLS success and TLS failures with a marked client key, logged at trace', async () => {
    const t = harness().tls;
    const ok = connectorFor(engine, { ...base(), host: t.host.replace('tcp://', 'https://'), ca_cert: t.caCert, client_cert: t.clientCert, client_key: markedKey });
    try {
      seen('tls ok', await ok.execute('get_version'));
      seen('tls ok', await ok.execute('list_containers', { all: true }));
    } finally {
      ok.close();
    }
    const wrongCa = connectorFor(engine, { ...base(), host: t.host.replace('tcp://', 'https://'), ca_cert: t.wrongCaCert, client_cert: t.clientCert, client_key: markedKey });
    expect((await fail('tls wrong ca', wrongCa.execute('get_version'))).code).toBe('TLS_ERROR');
    wrongCa.close();
    // A key file that is not a key: the error names the file, never its content.
    let broken: DockerConnector | undefined;
    try {
      broken = connectorFor(engine, { ...base(), host: t.host.replace('tcp://', 'https://'), ca_cert: t.caCert, client_cert: t.clientCert, client_key: brokenKey });
      const e = await fail('tls broken key', broken.execute('get_version'));
      expect(e.code).toBe('TLS_ERROR');
      expect(e.message).toMatch(/client_key/);
    } catch (err) {
      expect(err).toBeInstanceOf(ConnectorError);
      seen('tls broken key (constructor)', { json: (err as ConnectorError).toJSON(), stack: (err as Error).stack });
    } finally {
      broken?.close();
    }
  });

  it('library: proxy 401s, registry refusals and cut streams', async () => {
    const p = harness().proxy;
    const basic = connectorFor(engine, { ...base(), access_token: undefined, host: p.basicHost });
    expect((await fail('proxy 401', basic.execute('get_version'))).code).toBe('UNAUTHORIZED');
    basic.close();
    const bearer = connectorFor(engine, { ...base(), host: p.bearerHost });
    expect((await fail('proxy bearer 401', bearer.execute('list_images', {}))).code).toBe('UNAUTHORIZED');
    bearer.close();

    const dc = connectorFor(engine, { ...base(), host: proxy.host });
    try {
      const image = `${engine.registry}/dct/${uniqueName('secret')}:v1`;
      // Configured (planted) registry credentials are wrong: refused.
      const e1 = await fail('pull configured creds', dc.execute('pull_image', { image: `${engine.registry}/dc/busybox:latest` }));
      expect(['UNAUTHORIZED', 'ENGINE_ERROR', 'NOT_FOUND']).toContain(e1.code);
      const auth = { username: harness().registry.username, password: PARAM_PASSWORD, serveraddress: engine.registry };
      await fail('pull param creds', dc.execute('pull_image', { image: `${engine.registry}/dc/busybox:latest`, auth }));
      await dc.execute('tag_image', { image: harness().image, repo: image.replace(/:v1$/, ''), tag: 'v1' });
      try {
        await fail('push param creds', dc.execute('push_image', { image, auth }));
        await fail('push configured creds', dc.execute('push_image', { image }));
        // A stream cut while credentials are in flight.
        proxy.clear();
        proxy.add({ match: (_m, path) => path.includes('/push'), action: 'reset-mid-response', afterBodyBytes: 5 });
        await fail('push cut', dc.execute('push_image', { image, auth }));
      } finally {
        await dc.execute('remove_image', { image, force: true }).catch(() => undefined);
      }
      // A request header with the proxy's 401 body echoed back is scrubbed too (the proxy gets Basic + Bearer here).
      seen('engine list', await dc.execute('list_images', {}));
    } finally {
      dc.close();
    }
  });

  it('HTTP service: responses and the audit log hold no secret, on success and failure', async () => {
    const dc = connectorFor(engine, { ...base() });
    const audit = createAuditLog(auditFile);
    const { app } = buildApp({
      endpoints: new Map([['default', dc]]),
      keys: new KeyStore([{ id: 'tester', key: API_KEY, scopes: ['admin'] }]),
      policy: new Policy({}),
      audit,
      settings: parseServiceSettings({ rate_limit: 0 }),
      logger,
    });
    const call = async (name: string, body: unknown, key = API_KEY) => {
      const res = await app.inject({ method: 'POST', url: `/v1/operations/${name}`, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
      seen(`http ${name} ${res.statusCode}`, `${JSON.stringify(res.headers)}\n${res.body}`);
      return res;
    };
    try {
      expect((await call('get_version', {})).statusCode).toBe(200);
      const auth = { username: harness().registry.username, password: PARAM_PASSWORD, serveraddress: engine.registry };
      expect((await call('pull_image', { image: `${engine.registry}/dc/busybox:latest`, auth })).statusCode).toBeGreaterThanOrEqual(400);
      expect((await call('pull_image', { image: `${engine.registry}/dc/busybox:latest`, auth: { ...auth, password: undefined, identitytoken: PARAM_PASSWORD } })).statusCode).toBeGreaterThanOrEqual(400);
      // Secrets in secret-named parameters of refused calls (a secret in a field with an
      // ordinary name cannot be told from data, and is out of scope).
      expect((await call('create_container', { image: 'x', env: [`DB_PASSWORD=${PARAM_PASSWORD}`], bogus_password: PARAM_PASSWORD })).statusCode).toBe(400);
      expect((await call('create_container', { image: 'not valid', env: { API_TOKEN: PARAM_PASSWORD } })).statusCode).toBe(400);
      expect((await call('get_version', {}, 'PLANTED-wrong-key-and-long-enough')).statusCode).toBe(401);
      const health = await app.inject({ method: 'GET', url: '/v1/health', headers: { authorization: `Bearer ${API_KEY}` } });
      seen('http health', health.body);
    } finally {
      await app.close();
      await audit.close();
      dc.close();
    }
    const lines = readFileSync(auditFile, 'utf8');
    expect(lines.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(6);
    seen('audit log', lines);
  });

  it('CLI at trace level: success over TLS, TLS failure, registry refusal, config output', async () => {
    const t = harness().tls;
    const configFile = join(tmp, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({ ...planted, username: 'proxyuser', registry_username: harness().registry.username, host: t.host.replace('tcp://', 'https://'), ca_cert: t.caCert, client_cert: t.clientCert, client_key: markedKey, log_level: 'trace', retry_attempts: 0, rate_limit: 0 }),
    );
    const env = { DOCKER_CONNECTOR_CONFIG: configFile };
    const ok = await cli(['run', 'get_version'], env);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toMatch(/"level":20/); // debug-and-below lines were written (trace on)
    seen('cli ok', ok.out);
    const wrongCa = await cli(['run', 'get_version', '--ca-cert', t.wrongCaCert], env);
    expect(wrongCa.code).toBe(1);
    expect(wrongCa.out).toMatch(/TLS_ERROR/);
    seen('cli tls error', wrongCa.out);
    const brokenKeyRun = await cli(['run', 'get_version', '--client-key', brokenKey], env);
    expect(brokenKeyRun.code).not.toBe(0);
    seen('cli broken key', brokenKeyRun.out);
    const params = JSON.stringify({ image: `${engine.registry}/dc/busybox:latest`, auth: { username: 'u', password: PARAM_PASSWORD, serveraddress: engine.registry } });
    const pull = await cli(['run', 'pull_image', '--host', engine.host, '--params', params], env);
    expect(pull.code).toBe(1);
    seen('cli pull refused', pull.out);
    const config = await cli(['config'], env);
    expect(config.code).toBe(0);
    seen('cli config', config.out);
  });

  it('none of the outputs above holds a secret (and the scan would have seen one)', () => {
    texts.push(['trace log', readFileSync(logFile, 'utf8')]);
    expect(texts.length).toBeGreaterThan(15);
    expect(texts.find(([w]) => w === 'trace log')![1]).toMatch(/engine request/); // logs were really written at trace level
    const leaks: string[] = [];
    for (const [where, text] of texts) {
      for (const secret of forbidden()) if (text.includes(secret)) leaks.push(`${where}: ${secret.slice(0, 20)}…`);
    }
    expect(leaks).toEqual([]);
    // The scan looks for strings that were really in play.
    expect(readFileSync(markedKey, 'utf8')).toContain(KEY_MARKER);
    expect(readFileSync(markedKey, 'utf8')).toContain(keyBody);
  });
});
