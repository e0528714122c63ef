import http from 'node:http';
import { Stream } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ConnectorError, toConnectorError } from '../errors.js';
import type { EngineObserver, EngineRateLimitEvent, EngineRequestEvent, EngineRetryEvent } from '../engine/observer.js';
import { getOperation } from '../operations/index.js';
import { createHostCheck } from '../access/host-check.js';
import { parseListen } from '../access/listener.js';
import { scopesAllowMetrics, type Principal } from '../access/policy.js';
import { errorBody, httpStatusFor } from './errors.js';
import { OPERATION_PATH_PREFIX } from './openapi.js';

/*
 * The service's Prometheus metrics (GET /metrics): one Registry per service,
 * so two services in one process never share or collide.
 *
 * Labels are names and codes only: operation, endpoint, outcome code, method,
 * HTTP status. Never a parameter value, a key id or a secret; every label
 * value comes from a bounded set (the catalogue, the configured endpoints,
 * the error codes), and anything else is counted under "(unknown)".
 */

export const METRICS_PATH = '/metrics';
const OPERATION_ROUTE = `${OPERATION_PATH_PREFIX}:name`;
/** Endpoint label of a call that went to several endpoints (?endpoint=a,b or all, and the hunts). */
export const FAN_OUT_LABEL = '(fan-out)';
/** Label of a name that is not configured / not catalogued: such names are the caller's text, never a label. */
export const UNKNOWN_LABEL = '(unknown)';
const ERROR_CODE = /^[A-Z][A-Z_]{0,40}$/;
/** The start of every error answer (http/errors.ts errorBody): the code is read from it without parsing the body. */
const ERROR_PREFIX = '{"error":{"code":"';

/** Seconds; from a ping through a proxy to a long pull. */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface MetricsOptions {
  /** The configured endpoint names: the only endpoint label values besides "(fan-out)" and "(unknown)". */
  endpointNames: readonly string[];
  /** Where a call that names no endpoint goes. */
  defaultEndpoint: string;
}

/** What the service's app hands over to register GET /metrics on the main listener. */
export interface MetricsRouteOptions {
  /** The /v1 routes' authentication and per-key rate limit ({} when there is none). */
  guard: { onRequest?: onRequestHookHandler };
  principalOf(req: FastifyRequest): Principal;
}

/** One call of an operation being counted. */
interface CallMetrics {
  started: number;
  operation: string;
  endpoint: string;
  /** The outcome, once known from the answer ("ok" or an error code). */
  code: string | undefined;
  /** A 200 answer whose `errors` entries are counted (a fan-out, a hunt). */
  fanOut: boolean;
}

/**
 * A counter's counts, kept as plain numbers and copied into prom-client's
 * Counter when scraped: prom-client hashes the label set on every inc (a
 * label child's too), which a call would pay each time; here it adds to a number.
 */
class Tally {
  private readonly entries = new Map<string, { labels: Record<string, string>; n: number }>();
  constructor(private readonly labelNames: readonly string[]) {}

  add(values: readonly string[], by = 1): void {
    const key = values.join('\u0000');
    const entry = this.entries.get(key);
    if (entry) entry.n += by;
    else this.entries.set(key, { labels: Object.fromEntries(this.labelNames.map((l, i) => [l, values[i]!])), n: by });
  }

