import { isIP } from 'node:net';
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { KeyStore } from './policy.js';

/*
 * What every listener (the HTTP service, the MCP server over HTTP) decides
 * alike before it serves a call: its shared settings, the listen address,
 * which addresses count as loopback, and which API keys guard it.
 */

/**
 * Settings every listener has (the `service` section for the HTTP service,
 * the `mcp` section for the MCP server over HTTP), declared once so both
 * sections read and default them alike.
 */
export const listenerFields = {
  allowed_hosts: z
    .array(z.string().min(1).max(253))
    .max(100)
    .default([])
    .describe(
      'Host names (or IPs) clients use to reach the listener, besides loopback names and the listen address; requests naming another Host, and browser calls from another Origin, are refused (DNS-rebinding protection)',
    ),
  auth_failures_per_minute: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(30)
    .describe('Failed authentications (wrong API keys) a client address may make per minute before it is refused with 429; 0 turns the limit off'),
  rate_limit: z.number().min(0).max(1_000_000).default(600).describe('Requests per minute per API key; 0 turns the limit off'),
  rate_limit_burst: z.number().int().min(1).max(100_000).default(60).describe('Requests a key may send at once before the rate applies'),
};

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

/**
 * True for listen addresses only this machine can reach: where --no-auth is
 * allowed. host-check.ts's isLoopbackHost builds on it for Host
 * headers (a browser resolves any *.localhost name to loopback; a listen
 * address is what the server binds, so only "localhost" and loopback IPs).
 */
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
