import type { Readable } from 'node:stream';
import type { EndpointSource } from './config/endpoint-source.js';
import { loadConfig } from './config/load.js';
import { redact, secretValues } from './config/redact.js';
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
import type { EngineObserver } from './engine/observer.js';
import type { FanOut, FleetAccess } from './operations/define.js';
import { DEFAULT_ENDPOINT, endpointEntries, endpointError, Fleet, type EndpointSelection } from './fleet.js';

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
  /**
   * Named endpoints, as the config file's `endpoints` map: each name with its
   * own connection settings (over this connector's inherited rules:
   * evidence_before_destroy, guardrails, plans_dir, state_store). Given here
   * or in the file, calls then go to `endpoint` (default: default_endpoint,
   * else the first).
   */
  endpoints?: Record<string, Partial<ConnectorConfigInput>>;
  /** Receives configuration warnings (a docker CLI variable the config file overrides); default: process.emitWarning. */
  onWarning?: (message: string) => void;
}

export interface ExecuteOptions {
  signal?: AbortSignal;
  /** Receives progress of pulls, pushes, builds, saves, loads and exports. */
  onProgress?: (event: ProgressEvent) => void;
  /** Guardrails a surface chose (src/engine/guardrails.ts; null = off); default: the connector's own `guardrails` setting. */
  guardrails?: Guardrails | null;
  /** The named endpoint (config file `endpoints`) to run on; default: `default_endpoint`, else the first. Without named endpoints the only one is "default". */
  endpoint?: string;
}

export interface ExecuteAcrossOptions extends Omit<ExecuteOptions, 'endpoint'> {
  /** Names, "a,b", or "all" (the default): every configured endpoint. */
  endpoints?: EndpointSelection;
}

/** One endpoint as `docker-connector endpoints` lists it: its name, whether it is the default, and its health. */
export interface EndpointStatus extends HealthResult {
  name: string;
  default: boolean;
}

/**
 * Top-level settings that are rules for every Engine rather than how to
 * reach one: each named endpoint keeps them unless it sets its own.
 */
const INHERITED_BY_ENDPOINTS = ['evidence_before_destroy', 'guardrails', 'plans_dir', 'state_store', 'state_store_ca_cert', 'fan_out_concurrency'] as const;

