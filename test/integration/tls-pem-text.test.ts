import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DockerConnector } from 'docker-connector';
import { runCli } from '../support/cli.js';
import { harness, type HarnessEngine } from '../support/harness.js';

/*
 * Certificates as text (issue 18 §4): a platform that keeps the mTLS material
 * as secret text, not files, connects to the harness's mTLS Engine with the
 * PEM text in DOCKER_CONNECTOR_* variables (CLI) or options (library), and the
 * key text never shows in printed configuration or logs.
 */

const t = () => harness().tls;
const tlsEngine = () => harness().engines.find((e) => e.name === harness().tls.engine) as HarnessEngine;
const https = () => t().host.replace('tcp://', 'https://');
const pem = (path: string) => readFileSync(path, 'utf8');
/** The lines of the key's base64 body: none may appear anywhere. */
const keyLines = (key: string) => key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));

describe('mutual TLS configured with PEM text only', () => {
  it('the built CLI connects with the text in DOCKER_CONNECTOR_* variables and prints or logs no key text', async () => {
    const key = pem(t().clientKey);
    const env = {
      DOCKER_CONNECTOR_HOST: https(),
      DOCKER_CONNECTOR_CA_CERT: pem(t().caCert),
      DOCKER_CONNECTOR_CLIENT_CERT: pem(t().clientCert),
      DOCKER_CONNECTOR_CLIENT_KEY: key,
      DOCKER_CONNECTOR_RATE_LIMIT: '0',
    };
    const version = await runCli(['run', 'get_version', '--log-level', 'trace'], env);
    expect(version.code, version.stderr).toBe(0);
    expect(JSON.parse(version.stdout)).toMatchObject({ Version: tlsEngine().version });
    expect(version.stderr).toMatch(/engine request/); // trace logs were written…
    const config = await runCli(['config'], env);
    expect(config.code, config.stderr).toBe(0);
    const printed = JSON.parse(config.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({ host: https(), client_key: '[REDACTED]', ca_cert: env.DOCKER_CONNECTOR_CA_CERT, endpoint_source: 'DOCKER_CONNECTOR_HOST' });
    const health = await runCli(['health'], env);
    expect(health.code, health.stderr).toBe(0);
    expect(JSON.parse(health.stdout)).toMatchObject({ reachable: true, endpoint: https(), engine_version: tlsEngine().version });
    // …and no output holds the key, whole or in part.
    for (const r of [version, config, health]) {
      for (const line of keyLines(key)) expect(r.stdout + r.stderr).not.toContain(line);
    }
    expect(keyLines(key).length).toBeGreaterThan(1);
  });

  it('a key that does not match the certificate is refused by the Engine (TLS_ERROR), without its text', async () => {
    const wrongKey = pem(t().wrongClientKey);
    const r = await runCli(['run', 'get_version'], {
      DOCKER_CONNECTOR_HOST: https(),
      DOCKER_CONNECTOR_CA_CERT: pem(t().caCert),
      DOCKER_CONNECTOR_CLIENT_CERT: pem(t().wrongClientCert),
      DOCKER_CONNECTOR_CLIENT_KEY: wrongKey,
      DOCKER_CONNECTOR_RETRY_ATTEMPTS: '0',
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'TLS_ERROR' } });
    for (const line of keyLines(wrongKey)) expect(r.stderr).not.toContain(line);
  });

  it('the library connects with the text in its options', async () => {
    const c = new DockerConnector({ host: https(), ca_cert: pem(t().caCert), client_cert: pem(t().clientCert), client_key: pem(t().clientKey), rate_limit: 0, env: {} });
    try {
      expect((await c.execute('get_version', {})).Version).toBe(tlsEngine().version);
      const health = await c.health();
      expect(health).toMatchObject({ reachable: true, endpoint: https(), endpoint_source: '--host flag or host option' });
      for (const line of keyLines(pem(t().clientKey))) expect(JSON.stringify(health)).not.toContain(line);
    } finally {
      c.close();
    }
  });
});
