import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { isLoopback, listenerFields, parseListen } from '../access/listener.js';
import { parseSurfaceSection } from '../access/section.js';

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
    metrics_listen: z
      .string()
      .optional()
      .describe('A second, loopback-only address (host:port) serving GET /metrics without an API key, for a local Prometheus scraper'),
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
  if (s.metrics_listen !== undefined) {
    // No key guards it: only this machine may reach it (as with --no-auth).
    let host: string;
    try {
      host = parseListen(s.metrics_listen).host;
    } catch {
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: metrics_listen "${s.metrics_listen}" is not host:port (e.g. 127.0.0.1:9464)`);
    }
    if (!isLoopback(host)) {
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: metrics_listen is only allowed on a loopback address (127.0.0.1, ::1, localhost), not ${host}`);
    }
  }
  return s;
}