/** The settings of `config` each named endpoint inherits. */
export function inheritedSettings(config: ConnectorConfig): Partial<ConnectorConfigInput> {
  const out: Record<string, unknown> = {};
  for (const field of INHERITED_BY_ENDPOINTS) {
    const value = (config as Record<string, unknown>)[field];
    if (value !== undefined) out[field] = value;
  }
  return out as Partial<ConnectorConfigInput>;
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
  endpointSource: EndpointSource;
  /** The endpoint as operations see it, with how it was chosen. */
  private endpoint: EndpointDescription;
  /** Where operations read the docker CLI's files from (registry logins): the environment given, else the process's. */
  private readonly env: NodeJS.ProcessEnv;
  /** Plans of destructive dry runs (src/plans.ts); made on first use. */
  private planStore: PlanStore | undefined;
  /** The named endpoints this connector's operations may fan out over (a fleet of one without `endpoints`). */
  private fleet: Fleet;
  /** Set on a connector built from an `endpoints` section: every call goes to one of its endpoints. */
  private readonly router: Fleet | undefined;
  /** The config file the settings came from, if any (named endpoints say where they were declared). */
  private readonly configFile: string | undefined;
  /** This connector's name among the fleet's endpoints ("default" without named endpoints). */
  private endpointName: string = DEFAULT_ENDPOINT;

  constructor(options: ConnectorOptions = {}) {
    const { configFile, env, logger, transport, onWarning, planStore, endpoints, ...settings } = options;
    this.configFile = configFile ?? (env ?? process.env).DOCKER_CONNECTOR_CONFIG;
    this.planStore = planStore;
    const loaded = loadConfig({ options: settings, configFile, env, onWarning });
    this.config = loaded.config;
    this.surfaceConfig = loaded.surface;
    this.logger = logger ?? createLogger(this.config.log_level);
    this.engine = new EngineClient(this.config, { logger: this.logger, transport });
    this.endpointSource = loaded.endpointSource;
    this.endpoint = { ...this.engine.endpointDescription, source: loaded.endpointSource.description };
    this.env = env ?? process.env;
    const section = endpoints ?? loaded.surface.endpoints;
    if (section === undefined) {
      if (this.config.default_endpoint !== undefined && this.config.default_endpoint !== DEFAULT_ENDPOINT) {
        throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: default_endpoint "${this.config.default_endpoint}" names no endpoint: there is no endpoints map, so the only endpoint is "${DEFAULT_ENDPOINT}"`);
      }
      this.fleet = new Fleet(new Map([[DEFAULT_ENDPOINT, this]]), DEFAULT_ENDPOINT, this.config.fan_out_concurrency, false);
    } else {
      this.router = this.fleet = this.buildFleet(section, transport);
    }
  }

  /**
   * One connector per named endpoint, each with its own pool, negotiated
   * version, timeout and rate limiter; `env: {}` so one endpoint never picks
   * up DOCKER_HOST meant for another.
   */
  private buildFleet(section: unknown, transport: EngineTransport | undefined): Fleet {
    const entries = endpointEntries(section);
    const inherited = inheritedSettings(this.config);
    const members = new Map<string, DockerConnector>();
    try {
      for (const [name, settings] of entries) {
        let member: DockerConnector;
        try {
          member = new DockerConnector({ ...inherited, ...settings, env: {}, logger: this.logger, transport, ...(this.planStore ? { planStore: this.planStore } : {}) });
        } catch (err) {
          if (err instanceof ConnectorError) throw new ConnectorError(err.code, err.message.replace(/^Invalid configuration: /, `Invalid configuration: endpoints.${name}: `), { details: err.details });
          throw err;
        }
        member.endpointName = name;
        // What chose its address: its entry in the endpoints map (the settings layers it was built from say only "option").
        const where = `endpoints.${name}${this.configFile ? ` in ${this.configFile}` : ' (library option)'}`;
        member.endpointSource = { ...member.endpointSource, description: where };
        member.endpoint = { ...member.endpoint, source: where };
        members.set(name, member);
      }
      const defaultName = this.config.default_endpoint ?? entries[0]![0];
      if (!members.has(defaultName)) {
        throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: default_endpoint "${defaultName}" is not one of the endpoints (${[...members.keys()].join(', ')})`);
      }
      const fleet = new Fleet(members, defaultName, this.config.fan_out_concurrency, true);
      for (const m of members.values()) {
        m.fleet = fleet;
        (m.engine as { endpointName: string }).endpointName = m.endpointName;
      }
      return fleet;
    } catch (err) {
      for (const m of members.values()) m.close();
      throw err;
    }
  }

  /** The endpoint names, in configuration order ("default" alone without named endpoints). */
  get endpointNames(): readonly string[] {
    return this.fleet.names;
  }

  /** The endpoint calls go to when they name none. */
  get defaultEndpoint(): string {
    return this.router?.defaultName ?? this.endpointName;
  }

  /** The connector of each named endpoint (without named endpoints: "default", this one). */
  get endpointConnectors(): ReadonlyMap<string, DockerConnector> {
    return this.fleet.map;
  }

  /** The connector of one endpoint; an unknown name is INVALID_PARAMS naming it and the configured ones. */
  endpointConnector(name: string): DockerConnector {
    return this.fleet.member(name);
  }

  /** Checks a selection ("a,b", names, "all") and returns the names it stands for; unknown names are INVALID_PARAMS. */
  selectEndpoints(selection: EndpointSelection | undefined): string[] {
    return this.fleet.select(selection);
  }

  /** The secret values of this connector's settings and of each named endpoint's: what a surface scrubs from everything it prints. */
  secretValues(): string[] {
    const configs = new Set([this, ...this.endpointConnectors.values()].map((c) => c.config as unknown as Record<string, unknown>));
    return [...new Set([...configs].flatMap((c) => secretValues(c)))];
  }

  /** Sets (or clears) the observer of every endpoint's Engine client: the service's metrics. */
  setEngineObserver(observer: EngineObserver | undefined): void {
    for (const m of new Set([this, ...this.endpointConnectors.values()])) m.engine.observer = observer;
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
  executeDynamic(name: string, params: unknown = {}, opts: ExecuteOptions = {}): Promise<unknown> {
    if (this.router === undefined && opts.endpoint === undefined) return this.runHere(name, params, opts);
    // The member is asked through its own executeDynamic (one endpoint, no routing): what wraps that sees each endpoint's call.
    return this.routed(opts.endpoint, (member) => member.executeDynamic(name, params, { ...opts, endpoint: undefined }), name);
  }

  /**
   * Runs a read operation on several endpoints at once: `{results: {name:
   * result}, errors: {name: {code, message}}}`. One endpoint failing is its
   * entry in `errors`, never a failure of the call; bad parameters, an
   * unknown endpoint name or a write operation fail the whole call before
   * anything is sent. A hunt (find_containers, find_images) fans out by
   * itself: the selection becomes its `endpoints` parameter, and its own
   * result comes back.
   */
  executeAcross<N extends OperationName>(name: N, params?: ParamsOf<N>, opts?: ExecuteAcrossOptions): Promise<FanOut<ResultOf<N>>>;
  executeAcross(name: string, params?: unknown, opts?: ExecuteAcrossOptions): Promise<unknown>;
  async executeAcross(name: string, params: unknown = {}, opts: ExecuteAcrossOptions = {}): Promise<unknown> {
    const op = await this.operation(name);
    const { endpoints, ...rest } = opts;
    if (op.acrossEndpoints) {
      const given = (params ?? {}) as Record<string, unknown>;
      return this.executeDynamic(name, endpoints === undefined || given.endpoints !== undefined ? given : { ...given, endpoints: this.selectEndpoints(endpoints) }, rest);
    }
    if (op.safety !== 'read') {
      throw new ConnectorError('INVALID_PARAMS', `Operation ${name} is a ${op.safety} operation: it runs on one endpoint at a time; only read operations fan out over several endpoints`, { operation: name, details: { parameters: ['endpoint'] } });
    }
    const valid = validateParams(op, params ?? {}) as Record<string, unknown>;
    // Every endpoint would write (or read) the same file of this host at once.
    const files = (op.localPaths ?? []).filter((p) => valid[p] !== undefined);
    if (files.length > 0) {
      throw new ConnectorError('INVALID_PARAMS', `${name} with ${files.join(', ')} writes or reads a file on this host: run it on one endpoint at a time`, {
        operation: name,
        details: { parameters: ['endpoint', ...files] },
      });
    }
    const fleet = this.fleet;
    return fleet.across(endpoints, (member) => member.executeDynamic(name, params, rest), 'endpoint', opts.signal);
  }

  /** A call routed to a named endpoint: its errors say which endpoint they came from (when there are named endpoints). */
  private async routed<T>(endpoint: string | undefined, work: (member: DockerConnector) => Promise<T>, operation: string): Promise<T> {
    const fleet = this.fleet;
    const name = endpoint ?? fleet.defaultName;
    const member = fleet.member(name);
    if (!fleet.named) return work(member);
    try {
      return await work(member);
    } catch (err) {
      throw endpointError(err, name, operation);
    }
  }

  private async runHere(name: string, params: unknown, opts: ExecuteOptions): Promise<unknown> {
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
  executeStream(name: string, params: unknown = {}, opts: ExecuteOptions = {}): Promise<{ stream: Readable; contentType: string }> {
    if (this.router === undefined && opts.endpoint === undefined) return this.openStreamHere(name, params, opts);
    return this.routed(opts.endpoint, (member) => member.openStreamHere(name, params, opts), name);
  }

  private async openStreamHere(name: string, params: unknown, opts: ExecuteOptions): Promise<{ stream: Readable; contentType: string }> {
    const op = await this.operation(name);
    if (!op.openStream) throw new ConnectorError('INVALID_PARAMS', `Operation ${name} has no stream form`, { operation: name });
    const valid = validateParams(op, params ?? {});
    try {
      return await op.openStream(await this.context(op, opts), valid);
    } catch (raw) {
      throw toConnectorError(raw, name);
    }
  }

  /** The health of one endpoint (default: the default one). */
  async health(endpoint?: string): Promise<HealthResult> {
    return (await this.executeDynamic('health', {}, endpoint === undefined ? {} : { endpoint })) as HealthResult;
  }

  /** Every endpoint with its health (reachable, Engine and negotiated API version), asked `fan_out_concurrency` at a time. */
  async listEndpoints(): Promise<EndpointStatus[]> {
    const fleet = this.fleet;
    const { results } = await fleet.across('all', (member) => member.executeDynamic('health', {}, {}) as Promise<HealthResult>);
    // health never fails (an unreachable Engine is in its result), so every name has a result.
    // An unreachable Engine's health has no address: the listing names it anyway.
    return fleet.names.map((name) => {
      const member = fleet.member(name);
      const h = results[name]!;
      return { name, default: name === fleet.defaultName, ...h, endpoint: h.endpoint ?? member.endpoint.address, endpoint_source: h.endpoint_source ?? member.endpoint.source ?? null };
    });
  }

  /** The manifest of every operation; it imports every family, so it is loaded only when asked for. */
  async manifest(): Promise<Manifest> {
    return (await import('./manifest.js')).buildManifest();
  }

  close(): void {
    this.engine.close();
    if (this.router) for (const m of this.router.map.values()) m.close();
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
    // The fleet getter below has its own `this`.
    const self = this;
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
      // Made only when an operation asks (the hunts): a getter, so no other call pays for it.
      get fleet() {
        return self.fleetAccess(op, opts);
      },
    });
  }

  /** What an operation sees of the named endpoints: names, the default, and `across` with a context per endpoint. */
  private fleetAccess(op: OperationDefinition, opts: ExecuteOptions): FleetAccess {
    const fleet = this.fleet;
    return {
      names: fleet.names,
      defaultName: fleet.defaultName,
      across: (endpoints, work, parameter) =>
        fleet.across(endpoints, async (member, name) => work(await member.context(op, opts), name), parameter ?? 'endpoints', opts.signal),
    };
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
