import { createHash, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import type { GuardrailsSetting, GuardrailsSettingInput } from '../config/guardrails.js';
import { Guardrails } from '../engine/guardrails.js';
import { ConnectorError } from '../errors.js';
import { listOperations, type OperationDefinition, type Safety } from '../operations/index.js';

/**
 * Who may run what, shared by every network surface (HTTP service, MCP):
 * API keys with scopes, and the server-wide policy (read_only, allow, deny).
 * Nothing here talks to the Engine; every check runs before a call is made.
 */

export const SCOPES = ['read', 'write', 'admin', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * The highest safety class each scope may run; scopes are cumulative (write includes read).
 * `metrics` runs no operation: it only reads the service's /metrics.
 */
const SCOPE_RANK: Record<Scope, number> = { read: 0, write: 1, admin: 2, metrics: -1 };
const SAFETY_RANK: Record<Safety, number> = { read: 0, write: 1, destructive: 2 };
const SCOPE_FOR_SAFETY: Record<Safety, Scope> = { read: 'read', write: 'write', destructive: 'admin' };

const apiKeySchema = z
  .object({
    id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_.:@-]+$/, 'expected letters, digits, "_", ".", ":", "@", "-"')
      .describe('Name of the key, written to the audit log (never the key itself)'),
    key: z.string().min(16, 'keys must be at least 16 characters').max(4096).optional().describe('The key callers send as "Authorization: Bearer <key>"'),
    key_sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'expected the hex SHA-256 of the key (64 hex digits)')
      .optional()
      .describe('Hex SHA-256 of the key, so the config file need not hold the key itself'),
    scopes: z
      .array(z.enum(SCOPES))
      .min(1)
      .describe('read runs read operations, write adds write ones, admin adds destructive ones (and may read /metrics); metrics reads the service\'s /metrics and runs no operation'),
  })
  .strict()
  .refine((k) => (k.key === undefined) !== (k.key_sha256 === undefined), 'give exactly one of key or key_sha256');

export const apiKeysSchema = z.array(apiKeySchema).describe('API keys: [{"id", "key" | "key_sha256", "scopes"}]');

export interface Principal {
  /** The key's id (for logs and rate limits); "anonymous" when authentication is off. */
  id: string;
  scopes: readonly Scope[];
}

