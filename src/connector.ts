import type { Readable } from 'node:stream';
import type { EndpointSource } from './config/endpoint-source.js';
import { loadConfig } from './config/load.js';
import { redact } from './config/redact.js';
import type { ConnectorConfig, ConnectorConfigInput } from './config/schema.js';
import { EngineClient, type EngineTransport } from './engine/client.js';
import { guardContext, guardrailsFor, type Guardrails } from './engine/guardrails.js';
import type { EndpointDescription } from './engine/connect.js';
import { compareVersions } from './engine/version.js';
import { encodeRegistryAuth, type RegistryCredentials } from './engine/registry-auth.js';
import { ConnectorError, toConnectorError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import type { Manifest } from './manifest.js';
import { loadedOperation, loadOperation } from './operations/catalogue.js';
import type { OperationName, ParamsOf, ResultOf } from './operations/index.js';
import type { OperationContext, OperationDefinition, ProgressEvent } from './operations/define.js';
import type { HealthResult } from './operations/system.js';
import type { PlanStore } from './plans.js';

export interface ConnectorOptions extends Partial<ConnectorConfigInput> {
  /** JSON or YAML file with settings (default: $DOCKER_CONNECTOR_CONFIG). */
  configFile?: string;
  /** Environment to read DOCKER_* variables from (default: process.env). Pass {} to ignore it. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** How buffered calls reach the Engine: 'auto' (default), 'node' or 'undici'; see EngineTransport. */
  transport?: EngineTransport;
  /** Where destructive dry runs keep their plans (default: files under plans_dir); a shared store lets service replicas use each other's plans. */
  planStore?: PlanStore;
  /** Receives configuration warnings (a docker CLI variable the config file overrides); default: process.emitWarning. */
  onWarning?: (message: string) => void;
}

export interface ExecuteOptions {
  signal?: AbortSignal;
  /** Receives progress of pulls, pushes, builds, saves, loads and exports. */
  onProgress?: (event: ProgressEvent) => void;
  /** Guardrails a surface chose (src/engine/guardrails.ts; null = off); default: the connector's own `guardrails` setting. */
  guardrails?: Guardrails | null;
}

/**
 * The connector: `execute(name, params)` runs any registered operation with
 * validated parameters against one Engine endpoint.
 */
export class DockerConnector {
  readonly config: ConnectorConfig;
  readonly engine: EngineClient;
  readonly logger: Logger;
  /** Sections of the config file meant for the surfaces (api_keys, endpoints, …). */
  readonly surfaceConfig: Record<string, unknown>;
  /** What chose the Engine's address: a setting, a docker context, a discovered socket or the default. */
  readonly endpointSource: EndpointSource;
  /** The endpoint as operations see it, with how it was chosen. */
  private readonly endpoint: EndpointDescription;
  /** Where operations read the docker CLI's files from (registry logins): the environment given, else the process's. */
  private readonly env: NodeJS.ProcessEnv;
  /** Plans of destructive dry runs (src/plans.ts); made on first use. */
  private planStore: PlanStore | undefined;

  constructor(options: ConnectorOptions = {}) {
    const { configFile, env, logger, transport, onWarning, planStore, ...settings } = options;
    this.planStore = planStore;
    const loaded = loadConfig({ options: settings, configFile, env, onWarning });
    this.config = loaded.config;
    this.surfaceConfig = loaded.surface;
    this.logger = logger ?? createLogger(this.config.log_level);
    this.engine = new EngineClient(this.config, { logger: this.logger, transport });
    this.endpointSource = loaded.endpointSource;
    this.endpoint = { ...this.engine.endpointDescription, source: loaded.endpointSource.description };
    this.env = env ?? process.env;
  }

  /** Builds a connector from an already validated configuration (used for multi-endpoint surfaces). */
  static fromConfig(config: ConnectorConfig, logger?: Logger): DockerConnector {
    return new DockerConnector({ ...config, env: {}, ...(logger ? { logger } : {}) });
  }

  /** Validates parameters against the operation's schema; throws INVALID_PARAMS naming each bad one. */
  validate<N extends OperationName>(name: N, params: unknown): Promise<unknown>;
  async validate(name: string, params: unknown): Promise<unknown> {
    return validateParams(await this.operation(name), params);
  }

  /** Runs an operation; parameters and result are typed from the registry. */
  execute<N extends OperationName>(name: N, params?: ParamsOf<N>, opts?: ExecuteOptions): Promise<ResultOf<N>> {
    // No async wrapper: one promise hop less per call.
    return this.executeDynamic(name, params, opts) as Promise<ResultOf<N>>;
  }

  /** The same, for callers that hold the name as data (CLI, HTTP, MCP): validated at run time only. */
  async executeDynamic(name: string, params: unknown = {}, opts: ExecuteOptions = {}): Promise<unknown> {
    // The operation's family is imported on its first use only; later calls find it without waiting.
    const op = loadedOperation(name) ?? (await this.operation(name));
    const valid = validateParams(op, params ?? {});
    guardrailsFor(this.config, opts.guardrails)?.checkParams(name, valid);
    const started = performance.now();
    try {
      // Once the version is known (every call after the first) the context is built without waiting.
      const known = this.engine.knownApiVersion();
      // An operation on local files only (verify_evidence) never waits for the Engine's version.
      const ctx = known === undefined && !op.local ? await this.context(op, opts) : this.contextFor(op, opts, known ?? 'unknown');
      const run = (p: unknown) => (op.plan ? this.runPlanned(op, ctx, p) : op.run(ctx, p));
      // evidence_before_destroy (src/operations/shared/evidence-policy.ts): bundles before destructive calls, loaded only when set.
      const evidence = this.config.evidence_before_destroy;
      const result = evidence ? await (await import('./operations/shared/evidence-policy.js')).runWithEvidence(ctx, op, valid, evidence, run) : await run(valid);
      this.logger.debug({ operation: name, duration_ms: Math.round(performance.now() - started) }, 'operation done');
      return result;
    } catch (raw) {
      const err = toConnectorError(raw, name);
      if (op.resultOnError) return op.resultOnError(err);
      this.logger.error({ operation: name, code: err.code, status: err.status, message: err.message, params: redact(valid) }, 'operation failed');
      throw err;
    }
  }

  /** Runs an operation's raw-stream form (export, save, copy) and returns the Node stream. */
  async executeStream(name: string, params: unknown = {}, opts: ExecuteOptions = {}): Promise<{ stream: Readable; contentType: string }> {
    const op = await this.operation(name);
    if (!op.openStream) throw new ConnectorError('INVALID_PARAMS', `Operation ${name} has no stream form`, { operation: name });
    const valid = validateParams(op, params ?? {});
    try {
      return await op.openStream(await this.context(op, opts), valid);
    } catch (raw) {
      throw toConnectorError(raw, name);
    }
  }

  async health(): Promise<HealthResult> {
    return (await this.executeDynamic('health', {})) as HealthResult;
  }

  /** The manifest of every operation; it imports every family, so it is loaded only when asked for. */
  async manifest(): Promise<Manifest> {
    return (await import('./manifest.js')).buildManifest();
  }

  close(): void {
    this.engine.close();
  }

  /** A destructive operation with a plan: its dry run makes a plan, a call with plan_id acts on that plan only (src/plans.ts, loaded on first use). */
  private async runPlanned(op: OperationDefinition, ctx: OperationContext, params: unknown): Promise<unknown> {
    const plans = await import('./plans.js');
    this.planStore ??= plans.planStoreFor(this.config, this.env);
    return plans.runWithPlan(op, ctx, params, this.planStore);
  }

  private async operation(name: string): Promise<OperationDefinition> {
    const op = await loadOperation(name);
    if (!op) throw new ConnectorError('UNKNOWN_OPERATION', `Unknown operation "${name}"; run "docker-connector operations" for the list`, { operation: name });
    return op;
  }

  private async context(op: OperationDefinition, opts: ExecuteOptions): Promise<OperationContext> {
    return this.contextFor(op, opts, await this.engine.apiVersion(opts.signal));
  }

  private contextFor(op: OperationDefinition, opts: ExecuteOptions, apiVersion: string): OperationContext {
    if (op.minApiVersion && !op.local && compareVersions(apiVersion, op.minApiVersion) < 0) {
      throw new ConnectorError('API_VERSION_UNSUPPORTED', `${op.name} needs Engine API ${op.minApiVersion} or newer; this Engine speaks ${apiVersion}`, { operation: op.name });
    }
    const engine = this.engine;
    const config = this.config;
    const onProgress = opts.onProgress;
    return guardContext<OperationContext>(config, opts.guardrails, {
      operation: op.name,
      apiVersion,
      atLeast: (v: string) => compareVersions(apiVersion, v) >= 0,
      config,
      env: this.env,
      log: this.logger,
      signal: opts.signal,
      endpoint: this.endpoint,
      // One spread, after plain properties: V8 copies that fast. Two spreads in one literal
      // ({...defaults, ...req}) take its slow path (bench/README.md).
      json: (req) => engine.json({ operation: op.name, signal: opts.signal, ...req, idempotent: req.idempotent ?? (op.idempotent || req.method === 'GET' || req.method === 'HEAD') }),
      stream: (req) => engine.stream({ operation: op.name, signal: opts.signal, ...req, idempotent: req.idempotent ?? (op.idempotent || req.method === 'GET' || req.method === 'HEAD') }),
      upgrade: (req) => engine.upgrade({ operation: op.name, signal: opts.signal, ...req }),
      ping: () => engine.ping(opts.signal, op.name),
      registryAuth: (override?: RegistryCredentials) => {
        const creds: RegistryCredentials | undefined =
          override && Object.values(override).some((v) => v !== undefined)
            ? override
            : config.registry_identity_token || config.registry_username
              ? {
                  username: config.registry_username,
                  password: config.registry_password,
                  identitytoken: config.registry_identity_token,
                  serveraddress: config.registry_server,
                }
              : undefined;
        return creds ? encodeRegistryAuth(creds) : undefined;
      },
      progress: (event) => onProgress?.(event),
    });
  }
}

/** Parses parameters with the operation's schema; the error names each bad parameter and what was expected. */
export function validateParams(op: OperationDefinition, params: unknown): unknown {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new ConnectorError('INVALID_PARAMS', `Invalid parameters for ${op.name}: expected an object of named parameters`, { operation: op.name });
  }
  const parsed = op.params.safeParse(params);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    // Nested unknown keys are named with their path (filters.color), so the caller sees where they are.
    if (i.code === 'unrecognized_keys') return `unknown parameter ${i.keys.map((k) => `"${path ? `${path}.` : ''}${k}"`).join(', ')}`;
    return `${path || '(parameters)'}: ${i.message}`;
  });
  throw new ConnectorError('INVALID_PARAMS', `Invalid parameters for ${op.name}: ${problems.join('; ')}`, {
    operation: op.name,
    details: { parameters: parsed.error.issues.map((i) => (i.code === 'unrecognized_keys' ? i.keys.join(',') : i.path.map(String).join('.'))) },
  });
}
