import { createRequire } from 'node:module';
import * as z from 'zod';
import { guardrailsField } from './guardrails.js';

/**
 * Connection settings. Field names are the contract shared by the library
 * options, the config file, `DOCKER_CONNECTOR_<FIELD>` env vars and CLI flags
 * (`--field-name`).
 */
const positiveSeconds = z.number().positive().max(86_400);
// "v1.41" (as the Engine's own paths and some seeds spell it) is the same version as "1.41":
// accepted, and kept in one form so comparisons and the request path see "1.41".
const apiVersion = z
  .string()
  .regex(/^(auto|[vV]?1\.\d{1,2})$/, 'expected "auto" or a version like "1.44" (or "v1.44")')
  .transform((v) => v.replace(/^[vV]/, ''));
/** PEM text given in place of a path: what the value starts with decides. */
export function isPemText(value: string): boolean {
  return /^\s*-----BEGIN /.test(value);
}

const requireCjs = createRequire(import.meta.url);
/** Whether PEM text holds what the field needs; node:crypto is loaded only when PEM text is given. */
function pemTextParses(text: string, holds: 'certificate' | 'private key'): boolean {
  const crypto = requireCjs('node:crypto') as typeof import('node:crypto');
  try {
    if (holds === 'private key') crypto.createPrivateKey(text);
    else new crypto.X509Certificate(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A PEM file's path, or the PEM text itself (a SOAR platform keeps
 * certificates as secret text). Text is checked here, so a broken paste is a
 * configuration error naming the field; messages never repeat the value,
 * which may be a private key.
 */
function pemPathOrText(holds: 'certificate' | 'private key') {
  return z.string().superRefine((v, ctx) => {
    if (isPemText(v)) {
      if (!pemTextParses(v, holds)) {
        ctx.addIssue({ code: 'custom', message: `expected the path of a PEM file, or PEM text holding a ${holds}; the text given is not a readable PEM ${holds} (not repeated here)` });
      }
    } else if (/-----BEGIN|[\r\n]/.test(v)) {
      ctx.addIssue({ code: 'custom', message: 'expected the path of a PEM file, or PEM text starting with -----BEGIN' });
    }
  });
}

export const endpointSchema = z
  .object({
    host: z
      .string()
      .regex(/^(unix|tcp|http|https|npipe|ssh):\/\//, 'expected a URL such as unix:///var/run/docker.sock, tcp://host:2376 or https://host:2376')
      .optional()
      .describe('Engine address: unix:///path, tcp://host:port, http://host:port, https://host:port or ssh://[user@]host[:port]'),
    context: z.string().min(1).optional().describe('docker CLI context to connect through (as docker --context; "default" means none): its Engine address and certificates'),
    server: z.string().min(1).optional().describe('Engine host name or address (split form; used when host is not set)'),
    port: z.number().int().min(1).max(65535).default(2376).describe('Engine port (split form)'),
    protocol: z.enum(['http', 'https']).optional().describe('http or https (split form; default https when TLS settings are present)'),
    api_version: apiVersion.default('auto').describe('"auto" negotiates with the Engine; "1.xx" (or "v1.xx") pins a version'),
    username: z.string().optional().describe('Basic auth user for an authenticating proxy in front of the Engine'),
    password: z.string().optional().describe('Basic auth password for the proxy'),
    access_token: z.string().optional().describe('Bearer token for the proxy'),
    registry_username: z.string().optional().describe('Registry user for pull/push'),
    registry_password: z.string().optional().describe('Registry password for pull/push'),
    registry_server: z.string().optional().describe('Registry address the credentials are for'),
    registry_identity_token: z.string().optional().describe('Registry identity token (instead of user/password)'),
    verify_ssl: z.boolean().default(true).describe('Verify the Engine certificate'),
    ca_cert: pemPathOrText('certificate').optional().describe('CA certificate: a PEM file path or the PEM text itself'),
    client_cert: pemPathOrText('certificate').optional().describe('Client certificate: a PEM file path or the PEM text itself'),
    client_key: pemPathOrText('private key').optional().describe('Client private key: a PEM file path or the PEM text itself (the text is secret)'),
    tls_server_name: z.string().optional().describe('Name to verify the Engine certificate against (default: the host)'),
    ssh_key: z
      .string()
      .min(1)
      .optional()
      .describe('ssh:// hosts: the private key, as a file path or the PEM text itself (secret); default: the SSH agent, then ~/.ssh/id_*'),
    ssh_key_passphrase: z.string().optional().describe('ssh:// hosts: the passphrase of an encrypted ssh_key'),
    ssh_known_hosts: z
      .string()
      .min(1)
      .optional()
      .describe('ssh:// hosts: known_hosts file the host key is checked against (default ~/.ssh/known_hosts); "accept-new" trusts and records an unknown host\'s key there'),
    timeout: positiveSeconds.default(60).describe('Seconds a plain call may take; streams use it as an idle timeout'),
    rate_limit: z.number().min(0).max(1_000_000).default(60).describe('Requests per minute to the Engine; 0 turns the limiter off'),
    rate_limit_burst: z.number().int().min(1).max(10_000).default(10).describe('Requests that may go at once before the rate applies'),
    retry_attempts: z.number().int().min(0).max(10).default(3).describe('Extra attempts for requests that are safe to send again'),
    retry_delay: z.number().min(0).max(60).default(1).describe('Seconds before the first retry; doubles each attempt, with jitter'),
  })
  .strict();

/**
 * evidence_before_destroy: the folder evidence bundles go to before
 * remove_container, kill_container and the container prunes act. A plain
 * string is the folder (so an env variable or a flag can set it).
 */
const evidenceBeforeDestroy = z
  .union([
    z
      .string()
      .min(1)
      .transform((dir) => ({ dir })),
    z.strictObject({ dir: z.string().min(1).describe('Folder the bundles are written to (created when missing): <dir>/<container id>-<UTC time>/') }),
  ])
  .optional()
  .describe('Collect an evidence bundle of every container remove_container, kill_container, prune_containers or system_prune will destroy into {dir} first; if that fails, nothing is destroyed (FORBIDDEN)');

export const configSchema = endpointSchema
  .extend({
    evidence_before_destroy: evidenceBeforeDestroy,
    guardrails: guardrailsField,
    default_endpoint: z
      .string()
      .min(1)
      .optional()
      .describe('With named endpoints (the config file\'s endpoints map): the one calls go to when they name none (default: the first)'),
    fan_out_concurrency: z.number().int().min(1).max(256).default(8).describe('With named endpoints: how many endpoints a fan-out (endpoint a,b or all) or a hunt asks at once'),
    log_level: z.enum(['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('silent').describe('Log level of the JSON logs on stderr'),
    plans_dir: z
      .string()
      .min(1)
      .optional()
      .describe('Folder the plans of destructive dry runs are kept in until their real call (default $XDG_STATE_HOME/docker-connector/plans, else ~/.local/state/docker-connector/plans); kept private (0700)'),
    state_store: z
      .string()
      .regex(/^rediss?:\/\/[^/?#]+(\/\d{0,5})?$/, 'expected redis://[:password@]host:port/db or rediss://… (TLS)')
      .optional()
      .describe('Redis several service or MCP replicas share their state in (per-key rate limits, failed-auth counters, confirmations, plans): redis://[:password@]host:port/db, rediss://… for TLS; the password is secret'),
    state_store_ca_cert: pemPathOrText('certificate').optional().describe('rediss:// state_store: CA certificate the Redis server is verified against (a PEM file path or the PEM text itself; default: the system CAs)'),
  })
  .strict();

export type ConnectorConfigInput = z.input<typeof configSchema>;
export type ConnectorConfig = z.output<typeof configSchema>;

/** Fields whose values are never printed, logged or put into errors. */
export const SECRET_FIELDS = ['password', 'access_token', 'registry_password', 'registry_identity_token', 'ssh_key_passphrase'] as const;
export type SecretField = (typeof SECRET_FIELDS)[number];

/** Paths whose file contents are secret (printed as paths, never read into output). */
export const SECRET_PATH_FIELDS = ['client_key', 'ssh_key'] as const;

/** Fields that take a path or the PEM text itself: the text, when given, is a secret value. */
export const SECRET_TEXT_FIELDS = ['ssh_key', 'client_key'] as const;