  writeTo(counter: Counter<string>): void {
    counter.reset();
    for (const e of this.entries.values()) counter.inc(e.labels, e.n);
  }
}

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly endpointNames: ReadonlySet<string>;
  private readonly defaultEndpoint: string;
  private inFlight = 0;
  private readonly calls: Tally;
  private readonly callDuration: Histogram<'operation' | 'endpoint'>;
  /** callDuration's label children, made once per operation and endpoint. */
  private readonly durationChildren = new Map<string, { observe(value: number): void }>();
  private readonly fanOutFailures: Tally;
  private readonly keyRefusals: Tally;
  private readonly engineRequests: Tally;
  private readonly engineRetries: Tally;
  private readonly engineWaits: Tally;
  private readonly engineWaitSeconds: Tally;
  private readonly engineRefusals: Tally;
  private readonly open = new WeakMap<FastifyRequest, CallMetrics>();
  private separate: http.Server | undefined;

  /** What the Engine clients of the service's endpoints report to (set with DockerConnector.setEngineObserver). */
  readonly engineObserver: EngineObserver;

  constructor(o: MetricsOptions) {
    this.endpointNames = new Set(o.endpointNames);
    this.defaultEndpoint = o.defaultEndpoint;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    /** A Counter whose counts a Tally keeps. */
    const counter = (name: string, help: string, labelNames: string[] = []): Tally => {
      const tally = new Tally(labelNames);
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          tally.writeTo(this);
        },
      });
      return tally;
    };
    this.calls = counter('docker_connector_calls_total', 'Operation calls by operation, endpoint and outcome code ("ok" or the error code)', ['operation', 'endpoint', 'code']);
    this.callDuration = new Histogram({
      name: 'docker_connector_call_duration_seconds',
      help: 'Duration of operation calls (a stream until its body ends)',
      labelNames: ['operation', 'endpoint'],
      buckets: CALL_BUCKETS,
      registers,
    });
    const self = this;
    new Gauge({
      name: 'docker_connector_calls_in_flight',
      help: 'Operation calls being served now',
      registers,
      collect() {
        this.set(self.inFlight);
      },
    });
    this.fanOutFailures = counter('docker_connector_fanout_endpoint_failures_total', 'Endpoints that failed within a fan-out or hunt answer (its errors entries), by operation, endpoint and error code', [
      'operation',
      'endpoint',
      'code',
    ]);
    this.keyRefusals = counter('docker_connector_key_rate_limit_refusals_total', "Requests refused (429) by the service's per-API-key rate limit");
    this.engineRequests = counter(
      'docker_connector_engine_requests_total',
      'HTTP requests to the Engines (each retry counts), by endpoint, method, status class and status ("none" when no answer came) and code ("ok" or the error code)',
      ['endpoint', 'method', 'status_class', 'status', 'code'],
    );
    this.engineRetries = counter('docker_connector_engine_retries_total', 'Engine requests sent again, by endpoint, operation and the error code that caused it', ['endpoint', 'operation', 'code']);
    this.engineWaits = counter('docker_connector_engine_rate_limit_waits_total', "Engine requests that waited for the endpoint's rate limit (rate_limit)", ['endpoint']);
    this.engineWaitSeconds = counter('docker_connector_engine_rate_limit_wait_seconds_total', "Time Engine requests spent waiting for the endpoint's rate limit", ['endpoint']);
    this.engineRefusals = counter(
      'docker_connector_engine_rate_limit_refusals_total',
      "Engine requests refused (RATE_LIMITED) because the endpoint's rate limit would have delayed them past their timeout",
      ['endpoint'],
    );
    this.engineObserver = {
      request: (e) => this.onEngineRequest(e),
      retry: (e) => this.onEngineRetry(e),
      rateLimitWait: (e) => this.onEngineRateLimit(e),
    };
  }

  /** The Prometheus text exposition and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  /* ------------------------- the main listener ------------------------- */

  /** Counts the operation calls of `app` and serves GET /metrics on it (API key with the metrics or admin scope). */
  install(app: FastifyInstance, o: MetricsRouteOptions): void {
    // Global callback hooks: nothing async per request, and only the operation route is counted.
    app.addHook('onRequest', (req, reply, done) => {
      if (req.routeOptions.url === OPERATION_ROUTE) this.startCall(req, reply);
      done();
    });
    app.addHook('onSend', (req, reply, payload, done) => {
      const status = reply.statusCode;
      if (status === 429 && typeof payload === 'string' && payload.includes('requests/min for API key')) this.keyRefusals.add([]);
      const call = this.open.get(req);
      if (call) this.answered(call, status, payload);
      done(null, payload);
    });
    app.get(METRICS_PATH, o.guard, async (req, reply) => {
      const principal = o.principalOf(req);
      if (!scopesAllowMetrics(principal.scopes)) {
        throw new ConnectorError('FORBIDDEN', `API key "${principal.id}" (scopes: ${principal.scopes.join(', ')}) may not read ${METRICS_PATH}: it needs the metrics scope (or admin)`, {
          details: { rule: 'scope', needed_scope: 'metrics' },
        });
      }
      const { contentType, text } = await this.scrape();
      return reply.type(contentType).send(text);
    });
  }

  private startCall(req: FastifyRequest, reply: FastifyReply): void {
    const name = (req.params as { name?: string }).name ?? '';
    const op = getOperation(name);
    const call: CallMetrics = { started: performance.now(), operation: op ? op.name : UNKNOWN_LABEL, endpoint: this.endpointLabel((req.query as { endpoint?: unknown }).endpoint, op?.acrossEndpoints === true), code: undefined, fanOut: false };
    call.fanOut = call.endpoint === FAN_OUT_LABEL;
    this.open.set(req, call);
    this.inFlight++;
    // 'close' comes after the answer ends and when the client goes away first: the one event every call gets.
    reply.raw.once('close', () => this.endCall(call, reply));
  }

  /** The endpoint label of a call's ?endpoint: a configured name, "(fan-out)" for several or all, else "(unknown)". */
  private endpointLabel(query: unknown, acrossEndpoints: boolean): string {
    if (query === undefined || query === '') return acrossEndpoints ? FAN_OUT_LABEL : this.defaultEndpoint;
    if (typeof query !== 'string') return UNKNOWN_LABEL;
    if (this.endpointNames.has(query)) return acrossEndpoints ? FAN_OUT_LABEL : query;
    if (query === 'all' || query.includes(',')) return FAN_OUT_LABEL;
    return UNKNOWN_LABEL;
  }

  private answered(call: CallMetrics, status: number, payload: unknown): void {
    if (status >= 400) {
      call.code = typeof payload === 'string' ? errorCodeOf(payload) : 'UNKNOWN';
      return;
    }
    if (payload instanceof Stream) {
      // A stream that fails after its 200 went out: the code it failed with.
      payload.once('error', (err) => (call.code = toConnectorError(err, call.operation).code));
      return;
    }
    call.code = 'ok';
    if (call.fanOut && typeof payload === 'string') this.countFanOutErrors(call.operation, payload);
  }

  private endCall(call: CallMetrics, reply: FastifyReply): void {
    this.inFlight--;
    // No code yet: a stream whose client went away before its end (or a call cut off before its answer).
    const code = call.code ?? (reply.raw.writableFinished ? 'ok' : 'client_closed');
    this.calls.add([call.operation, call.endpoint, code]);
    const key = `${call.operation}\u0000${call.endpoint}`;
    let duration = this.durationChildren.get(key);
    if (!duration) this.durationChildren.set(key, (duration = this.callDuration.labels(call.operation, call.endpoint)));
    duration.observe((performance.now() - call.started) / 1000);
  }

  /** Counts the `errors` entries of a fan-out answer ({results, errors} / {matches, errors}). */
  private countFanOutErrors(operation: string, payload: string): void {
    let errors: unknown;
    try {
      errors = (JSON.parse(payload) as { errors?: unknown }).errors;
    } catch {
      return;
    }
    if (errors === null || typeof errors !== 'object') return;
    for (const [endpoint, failure] of Object.entries(errors as Record<string, { code?: unknown }>)) {
      const code = typeof failure?.code === 'string' && ERROR_CODE.test(failure.code) ? failure.code : 'UNKNOWN';
      this.fanOutFailures.add([operation, this.endpointNames.has(endpoint) ? endpoint : UNKNOWN_LABEL, code]);
    }
  }

  /* ---------------------------- the Engines ---------------------------- */

  private onEngineRequest(e: EngineRequestEvent): void {
    const status = e.status === undefined ? 'none' : String(e.status);
    const statusClass = e.status === undefined ? 'none' : `${Math.floor(e.status / 100)}xx`;
    this.engineRequests.add([this.engineEndpoint(e.endpoint), e.method, statusClass, status, e.code ?? 'ok']);
  }

  private onEngineRetry(e: EngineRetryEvent): void {
    this.engineRetries.add([this.engineEndpoint(e.endpoint), operationLabel(e.operation), e.code]);
  }

  private onEngineRateLimit(e: EngineRateLimitEvent): void {
    const endpoint = this.engineEndpoint(e.endpoint);
    if (e.refused) {
      this.engineRefusals.add([endpoint]);
      return;
    }
    this.engineWaits.add([endpoint]);
    this.engineWaitSeconds.add([endpoint], e.waitMs / 1000);
  }

  private engineEndpoint(name: string): string {
    return this.endpointNames.has(name) ? name : UNKNOWN_LABEL;
  }

  /* ------------------------- a listener of its own ------------------------- */

  /**
   * Serves GET /metrics, and nothing else, on `listen` (loopback only: checked
   * in settings.ts), without an API key: for a Prometheus on the same host.
   * Resolves with its base URL.
   */
  async listenSeparately(listen: string): Promise<string> {
    const { host, port } = parseListen(listen);
    const hostCheck = createHostCheck({ listenHost: host, allowedHosts: [] });
    const server = http.createServer((req, res) => void this.serveSeparately(req, res, hostCheck));
    this.separate = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as { address: string; port: number };
    return `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  }

  private async serveSeparately(req: http.IncomingMessage, res: http.ServerResponse, hostCheck: ReturnType<typeof createHostCheck>): Promise<void> {
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const refuse = (err: ConnectorError, status = httpStatusFor(err), headers?: Record<string, string>) =>
      send(status, 'application/json; charset=utf-8', JSON.stringify(errorBody(err, status)), headers);
    // The body (none expected) is not read: drain it so the connection can be reused.
    req.resume();
    const refused = hostCheck(req.headers.host, req.headers.origin);
    if (refused) return refuse(refused);
    const path = (req.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) return refuse(new ConnectorError('NOT_FOUND', `No route ${req.method} ${path}: this listener serves only GET ${METRICS_PATH}`));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return refuse(new ConnectorError('INVALID_PARAMS', `Method not allowed: ${req.method} ${METRICS_PATH} takes GET, HEAD`), 405, { allow: 'GET, HEAD' });
    }
    try {
      const { contentType, text } = await this.scrape();
      send(200, contentType, text);
    } catch (err) {
      refuse(toConnectorError(err), 500);
    }
  }

  /** Stops the separate listener, if any. */
  async close(): Promise<void> {
    const server = this.separate;
    if (!server) return;
    this.separate = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

function operationLabel(name: string | undefined): string {
  return name !== undefined && getOperation(name) ? name : UNKNOWN_LABEL;
}

/** The error code of an error answer (errorBody's shape), read from its start. */
function errorCodeOf(payload: string): string {
  if (!payload.startsWith(ERROR_PREFIX)) return 'UNKNOWN';
  const end = payload.indexOf('"', ERROR_PREFIX.length);
  const code = payload.slice(ERROR_PREFIX.length, end);
  return ERROR_CODE.test(code) ? code : 'UNKNOWN';
}
