import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConnectorError } from '../errors.js';
import { DEFAULT_CONTEXT } from './docker-contexts.js';
import { selectEndpoint, type EndpointSource } from './endpoint-source.js';
import { registerSecrets, scrubText, secretValues } from './redact.js';
import type { DiscoveryPaths } from './socket-discovery.js';
import { configSchema, SECRET_FIELDS, SECRET_PATH_FIELDS, type ConnectorConfig, type ConnectorConfigInput } from './schema.js';

/**
 * Sections of a config file that belong to the surfaces (HTTP service, MCP),
 * not to the Engine connection. They are passed through untouched here and
 * validated by the surface that reads them.
 */
export const SURFACE_SECTIONS = ['endpoints', 'api_keys', 'service', 'read_only', 'allow', 'deny', 'audit_log', 'mcp'] as const;

export interface LoadConfigOptions {
  /** Explicit settings (library options or CLI flags): highest precedence. */
  options?: Partial<ConnectorConfigInput>;
  /** Path of a JSON or YAML config file. Defaults to $DOCKER_CONNECTOR_CONFIG. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Receives each warning about the configuration (a docker CLI variable
   * ignored because the config file sets the same field). Default: Node's
   * process.emitWarning, which prints it on stderr.
   */
  onWarning?: (message: string) => void;
  /** The system socket paths socket discovery checks (tests point them into a temp dir). */
  discovery?: DiscoveryPaths;
}

export interface LoadedConfig {
  config: ConnectorConfig;
  /** The surface sections of the config file, if any. */
  surface: Record<string, unknown>;
  /** The warnings given to onWarning, in order. */
  warnings: string[];
  /** What chose the Engine's address: a setting, a docker context, a discovered socket or the default. */
  endpointSource: EndpointSource;
}

const FIELDS = Object.keys(configSchema.shape) as (keyof ConnectorConfig)[];

/**
 * The kind of value a field takes, read from the schema so the env and flag
 * parsers stay in step with it. It looks at the zod definition directly:
 * converting each field to JSON Schema (as this once did) was a measurable
 * share of CLI start-up (bench/README.md).
 */
function fieldKind(field: string): 'string' | 'number' | 'boolean' {
  type Def = { type: string; innerType?: { _zod: { def: Def } } };
  let def = ((configSchema.shape as Record<string, z.ZodType>)[field]?._zod.def as Def | undefined) ?? undefined;
  while (def && (def.type === 'default' || def.type === 'optional') && def.innerType) def = def.innerType._zod.def;
  if (def?.type === 'number' || def?.type === 'int') return 'number';
  if (def?.type === 'boolean') return 'boolean';
  return 'string';
}

export function parseScalar(field: string, raw: string, source: string): unknown {
  const kind = fieldKind(field);
  if (kind === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) {
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${field} (from ${source}) must be a number, got "${raw}"`);
    }
    return n;
  }
  if (kind === 'boolean') {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${field} (from ${source}) must be true or false, got "${raw}"`);
  }
  return raw;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConnectorError('INVALID_CONFIG', `Cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let data: unknown;
  try {
    if (/\.ya?ml$/i.test(path)) {
      // Loaded lazily: most runs have no YAML file and should not pay for the parser.
      data = parseYaml(text);
    } else {
      data = JSON.parse(text);
    }
  } catch (err) {
    throw new ConnectorError('INVALID_CONFIG', `Config file ${path} is not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${parseErrorWithoutText(err)}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConnectorError('INVALID_CONFIG', `Config file ${path} must hold an object of settings`);
  }
  return data as Record<string, unknown>;
}

/**
 * What went wrong and where, without the file's text: the parsers quote the
 * offending line (YAML) or a slice around it (JSON), which may be a password
 * or a private key.
 */
