import { AssertionError } from 'node:assert';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import { buildManifest } from 'docker-connector/catalogue';
import { ENGINE_ALIASES, harness, RESULT_CHECKS_DIR } from './harness.js';

/*
 * The proof of issue #15: every result the integration suite receives is
 * validated against the result schema the artifact publishes (the manifest's
 * `result_schema`, the one document platforms, OpenAPI and MCP derive from).
 * A mismatch throws, naming the operation, the Engine, the path in the
 * result and the schema rule; each success is recorded so the
 * result-coverage project can tell which (operation, Engine) pairs were
 * proven in the run.
 */

export type Surface = 'cli' | 'library' | 'http' | 'mcp';
export type EngineName = 'old' | 'new' | 'unknown';

/** One line of a record file: a result validated (or refused) by its schema. */
export interface ResultRecord {
  operation: string;
  engine: EngineName;
  surface: Surface;
  ok: boolean;
  /** The test file that received it. */
  file?: string;
  /** For a refusal: the first rule broken. */
  error?: string;
}

const ajv = new Ajv2020({ strict: true, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

type Published = Record<string, unknown>;
let schemas: Map<string, Published | undefined> | undefined;
const compiled = new Map<string, ValidateFunction>();

/** The published result schema of each operation (undefined: the artifact publishes none). */
function publishedSchemas(): Map<string, Published | undefined> {
  schemas ??= new Map(
    buildManifest().operations.map((op) => {
      const schema = (op as { result_schema?: unknown }).result_schema;
      const nonEmpty = schema !== null && typeof schema === 'object' && Object.keys(schema).length > 0;
      return [op.name, nonEmpty ? (schema as Published) : undefined];
    }),
  );
  return schemas;
}

/** Operation names of the artifact's catalogue. */
export function catalogueNames(): string[] {
  return [...publishedSchemas().keys()];
}

function validatorFor(operation: string): ValidateFunction | undefined {
  const known = compiled.get(operation);
  if (known) return known;
  const schema = publishedSchemas().get(operation);
  if (!schema) return undefined;
  const validate = ajv.compile(schema);
  compiled.set(operation, validate);
  return validate;
}

/** Where an Engine endpoint leads, as one comparable string: a socket path or host:port. */
function endpointKey(host: string): string {
  const m = /^(?:unix:\/\/)?(\/.+)$/.exec(host);
  if (m) return m[1]!;
  try {
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    return `${u.hostname}:${u.port}`;
  } catch {
    return host;
  }
}

let byEndpoint: Map<string, 'old' | 'new'> | undefined;

/** The harness Engine an endpoint reaches: its socket, its TLS listener or the auth proxy in front of it. */
export function engineOfHost(host: string | undefined): EngineName {
  if (!host) return 'unknown';
  if (!byEndpoint) {
    const env = harness();
    byEndpoint = new Map();
    for (const e of env.engines) byEndpoint.set(endpointKey(e.host), e.name);
    const named = (name: string) => (name === 'old' || name === 'new' ? name : undefined);
    const tls = named(env.tls?.engine);
    if (tls) byEndpoint.set(endpointKey(env.tls.host), tls);
    const proxied = named(env.proxy?.engine);
    if (proxied) for (const h of [env.proxy.basicHost, env.proxy.bearerHost]) byEndpoint.set(endpointKey(h), proxied);
    for (const s of env.ssh?.engines ?? []) byEndpoint.set(endpointKey(s.host), s.name);
  }
  const key = endpointKey(host);
  const alias = [...ENGINE_ALIASES].find(([from]) => endpointKey(from) === key)?.[1];
  return byEndpoint.get(alias ? endpointKey(alias) : key) ?? 'unknown';
}

let recordFile: string | undefined;

function record(r: ResultRecord): void {
  recordFile ??= (mkdirSync(RESULT_CHECKS_DIR, { recursive: true }), join(RESULT_CHECKS_DIR, `${process.pid}.jsonl`));
  // Append-only, one file per process: test files run in parallel workers.
  appendFileSync(recordFile, `${JSON.stringify(r)}\n`);
}

/** The schema rule an error broke: keyword, where in the schema, Ajv's message and its parameters. */
function ruleOf(e: ErrorObject): string {
  return `rule "${e.keyword}" (${e.schemaPath}): ${e.message ?? ''}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The test file running now. */
function currentFile(): string | undefined {
  const path = expect.getState().testPath;
  return path ? relative(ROOT, path) : undefined;
}

/** What a served surface on a local port reaches: its default Engine and, for a multi-endpoint service, each endpoint's. */
interface ServedEngines {
  host: string | undefined;
  endpoints?: Record<string, string>;
}

const served = new Map<number, ServedEngines>();

export function registerServedPort(port: number, engines: ServedEngines): void {
  served.set(port, engines);
}

/** The Engine endpoint a service on `port` answered from (the `endpoint` query picks one of several). */
export function hostOfServedPort(port: number, endpoint: string | null): string | undefined {
  const s = served.get(port);
  if (!s) return undefined;
  return (endpoint && s.endpoints?.[endpoint]) || s.host;
}

/** The value of --host (or --host=…) on a command line. */
export function hostOption(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--host') return args[i + 1];
    if (args[i]!.startsWith('--host=')) return args[i]!.slice('--host='.length);
  }
  return undefined;
}

/** The operation whose result an HTTP answer carries: a 200 JSON answer to POST /v1/operations/<name>; otherwise undefined. */
export function resultOfHttpAnswer(method: string, pathname: string, status: number, contentType: string | null | undefined): string | undefined {
  if (method !== 'POST' || status !== 200 || !/^application\/json\b/.test(contentType ?? '')) return undefined;
  const m = /\/v1\/operations\/([A-Za-z0-9_]+)$/.exec(pathname);
  return m && hasResultSchema(m[1]!) ? m[1] : undefined;
}

export interface CheckContext {
  surface: Surface;
  /** The Engine endpoint the result came from (mapped to the harness's old/new). */
  host?: string;
  engine?: EngineName;
  /** MCP structuredContent: a list or scalar result arrives as {result: …}. */
  mcp?: boolean;
  /** false: check only, leave no record (tests of the checker itself). */
  record?: boolean;
}

/**
 * Validates one result against its operation's published schema; throws an
 * AssertionError on a mismatch. Without a published schema nothing is
 * recorded, so the coverage check names the operation.
 */
export function checkResult(operation: string, result: unknown, ctx: CheckContext): void {
  const validate = validatorFor(operation);
  if (!validate) return;
  const engine = ctx.engine ?? engineOfHost(ctx.host);
  let value = result;
  if (ctx.mcp) {
    const o = result as Record<string, unknown>;
    // The MCP server wraps what is not a plain object; a plain object is never wrapped.
    const wrapped = Object.keys(o).length === 1 && 'result' in o && (o.result === null || typeof o.result !== 'object' || Array.isArray(o.result));
    if (wrapped && !(validate as (data: unknown) => boolean)(o)) value = o.result;
  }
  const file = currentFile();
  const keep = ctx.record === false ? () => undefined : record;
  if (validate(value)) {
    keep({ operation, engine, surface: ctx.surface, ok: true, ...(file ? { file } : {}) });
    return;
  }
  const errors = validate.errors ?? [];
  const first = errors[0];
  const lines = errors.slice(0, 5).map((e) => `  at ${e.instancePath || '/'}: ${ruleOf(e)}`);
  keep({ operation, engine, surface: ctx.surface, ok: false, ...(file ? { file } : {}), error: first ? `${first.instancePath || '/'}: ${ruleOf(first)}` : 'invalid' });
  throw new AssertionError({
    message: `Result of ${operation} on Engine ${engine} (${ctx.surface}) does not match its published result_schema:\n${lines.join('\n')}${errors.length > 5 ? `\n  … ${errors.length - 5} more` : ''}`,
  });
}

/** Whether a name is an operation of the catalogue. */
export function isOperation(name: string): boolean {
  return publishedSchemas().has(name);
}

/** Whether the artifact publishes a result schema for an operation. */
export function hasResultSchema(operation: string): boolean {
  return publishedSchemas().get(operation) !== undefined;
}

/** Whether an endpoint selection asks for several endpoints (`a,b`, `all`, or a list): the answer is then a fan-out. */
export function isFanOutSelection(selection: unknown): boolean {
  if (Array.isArray(selection)) return true;
  return typeof selection === 'string' && (selection.includes(',') || selection.trim() === 'all');
}

/**
 * Checks what a surface answered: a fan-out (`{results, errors}` of a call
 * asked of several endpoints) has each result checked as its endpoint's,
 * and each error checked to be `{code, message}`; anything else is one
 * result. Hunts fan out by themselves and answer their own shape.
 */
export function checkAnswer(operation: string, answer: unknown, ctx: CheckContext & { selection?: unknown; hostOf?: (endpoint: string) => string | undefined }): void {
  const o = answer as Record<string, unknown> | null;
  const fanOut = isFanOutSelection(ctx.selection) && o !== null && typeof o === 'object' && !Array.isArray(o) && Object.keys(o).sort().join() === 'errors,results';
  if (!fanOut) {
    checkResult(operation, answer, ctx);
    return;
  }
  const { selection: _s, hostOf, ...rest } = ctx;
  for (const [name, result] of Object.entries(o.results as Record<string, unknown>)) checkResult(operation, result, { ...rest, mcp: false, host: hostOf?.(name) });
  for (const [name, failure] of Object.entries(o.errors as Record<string, unknown>)) {
    const f = failure as Record<string, unknown>;
    if (typeof f?.code !== 'string' || typeof f.message !== 'string' || Object.keys(f).length !== 2) {
      throw new AssertionError({ message: `Fan-out of ${operation} (${ctx.surface}): errors.${name} is not {code, message}: ${JSON.stringify(failure)}` });
    }
  }
}

/** The value of `--name value` or `--name=value` on a command line. */
export function optionValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i]!.startsWith(`${name}=`)) return args[i]!.slice(name.length + 1);
  }
  return undefined;
}

/** The named endpoints of the config file a command line uses (--config or DOCKER_CONNECTOR_CONFIG), if it has any: name → host. */
export function fleetHosts(args: readonly string[], env: Record<string, string>): { default: string; endpoints: Record<string, string | undefined> } | undefined {
  const file = optionValue(args, '--config') ?? env.DOCKER_CONNECTOR_CONFIG;
  if (!file || !file.endsWith('.json')) return undefined;
  try {
    const config = JSON.parse(readFileSync(file, 'utf8')) as { endpoints?: Record<string, { host?: string }>; default_endpoint?: string };
    if (!config.endpoints) return undefined;
    const names = Object.keys(config.endpoints);
    return { default: config.default_endpoint ?? names[0]!, endpoints: Object.fromEntries(names.map((n) => [n, config.endpoints![n]!.host])) };
  } catch {
    return undefined;
  }
}
