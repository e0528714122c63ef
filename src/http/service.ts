import { readFileSync } from 'node:fs';
import { DockerConnector, inheritedSettings, type ConnectorOptions } from '../connector.js';
import { ConnectorError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { createAuditLog, type AuditLog } from '../access/audit.js';
import { listenerKeys, parseListen } from '../access/listener.js';
import { type KeyStore, Policy } from '../access/policy.js';
import { buildApp, type ServiceApp } from './app.js';
import { ServiceMetrics } from './metrics.js';
import { stateStoreSettingsOf, type StateStoreSettings } from '../state-store.js';
import { parseServiceSettings, type ServiceSettings, type ServiceSettingsInput } from './settings.js';

/** Settings given explicitly (CLI flags), over the config file's sections. */
export interface ServiceOverrides extends Partial<Pick<ServiceSettingsInput, 'listen' | 'tls_cert' | 'tls_key' | 'allowed_hosts' | 'metrics_listen'>> {
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

export { DEFAULT_ENDPOINT } from '../fleet.js';

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
  /** This service's metrics (a registry of its own): GET /metrics, and the metrics_listen listener. */
  readonly metrics: ServiceMetrics;
  /** The metrics_listen listener's base URL, once listening. */
  metricsUrl: string | undefined;
  /** The connector whose Engine clients report to `metrics`. */
  private readonly observed: DockerConnector;

  private constructor(init: { settings: ServiceSettings; endpoints: Map<string, DockerConnector>; fleet: DockerConnector; owned: DockerConnector[]; keys: KeyStore | null; policy: Policy; audit: AuditLog; logger: Logger; stateStore?: StateStoreSettings }) {
    this.settings = init.settings;
    this.endpoints = init.endpoints;
    this.owned = init.owned;
    this.audit = init.audit;
    this.authRequired = init.keys !== null;
    const tls = init.settings.tls_cert ? { cert: readPem(init.settings.tls_cert, 'tls_cert'), key: readPem(init.settings.tls_key!, 'tls_key') } : undefined;
    this.metrics = new ServiceMetrics({ endpointNames: [...init.endpoints.keys()], defaultEndpoint: init.endpoints.keys().next().value! });
    this.observed = init.fleet;
    init.fleet.setEngineObserver(this.metrics.engineObserver);
    this.server = buildApp({ metrics: this.metrics, endpoints: init.endpoints, fleet: init.fleet, keys: init.keys, policy: init.policy, audit: init.audit, settings: init.settings, tls, logger: init.logger, stateStore: init.stateStore });
  }

  static create(opts: CreateServiceOptions): HttpService {
    const logger = opts.logger ?? opts.base.logger ?? silentLogger;
    const surface = opts.surface ?? opts.base.surfaceConfig;
    const o = opts.overrides ?? {};
    const settings = parseServiceSettings(surface.service, { listen: o.listen, tls_cert: o.tls_cert, tls_key: o.tls_key, allowed_hosts: o.allowed_hosts, metrics_listen: o.metrics_listen });

    const keys = listenerKeys({ noAuth: o.no_auth, host: parseListen(settings.listen).host, apiKeys: surface.api_keys, env: opts.env ?? process.env, who: 'the service' });
    const policy = Policy.fromSurface(surface, { read_only: o.read_only }, { localFiles: settings.local_files, guardrails: opts.base.config.guardrails });
    // A test's own surface section with endpoints gets connectors of its own; otherwise the base's named endpoints are used.
    const own = opts.surface?.endpoints !== undefined ? new DockerConnector({ ...inheritedSettings(opts.base.config), endpoints: opts.surface.endpoints as ConnectorOptions['endpoints'], env: {}, logger }) : undefined;
    const fleet = own ?? opts.base;
    // The app takes the first endpoint as the default one.
    const endpoints = new Map([[fleet.defaultEndpoint, fleet.endpointConnector(fleet.defaultEndpoint)], ...fleet.endpointConnectors]);
    const owned = own ? [own] : [];
    let audit: AuditLog | undefined;
    try {
      audit = createAuditLog(o.audit_log ?? surface.audit_log);
      return new HttpService({ settings, endpoints, fleet, owned, keys, policy, audit, logger, stateStore: stateStoreSettingsOf(opts.base.config) });
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
    if (this.settings.metrics_listen !== undefined) {
      try {
        this.metricsUrl = await this.metrics.listenSeparately(this.settings.metrics_listen);
      } catch (err) {
        await this.server.app.close();
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: cannot listen on metrics_listen ${this.settings.metrics_listen}: ${code}`);
      }
    }
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
        await this.metrics.close();
        // A base connector outlives the service: it stops reporting to these metrics.
        if (this.observed.engine.observer === this.metrics.engineObserver) this.observed.setEngineObserver(undefined);
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