function parseErrorWithoutText(err: unknown): string {
  const e = err as { message?: string; code?: string; linePos?: { line: number; col: number }[] };
  if (e.linePos?.[0]) {
    // yaml: "<what> at line L, column C:\n\n<the line>\n<caret>"; keep what and where.
    const what = String(e.message ?? '').split(/ at line \d+|\n/)[0] || e.code || 'syntax error';
    return `${what} at line ${e.linePos[0].line}, column ${e.linePos[0].col}`;
  }
  // JSON.parse: `Unexpected token 'x', "…text…" is not valid JSON` or `… at position 12 (line 1 column 13)`.
  const message = String(e.message ?? err);
  const cut = message.search(/["…]|, \.\.\./);
  return (cut === -1 ? message : message.slice(0, cut)).replace(/[,\s]+$/, '') || 'syntax error';
}

const requireCjs = createRequire(import.meta.url);
let yamlModule: typeof import('yaml') | undefined;
function parseYaml(text: string): unknown {
  // createRequire keeps this synchronous; yaml ships a CommonJS build.
  yamlModule ??= requireCjs('yaml') as typeof import('yaml');
  return yamlModule.parse(text);
}

/** Settings taken from the variables the docker CLI honours. */
export function dockerEnvSettings(env: NodeJS.ProcessEnv): Partial<ConnectorConfigInput> {
  const out: Partial<ConnectorConfigInput> = {};
  const tlsVerify = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '';
  const tls = tlsVerify || (env.DOCKER_TLS !== undefined && env.DOCKER_TLS !== '');
  if (env.DOCKER_HOST) {
    // As with the docker CLI, tcp:// means TLS when DOCKER_TLS_VERIFY or DOCKER_TLS is set.
    out.host = tls ? env.DOCKER_HOST.replace(/^tcp:\/\//, 'https://') : env.DOCKER_HOST;
  }
  if (env.DOCKER_API_VERSION) out.api_version = env.DOCKER_API_VERSION;
  if (tls) {
    const dir = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
    out.ca_cert = join(dir, 'ca.pem');
    out.client_cert = join(dir, 'cert.pem');
    out.client_key = join(dir, 'key.pem');
    out.verify_ssl = tlsVerify;
  } else if (env.DOCKER_CERT_PATH) {
    out.ca_cert = join(env.DOCKER_CERT_PATH, 'ca.pem');
    out.client_cert = join(env.DOCKER_CERT_PATH, 'cert.pem');
    out.client_key = join(env.DOCKER_CERT_PATH, 'key.pem');
  }
  return out;
}

/** Settings from DOCKER_CONNECTOR_<FIELD> variables, e.g. DOCKER_CONNECTOR_RATE_LIMIT=0. */
export function connectorEnvSettings(env: NodeJS.ProcessEnv): Partial<ConnectorConfigInput> {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const name = `DOCKER_CONNECTOR_${field.toUpperCase()}`;
    const raw = env[name];
    if (raw !== undefined) out[field] = parseScalar(field, raw, `env ${name}`);
  }
  return out as Partial<ConnectorConfigInput>;
}

/** The string values given for secret fields (and the key file), whatever their validity. */
function rejectedSecrets(input: Record<string, unknown>): string[] {
  return [...SECRET_FIELDS, ...SECRET_PATH_FIELDS].flatMap((f) => (typeof input[f] === 'string' ? [input[f] as string] : []));
}

/** Validates merged settings; the message names each bad field, never a secret's value. */
export function validateConfig(input: Record<string, unknown>): ConnectorConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const field = i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : '(root)');
      return i.code === 'unrecognized_keys' ? `unknown setting ${i.keys.join(', ')}` : `${field}: ${i.message}`;
    });
    // zod's messages name the expected form, not the value; scrubbing the secret fields' values
    // keeps it so should a message ever quote what it rejected.
    const message = scrubText(`Invalid configuration: ${problems.join('; ')}`, rejectedSecrets(input));
    throw new ConnectorError('INVALID_CONFIG', message, {
      details: { fields: parsed.error.issues.map((i) => i.path.join('.')) },
    });
  }
  const config = parsed.data;
  registerSecrets(secretValues(config as unknown as Record<string, unknown>));
  if (config.password !== undefined && config.username === undefined) {
    throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: password is set but username is not');
  }
  if (config.client_cert && !config.client_key) {
    throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: client_cert is set but client_key is not');
  }
  return config;
}

/** The docker CLI variables behind each field dockerEnvSettings sets, for the warning that names them. */
function dockerVariablesFor(field: string, env: NodeJS.ProcessEnv): string[] {
  const set = (name: string) => env[name] !== undefined && env[name] !== '';
  if (field === 'host') return ['DOCKER_HOST'];
  if (field === 'api_version') return ['DOCKER_API_VERSION'];
  if (field === 'verify_ssl') return ['DOCKER_TLS_VERIFY', 'DOCKER_TLS'].filter(set);
  // Certificate paths: from DOCKER_CERT_PATH, else ~/.docker because TLS was asked for.
  return set('DOCKER_CERT_PATH') ? ['DOCKER_CERT_PATH'] : ['DOCKER_TLS_VERIFY', 'DOCKER_TLS'].filter(set);
}

