import { readFileSync } from 'node:fs';
import { DockerConnector } from '../connector.js';
import { ConnectorError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { createAuditLog, type AuditLog } from '../access/audit.js';
import { listenerKeys, parseListen } from '../access/listener.js';
import { type KeyStore, Policy } from '../access/policy.js';
import { buildApp, type ServiceApp } from './app.js';
import { parseServiceSettings, type ServiceSettings, type ServiceSettingsInput } from './settings.js';

/** Settings given explicitly (CLI flags), over the config file's sections. */
export interface ServiceOverrides extends Partial<Pick<ServiceSettingsInput, 'listen' | 'tls_cert' | 'tls_key' | 'allowed_hosts'>> {
  read_only?: boolean;
  audit_log?: string;
  /** Run without API keys; refused unless listening on loopback only. */
  no_auth?: boolean;
}

export interface CreateServiceOptions {
  /**
   * The connector built from flags, environment and config file. Its
   * `surfaceConfig` supplies api_keys, endpoints, policy, audit_log and
   * service; without an `endpoints` section it is the only endpoint ("default").
   */
  base: DockerConnector;
  /** Overrides base.surfaceConfig (tests). */
  surface?: Record<string, unknown>;
  /** Where DOCKER_CONNECTOR_API_KEYS is read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  overrides?: ServiceOverrides;
  logger?: Logger;
}

export const DEFAULT_ENDPOINT = 'default';
const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** One connector per named endpoint, each with its own pool, negotiated version and rate limiter. */
function buildEndpoints(section: unknown, logger: Logger, inherited: Record<string, unknown> = {}): Map<string, DockerConnector> {
  if (section === null || typeof section !== 'object' || Array.isArray(section) || Object.keys(section).length === 0) {
    throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: endpoints must be an object of named connection settings, e.g. {"prod": {"host": "tcp://…"}}');
  }
  const out = new Map<string, DockerConnector>();
  try {
    for (const [name, settings] of Object.entries(section as Record<string, unknown>)) {
      if (!ENDPOINT_NAME.test(name)) throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: endpoint name "${name}" must be letters, digits, "_", ".", "-"`);
      if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
        throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: endpoints.${name} must be an object of connection settings`);
      }
      try {
        // env: {} so one endpoint never picks up DOCKER_HOST meant for another.
        out.set(name, new DockerConnector({ ...inherited, ...(settings as Record<string, unknown>), env: {}, logger }));
      } catch (err) {
        if (err instanceof ConnectorError) throw new ConnectorError(err.code, err.message.replace(/^Invalid configuration: /, `Invalid configuration: endpoints.${name}: `), { details: err.details });
        throw err;
      }
    }
  } catch (err) {
    for (const c of out.values()) c.close();
    throw err;
  }
  return out;
}

/**
 * Settings of the config file's top level that are rules for every Engine
 * rather than how to reach one (evidence_before_destroy): each named
 * endpoint keeps them unless it sets its own.
 */
function inheritedByEndpoints(base: DockerConnector): Record<string, unknown> {
  const { evidence_before_destroy } = base.config;
  return evidence_before_destroy ? { evidence_before_destroy } : {};
}

function readPem(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: cannot read ${setting} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/**
 * The HTTP service, assembled from configuration: endpoints, keys, policy,
 * audit log and limits. `listen()` starts it, `close()` stops it gracefully.
 */
export class HttpService {
  readonly settings: ServiceSettings;
  readonly endpoints: ReadonlyMap<string, DockerConnector>;
  readonly authRequired: boolean;
  readonly audit: AuditLog;
  private readonly server: ServiceApp;
  private readonly owned: DockerConnector[];
  private closing: Promise<void> | undefined;
  url: string | undefined;

  private constructor(init: { settings: ServiceSettings; endpoints: Map<string, DockerConnector>; owned: DockerConnector[]; keys: KeyStore | null; policy: Policy; audit: AuditLog; logger: Logger }) {
    this.settings = init.settings;
    this.endpoints = init.endpoints;
    this.owned = init.owned;
    this.audit = init.audit;
    this.authRequired = init.keys !== null;
    const tls = init.settings.tls_cert ? { cert: readPem(init.settings.tls_cert, 'tls_cert'), key: readPem(init.settings.tls_key!, 'tls_key') } : undefined;
    this.server = buildApp({ endpoints: init.endpoints, keys: init.keys, policy: init.policy, audit: init.audit, settings: init.settings, tls, logger: init.logger });
  }

  static create(opts: CreateServiceOptions): HttpService {
    const logger = opts.logger ?? opts.base.logger ?? silentLogger;
    const surface = opts.surface ?? opts.base.surfaceConfig;
    const o = opts.overrides ?? {};
    const settings = parseServiceSettings(surface.service, { listen: o.listen, tls_cert: o.tls_cert, tls_key: o.tls_key, allowed_hosts: o.allowed_hosts });

    const keys = listenerKeys({ noAuth: o.no_auth, host: parseListen(settings.listen).host, apiKeys: surface.api_keys, env: opts.env ?? process.env, who: 'the service' });
    const policy = Policy.fromSurface(surface, { read_only: o.read_only }, { localFiles: settings.local_files, guardrails: opts.base.config.guardrails });
    const endpoints = surface.endpoints === undefined ? new Map([[DEFAULT_ENDPOINT, opts.base]]) : buildEndpoints(surface.endpoints, logger, inheritedByEndpoints(opts.base));
    const owned = surface.endpoints === undefined ? [] : [...endpoints.values()];
    let audit: AuditLog | undefined;
    try {
      audit = createAuditLog(o.audit_log ?? surface.audit_log);
      return new HttpService({ settings, endpoints, owned, keys, policy, audit, logger });
    } catch (err) {
      for (const c of owned) c.close();
      void audit?.close();
      throw err;
    }
  }

  /** The Fastify instance (for in-process tests: `inject`). */
  get app() {
    return this.server.app;
  }

  /** Starts listening; resolves with the base URL (port 0 → the port chosen). */
  async listen(): Promise<string> {
    const { host, port } = parseListen(this.settings.listen);
    this.url = await this.server.app.listen({ host, port });
    return this.url;
  }

  /**
   * Stops accepting calls, lets in-flight ones finish for up to
   * shutdown_timeout seconds, then cancels what is left; closes the
   * connectors it built and the audit log.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      let hardStop: NodeJS.Timeout | undefined;
      const deadline = setTimeout(() => {
        // Cancelled calls still get their 504; connections that outlive that are cut.
        this.server.abortInFlight();
        hardStop = setTimeout(() => this.server.app.server.closeAllConnections?.(), 2000);
      }, this.settings.shutdown_timeout * 1000);
      this.server.markClosing();
      try {
        await this.server.app.close();
      } finally {
        clearTimeout(deadline);
        clearTimeout(hardStop);
        for (const c of this.owned) c.close();
        await this.audit.close();
      }
    })();
    return this.closing;
  }

  /** Cancels every in-flight call now (a second SIGINT). */
  abortInFlight(): void {
    this.server.abortInFlight();
  }
}