interface StoredKey {
  id: string;
  hash: Buffer;
  scopes: Scope[];
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** "api_keys[0].key: message; …": where each problem is, never the value. */
function issuesText(source: string, err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const where = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      const what = i.code === 'unrecognized_keys' ? `unknown field ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
      return `${source}${where}: ${what}`;
    })
    .join('; ');
}

/**
 * The API keys a surface accepts. Only SHA-256 hashes are kept in memory;
 * a presented key is hashed and compared with every stored hash in constant
 * time, so neither the match nor its position leaks through timing.
 */
export class KeyStore {
  private readonly keys: StoredKey[];

  constructor(entries: z.output<typeof apiKeysSchema>) {
    this.keys = entries.map((e) => ({
      id: e.id,
      hash: e.key !== undefined ? sha256(e.key) : Buffer.from(e.key_sha256!, 'hex'),
      scopes: [...new Set(e.scopes)],
    }));
    const ids = new Set<string>();
    const hashes = new Set<string>();
    for (const k of this.keys) {
      if (ids.has(k.id)) throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: api_keys: the id "${k.id}" is used twice`);
      ids.add(k.id);
      const hex = k.hash.toString('hex');
      // Two ids for one key would make the audit log's key id ambiguous.
      if (hashes.has(hex)) throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: api_keys: key "${k.id}" has the same key as another entry`);
      hashes.add(hex);
    }
  }

  /**
   * Reads keys from a config section value (a list, or a JSON string of one)
   * and from the DOCKER_CONNECTOR_API_KEYS variable (a JSON list); both
   * sources are combined. Messages name the source and entry, never a key.
   */
  static load(sources: { config?: unknown; env?: string | undefined }): KeyStore {
    const entries: z.output<typeof apiKeysSchema> = [];
    const add = (value: unknown, source: string) => {
      let data = value;
      if (typeof data === 'string') {
        try {
          data = JSON.parse(data);
        } catch {
          // The text may hold keys: do not echo it.
          throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${source} is not valid JSON (expected a list of {"id", "key" | "key_sha256", "scopes"})`);
        }
      }
      const parsed = apiKeysSchema.safeParse(data);
      if (!parsed.success) throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${issuesText(source, parsed.error)}`);
      entries.push(...parsed.data);
    };
    if (sources.config !== undefined && sources.config !== null) add(sources.config, 'api_keys');
    if (sources.env !== undefined && sources.env.trim() !== '') add(sources.env, 'env DOCKER_CONNECTOR_API_KEYS');
    return new KeyStore(entries);
  }

  get size(): number {
    return this.keys.length;
  }

  /** The principal a presented key belongs to, or undefined. */
  verify(presented: string): Principal | undefined {
    const hash = sha256(presented);
    let found: StoredKey | undefined;
    for (const k of this.keys) {
      // No early exit: every stored hash is compared.
      if (timingSafeEqual(hash, k.hash) && !found) found = k;
    }
    return found ? { id: found.id, scopes: found.scopes } : undefined;
  }

  /**
   * Checks an `Authorization` header value. Throws UNAUTHORIZED (the caller's,
   * not the Engine's) when it is missing, malformed or unknown.
   */
  authenticate(header: string | undefined): Principal {
    if (!header) throw new ConnectorError('UNAUTHORIZED', 'Missing API key: send "Authorization: Bearer <key>"');
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m) throw new ConnectorError('UNAUTHORIZED', 'Malformed Authorization header: expected "Bearer <key>"');
    const principal = this.verify(m[1]!);
    if (!principal) throw new ConnectorError('UNAUTHORIZED', 'Unknown API key');
    return principal;
  }
}

/** The scope an operation needs. */
export function requiredScope(op: Pick<OperationDefinition, 'safety'>): Scope {
  return SCOPE_FOR_SAFETY[op.safety];
}

/** True when the scopes cover the operation's safety class. */
export function scopesAllow(scopes: readonly Scope[], safety: Safety): boolean {
  const best = Math.max(-1, ...scopes.map((s) => SCOPE_RANK[s]));
  return best >= SAFETY_RANK[safety];
}

/**
 * True when the scopes may read the service's /metrics: the `metrics` scope, or `admin`
 * (whoever may run destructive operations may see call counts; read and write keys may not,
 * since the metrics show every caller's activity, not only their own).
 */
export function scopesAllowMetrics(scopes: readonly Scope[]): boolean {
  return scopes.includes('metrics') || scopes.includes('admin');
}

/* ------------------------- local file parameters ------------------------- */

/** The parameters of an operation that name files or folders on the connector's host, as the operation declares them. */
export function localPathParams(op: OperationDefinition): string[] {
  return [...(op.localPaths ?? [])];
}

/* ------------------------------- policy ------------------------------- */

const patternSchema = z
  .string()
  .min(1)
  .regex(/^[a-z0-9_*]+$/, 'expected an operation name, optionally with "*" wildcards (e.g. "remove_*")');

export const policySchema = z
  .object({
    read_only: z.boolean().default(false).describe('Refuse every write and destructive operation'),
    allow: z.array(patternSchema).optional().describe('Only these operations may run (names; "*" matches any characters)'),
    deny: z.array(patternSchema).default([]).describe('These operations never run (names; "*" matches any characters); deny wins over allow'),
  })
  .strict();

export type PolicyInput = z.input<typeof policySchema>;

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * The server-wide rules. A name in allow/deny that matches no operation of
 * the catalogue is refused at start: a typo in a deny list must not silently
 * allow what it meant to block.
 */
export interface PolicyOptions {
  /**
   * May callers name files and folders on the connector's host (log/export
   * destinations, build contexts, copy sources)? Yes for the library and a
   * local MCP server; a network service turns it off unless configured.
   */
  localFiles?: boolean;
  /** Operation names the patterns are checked against (default: the catalogue). */
  known?: readonly string[];
  /** The config file's top-level `guardrails` setting; absent means on, as it is by default for the network surfaces. */
  guardrails?: GuardrailsSettingInput | GuardrailsSetting | undefined;
}

export class Policy {
  readonly readOnly: boolean;
  readonly localFiles: boolean;
  readonly allow: readonly string[] | undefined;
  readonly deny: readonly string[];
  /** What every call through this surface runs under (src/engine/guardrails.ts); null when turned off. */
  readonly guardrails: Guardrails | null;
  private readonly allowRe: RegExp[] | undefined;
  private readonly denyRe: RegExp[];

  constructor(input: PolicyInput = {}, options: PolicyOptions = {}) {
    const known = options.known ?? listOperations().map((o) => o.name);
    this.localFiles = options.localFiles ?? true;
    this.guardrails = Guardrails.resolve(options.guardrails, true);
    const parsed = policySchema.safeParse(input);
    if (!parsed.success) throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(policy)'}: ${i.message}`).join('; ')}`);
    this.readOnly = parsed.data.read_only;
    this.allow = parsed.data.allow;
    this.deny = parsed.data.deny;
    this.allowRe = this.allow?.map(globToRegExp);
    this.denyRe = this.deny.map(globToRegExp);
    for (const [list, patterns] of [
      ['allow', this.allow ?? []],
      ['deny', this.deny],
    ] as const) {
      for (const p of patterns) {
        const re = globToRegExp(p);
        if (!known.some((n) => re.test(n))) {
          throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${list} names "${p}", which matches no operation; run "docker-connector operations" for the list`);
        }
      }
    }
  }

  /** Reads read_only/allow/deny from the surface sections of a config file, with explicit overrides (CLI flags) on top. */
  static fromSurface(surface: Record<string, unknown>, overrides: { read_only?: boolean } = {}, options: PolicyOptions = {}): Policy {
    const input: Record<string, unknown> = {};
    for (const k of ['read_only', 'allow', 'deny'] as const) if (surface[k] !== undefined) input[k] = surface[k];
    if (overrides.read_only) input.read_only = true;
    refuseEndpointGuardrails(surface.endpoints);
    return new Policy(input as PolicyInput, options);
  }

  /** FORBIDDEN naming the rule, or undefined when the policy lets the operation run. */
  check(op: Pick<OperationDefinition, 'name' | 'safety'>): ConnectorError | undefined {
    const refuse = (rule: string, message: string, extra: Record<string, unknown> = {}) =>
      new ConnectorError('FORBIDDEN', message, { operation: op.name, details: { rule, ...extra } });
    const denied = this.denyRe.findIndex((re) => re.test(op.name));
    if (denied >= 0) return refuse('deny', `Operation ${op.name} is refused by the server's deny rule "${this.deny[denied]}"`, { pattern: this.deny[denied] });
    if (this.allowRe && !this.allowRe.some((re) => re.test(op.name))) {
      return refuse('allow', `Operation ${op.name} is not in the server's allow list`);
    }
    if (this.readOnly && op.safety !== 'read') {
      return refuse('read_only', `Operation ${op.name} is refused: the server is read_only and ${op.name} is a ${op.safety} operation`);
    }
    return undefined;
  }

  /**
   * Policy, then the caller's scopes. Throws FORBIDDEN naming the rule.
   * `principal` undefined = no per-caller identity (e.g. a local stdio MCP server): policy only.
   */
  authorize(op: Pick<OperationDefinition, 'name' | 'safety'>, principal?: Principal): void {
    const refused = this.check(op);
    if (refused) throw refused;
    if (principal && !scopesAllow(principal.scopes, op.safety)) {
      const needed = requiredScope(op);
      throw new ConnectorError(
        'FORBIDDEN',
        `API key "${principal.id}" (scopes: ${principal.scopes.join(', ')}) may not run ${op.name}: it is a ${op.safety} operation and needs the ${needed} scope`,
        { operation: op.name, details: { rule: 'scope', needed_scope: needed } },
      );
    }
  }

  /**
   * Refuses parameters naming files on the connector's host when local
   * files are off. `form: 'stream'` is the raw-stream form, which by
   * contract sends the data to the caller and touches no local file, so
   * such parameters are ignored there rather than refused.
   */
  checkParams(op: OperationDefinition, params: unknown, form: 'result' | 'stream' = 'result'): void {
    if (this.localFiles || form === 'stream' || params === null || typeof params !== 'object') return;
    const given = localPathParams(op).filter((k) => (params as Record<string, unknown>)[k] !== undefined);
    if (given.length) {
      throw new ConnectorError(
        'FORBIDDEN',
        `Operation ${op.name}: parameter ${given.join(', ')} names a file on the service's host, which this service does not allow (service.local_files is off)${op.openStream ? '; ask for the stream form (Accept header) to receive the data instead' : ''}`,
        { operation: op.name, details: { rule: 'local_files', parameters: given } },
      );
    }
  }

  /** The operations this policy lets run at all (for listings). */
  permits(op: Pick<OperationDefinition, 'name' | 'safety'>): boolean {
    return this.check(op) === undefined;
  }
}

/**
 * The service applies the top-level guardrails to every endpoint: a
 * `guardrails` inside one endpoint's settings would look like it applied
 * there and would not, so it is refused.
 */
function refuseEndpointGuardrails(endpoints: unknown): void {
  if (endpoints === null || typeof endpoints !== 'object') return;
  for (const [name, settings] of Object.entries(endpoints as Record<string, unknown>)) {
    if (settings !== null && typeof settings === 'object' && 'guardrails' in settings) {
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: endpoints.${name}.guardrails: set guardrails at the top level of the config file; it applies to every endpoint`);
    }
  }
}