/** The fields a layer sets; naming the Engine in the split form (`server`) counts as setting `host`. */
function fieldsSetBy(layer: Record<string, unknown>): Set<string> {
  const fields = new Set(Object.keys(layer).filter((k) => layer[k] !== undefined));
  if (fields.has('server')) fields.add('host');
  return fields;
}

/** The fields a docker context stands for (it replaces the docker CLI variables' certificates too). */
const CONTEXT_FIELDS = ['host', 'ca_cert', 'client_cert', 'client_key', 'verify_ssl'];

/** The docker CLI variables a config file overrides, each with what the file does instead. */
function ignoredDockerVariables(fileSettings: Record<string, unknown>, docker: Record<string, unknown>, env: NodeJS.ProcessEnv, filePath: string | undefined): string[] {
  const fromFile = fieldsSetBy(fileSettings);
  const context = typeof fileSettings.context === 'string' ? fileSettings.context : undefined;
  const viaContext = new Set(context !== undefined && context !== DEFAULT_CONTEXT && !fromFile.has('host') ? CONTEXT_FIELDS : []);
  const ignored = new Map<string, { fields: string[]; direct: boolean }>();
  for (const field of Object.keys(docker)) {
    if (!fromFile.has(field) && !viaContext.has(field)) continue;
    for (const variable of dockerVariablesFor(field, env)) {
      const entry = ignored.get(variable) ?? { fields: [], direct: true };
      entry.fields.push(field);
      entry.direct &&= fromFile.has(field);
      ignored.set(variable, entry);
    }
  }
  const warnings = [...ignored].map(([variable, { fields, direct }]) => {
    const how = direct ? `sets ${fields.length > 1 ? 'them' : 'it'}` : `selects docker context "${context}"`;
    return `${variable} is set but ignored for ${fields.join(', ')}: the config file ${filePath} ${how}`;
  });
  // DOCKER_CONTEXT counts only when DOCKER_HOST does not already outrank it.
  if (env.DOCKER_CONTEXT && !env.DOCKER_HOST && (fromFile.has('host') || context !== undefined)) {
    const how = fromFile.has('host') ? 'sets host' : `selects docker context "${context}"`;
    warnings.push(`DOCKER_CONTEXT is set but ignored: the config file ${filePath} ${how}`);
  }
  return warnings;
}

/**
 * Merges the layers, lowest precedence first. A layer that names the Engine
 * by `server` (and not `host`) also hides a `host` from below: host wins over
 * server when both are set, so keeping the lower one would undo the choice.
 */
function mergeLayers(layers: Record<string, unknown>[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    if (layer.server !== undefined && layer.host === undefined) delete merged.host;
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  }
  return merged;
}

const emitWarning = (message: string) => process.emitWarning(message, { code: 'DOCKER_ENV_IGNORED' });

/**
 * Merges, lowest precedence first: defaults, docker CLI env (DOCKER_HOST …),
 * config file, DOCKER_CONNECTOR_* env, explicit options (library options or
 * CLI flags). A `context` (or the docker CLI's DOCKER_CONTEXT and
 * currentContext) stands for the Engine settings of that docker context, at
 * its layer and below that layer's `host` (endpoint-source.ts). A named config file beats the ambient docker CLI variables (as
 * the docker CLI's --context beats DOCKER_HOST): each variable it overrides
 * is reported through onWarning, since the shell's DOCKER_HOST silently losing
 * would surprise as much as it silently winning did.
 */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const filePath = opts.configFile ?? env.DOCKER_CONNECTOR_CONFIG;
  const file = filePath ? readConfigFile(filePath) : {};
  const surface: Record<string, unknown> = {};
  const fileSettings: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(file)) {
    if ((SURFACE_SECTIONS as readonly string[]).includes(k)) surface[k] = v;
    else fileSettings[k] = v;
  }
  const docker = dockerEnvSettings(env) as Record<string, unknown>;
  const warnings = ignoredDockerVariables(fileSettings, docker, env, filePath);
  const selected = selectEndpoint(
    [
      { origin: 'docker_env', settings: docker },
      { origin: 'file', settings: fileSettings },
      { origin: 'connector_env', settings: connectorEnvSettings(env) as Record<string, unknown> },
      { origin: 'options', settings: (opts.options ?? {}) as Record<string, unknown> },
    ],
    { env, filePath, discovery: opts.discovery },
  );
  const merged = mergeLayers(selected.layers.map((l) => l.settings));
  const config = validateConfig(merged);
  // Warned only once the configuration is valid: an error is the more useful thing to show alone.
  for (const w of warnings) (opts.onWarning ?? emitWarning)(w);
  return { config, surface, warnings, endpointSource: selected.source };
}
