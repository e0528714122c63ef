import { isIP } from 'node:net';
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { listenerFields } from '../surfaces/listener.js';
import { KeyStore } from '../surfaces/policy.js';
import { parseSurfaceSection } from '../surfaces/section.js';

/** The `service` section of the config file: how the HTTP service listens and what it bounds. */
export const serviceSchema = z
  .object({
    listen: z.string().default('127.0.0.1:8080').describe('Address to listen on: host:port ("[::1]:8080" for IPv6)'),
    tls_cert: z.string().optional().describe('Path of the PEM certificate the service presents (with tls_key: HTTPS)'),
    tls_key: z.string().optional().describe('Path of the PEM private key for tls_cert'),
    body_limit: z.number().int().min(1024).max(1024 ** 3).default(1024 * 1024).describe('Largest request body in bytes'),
    rate_limit: listenerFields.rate_limit,
    rate_limit_burst: listenerFields.rate_limit_burst,
    auth_failures_per_minute: listenerFields.auth_failures_per_minute,
    allowed_hosts: listenerFields.allowed_hosts,
    request_timeout: z.number().positive().max(86_400).default(300).describe('Seconds a call may take before it is cancelled (504); a stream only until it starts'),
    shutdown_timeout: z.number().positive().max(3_600).default(30).describe('Seconds to let in-flight calls finish on SIGTERM/SIGINT before they are cancelled'),
    local_files: z
      .boolean()
      .default(false)
      .describe("Let callers name files on the service's host (log/export destinations, build contexts, copy sources); off by default"),
    trust_proxy: z.boolean().default(false).describe('Take the client address from X-Forwarded-For (only behind a trusted proxy)'),
  })
  .strict();

export type ServiceSettings = z.output<typeof serviceSchema>;
export type ServiceSettingsInput = z.input<typeof serviceSchema>;

export function parseServiceSettings(section: unknown, overrides: Partial<ServiceSettingsInput> = {}): ServiceSettings {
  const s = parseSurfaceSection('service', serviceSchema, section, overrides);
  if ((s.tls_cert === undefined) !== (s.tls_key === undefined)) {
    throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: service.tls_cert and service.tls_key go together');
  }
  parseListen(s.listen);
  return s;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:8080", "[::1]:8080", "localhost:0" → host and port. */
export function parseListen(listen: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: listen "${listen}" is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/**
 * The API keys of a surface listening on `host` (the HTTP service, the MCP
 * server over HTTP): none with --no-auth, which only a loopback address may
 * use; otherwise the configured keys, at least one. `who` names the surface.
 */
export function listenerKeys(o: { noAuth: boolean | undefined; host: string; apiKeys: unknown; env: NodeJS.ProcessEnv; who: string }): KeyStore | null {
  if (o.noAuth) {
    if (!isLoopback(o.host)) {
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: --no-auth is only allowed when listening on a loopback address (127.0.0.1, ::1, localhost), not ${o.host}`);
    }
    return null;
  }
  const keys = KeyStore.load({ config: o.apiKeys, env: o.env.DOCKER_CONNECTOR_API_KEYS });
  if (keys.size === 0) {
    throw new ConnectorError(
      'INVALID_CONFIG',
      `Invalid configuration: ${o.who} needs API keys: set api_keys in the config file or DOCKER_CONNECTOR_API_KEYS (a JSON list of {"id", "key" | "key_sha256", "scopes"}), or pass --no-auth when listening on loopback only`,
    );
  }
  return keys;
}
