import { pipeline, Stream, type Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify';
import { scrubText, secretValues } from '../config/redact.js';
import { isSeveral } from '../fleet.js';
import type { DockerConnector } from '../connector.js';
import { ConnectorError, internalError, toConnectorError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { buildManifest } from '../manifest.js';
import { getOperation, listOperations, type OperationDefinition } from '../operations/index.js';
import type { HealthResult } from '../operations/system.js';
import { auditResultFields, type AuditEntry, type AuditLog } from '../access/audit.js';
import { createHostCheck } from '../access/host-check.js';
import { parseListen } from '../access/listener.js';
import { scopesAllow, type KeyStore, type Policy, type Principal } from '../access/policy.js';
import { AuthFailureLimiter, KeyRateLimiter, SharedLimiters } from '../access/throttle.js';
import { openStateStore, stateStoreAddress, type StateStoreSettings } from '../state-store.js';
import { DOCS_CSP, renderDocs } from './docs.js';
import { errorBody, httpStatusFor, withHttpStatus } from './errors.js';
import { buildOpenApi, OPERATION_PATH_PREFIX } from './openapi.js';
import { negotiateStream, textToNdjson, wantsStream } from './stream.js';
import type { ServiceSettings } from './settings.js';
import type { ServiceMetrics } from './metrics.js';

export interface AppOptions {
  /** Engine endpoints by name, in order: the first is the default. */
  endpoints: ReadonlyMap<string, DockerConnector>;
  /** The connector the endpoints belong to: fan-out (`?endpoint=a,b`, `?endpoint=all`) and hunts run through it. */
  fleet?: DockerConnector;
  /** null = authentication off (only allowed on loopback; checked by the caller). */
  keys: KeyStore | null;
  policy: Policy;
  audit: AuditLog;
  settings: ServiceSettings;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
  /** The service's metrics: operation calls are counted and GET /metrics served (http/metrics.ts). */
  metrics?: ServiceMetrics;
  logger?: Logger;
  /** The Redis replicas share limits in (state_store); without it they live in this process. */
  stateStore?: StateStoreSettings;
}

export interface ServiceApp {
  app: FastifyInstance;
  /** Cancels every call still running (the shutdown deadline passed). */
  abortInFlight(): void;
  /** From now on every answer closes its connection, so a draining server is not held open by keep-alive. */
  markClosing(): void;
}

const ANONYMOUS: Principal = { id: 'anonymous', scopes: ['admin'] };

/** What a replica that lost its state store does differently, as /v1/health reports it. */
const STATE_STORE_DEGRADED = [
  'rate_limits: per replica (in memory) until the state store is back',
  'auth_failures: counted per replica until the state store is back',
  'plans: destructive calls with plan_id and dry runs that make plans are refused (UNAVAILABLE)',
];

/** Why a call's signal fired, so the error can say so. */
class CallCancelled extends Error {
  constructor(readonly why: 'timeout' | 'client_closed' | 'shutdown') {
    super(`call cancelled: ${why}`);
  }
}

export function buildApp(opts: AppOptions): ServiceApp {
  const { endpoints, keys, policy, audit, settings } = opts;
  const logger = opts.logger ?? silentLogger;
  const endpointNames = [...endpoints.keys()];
  const defaultEndpoint = endpointNames[0];
  if (!defaultEndpoint) throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: no Engine endpoint');
  // Secrets of every endpoint are scrubbed from every answer, whichever endpoint it came from.
  const secrets = opts.fleet ? opts.fleet.secretValues() : [...endpoints.values()].flatMap((c) => secretValues(c.config as unknown as Record<string, unknown>));
  /*
   * The calls in flight, for the shutdown deadline: a list each Call links
   * itself into and out of, not a Set: with a Set that every call was added
   * to and deleted from, the heap grew under load and full collections ran
   * far more often (figures in bench/README.md).
   */
  interface CallLink {
    next?: Call;
  }
  const inFlight: CallLink = {};
  let closing = false;
  const keyLimiter = new KeyRateLimiter(settings.rate_limit, settings.rate_limit_burst);
  const authLimiter = new AuthFailureLimiter(settings.auth_failures_per_minute);
  // With a state store the limits are shared by the replicas (asynchronous); opened now so the first call does not wait.
  const stateStore = opts.stateStore ? openStateStore(opts.stateStore) : undefined;
  const shared = stateStore?.then((store) =>
    SharedLimiters.create(store, { prefix: 'http', perMinute: settings.rate_limit, burst: settings.rate_limit_burst, authFailuresPerMinute: settings.auth_failures_per_minute }),
  );
  shared?.catch(() => {});
  const hostCheck = createHostCheck({ listenHost: parseListen(settings.listen).host, allowedHosts: settings.allowed_hosts });

  const app = Fastify({
    logger: false,
    bodyLimit: settings.body_limit,
    trustProxy: settings.trust_proxy,
    // A slow client must not hold a connection open forever while sending its request.
    requestTimeout: Math.min(settings.request_timeout, 120) * 1000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Node checks request timeouts only every connectionsCheckingInterval (30 s by default):
    // check every second, so a slow client is cut off close to requestTimeout.
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key, connectionsCheckingInterval: 1000 } } : { http: { connectionsCheckingInterval: 1000 } }),
  }) as unknown as FastifyInstance;

  // An empty body is "no parameters"; anything else must be a JSON object
  // (text/plain is not taken either: it gets the same 415 as other types).
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(new ConnectorError('INVALID_PARAMS', `Request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
    // null would otherwise pass as "no parameters" (the route reads a missing body as {}).
    if (value === null) return done(new ConnectorError('INVALID_PARAMS', 'Request body must be a JSON object of parameters (or empty), not null'), undefined);
    done(null, value);
  });

  /*
   * Every request, before routing: the Host must name this service and a
   * browser's Origin must be allowed (DNS rebinding; see access/host-check.ts).
   * A callback hook: no promise per call.
   */
  app.addHook('onRequest', (req, _reply, done) => {
    const refused = hostCheck(req.headers.host, req.headers.origin);
    if (refused) done(refused);
    else done();
  });

  /* The methods each route pattern takes, for the 405 answer's Allow header. */
  const routeMethods: { source: string; pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    // Parameters (":name") match one path segment; everything else literally.
    const body = route.url
      .split('/')
      .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^$()|[\]{}\\]/g, '\\$&')))
      .join('/');
    const source = `^${body}$`;
    let entry = routeMethods.find((r) => r.source === source);
    if (!entry) routeMethods.push((entry = { source, pattern: new RegExp(source), methods: new Set() }));
    for (const m of [route.method].flat()) entry.methods.add(m.toUpperCase());
  });
  const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  const allowedMethods = (path: string): string[] => {
    const methods = new Set<string>();
    for (const r of routeMethods) if (r.pattern.test(path)) for (const m of r.methods) methods.add(m);
    return [...methods].sort((a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b));
  };

  /* ----------------------- per-request state ----------------------- */

  interface CallState {
    principal?: Principal;
    /** Present for calls that are audited (operations, health). */
    audit?: AuditEntry & { started: number; recorded: boolean };
    /** Code of a stream that failed after the response started. */
    streamFailure?: string;
  }
  const states = new WeakMap<FastifyRequest, CallState>();
  const stateOf = (req: FastifyRequest): CallState => {
    let st = states.get(req);
    if (!st) states.set(req, (st = {}));
    return st;
  };

  // With the audit log off no entry is built at all (an object, a clock read and a spread per call).
  const auditing = audit.destination !== 'off';

  const record = (st: CallState, status: number, outcome?: string) => {
    const a = st.audit;
    if (!a || a.recorded) return;
    a.recorded = true;
    const { started, recorded: _r, ...entry } = a;
    audit.record({ ...entry, status, outcome: outcome ?? entry.outcome, duration_ms: Math.round((performance.now() - started) * 100) / 100 });
  };

  const sendError = (reply: FastifyReply, err: ConnectorError, status = httpStatusFor(err)) => {
    if (status === 429) {
      const wait = Number((err.details as { retry_after_seconds?: number } | undefined)?.retry_after_seconds ?? 1);
      reply.header('retry-after', String(Math.max(1, Math.ceil(wait))));
    }
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="docker-connector"');
    if (err.code === 'INTERNAL_ERROR') {
      // A bug, not a refusal: the operator needs to see where it happened.
      const req = reply.request;
      logger.error({ method: req.method, url: req.url.split('?')[0], operation: err.operation, message: err.message, stack: (err.cause as Error | undefined)?.stack }, 'internal error in the HTTP service');
    }
    const st = states.get(reply.request);
    if (st?.audit) st.audit.outcome = err.code;
    return reply.code(status).type('application/json; charset=utf-8').send(scrubText(JSON.stringify(errorBody(err, status)), secrets));
  };

  app.setErrorHandler((raw, req, reply) => {
    // Errors raised before the handler (auth, body parsing) still name the operation called.
    const operation = (req.params as { name?: string } | undefined)?.name;
    if (raw instanceof ConnectorError) {
      if (!raw.operation && operation) raw.operation = operation;
      return sendError(reply, raw);
    }
    const fe = raw as { statusCode?: number; code?: string; message?: string };
    if (fe.statusCode === 413) {
      return sendError(reply, new ConnectorError('INVALID_PARAMS', `Request body is larger than the service's body_limit of ${settings.body_limit} bytes`, { operation }), 413);
    }
    if (fe.statusCode === 415) {
      return sendError(reply, new ConnectorError('INVALID_PARAMS', 'Send the parameters as a JSON object with Content-Type: application/json', { operation }), 415);
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return sendError(reply, new ConnectorError('INVALID_PARAMS', fe.message ?? 'Bad request', { operation }), fe.statusCode);
    }
    return sendError(reply, internalError(raw, operation), 500);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    // A path that exists with other methods: 405 and what it takes, not "no such route".
    const allow = allowedMethods(path);
    if (allow.length > 0) {
      reply.header('allow', allow.join(', '));
      return sendError(reply, withHttpStatus(new ConnectorError('INVALID_PARAMS', `Method not allowed: ${req.method} ${path} takes ${allow.join(', ')}`), 405));
    }
    return sendError(reply, new ConnectorError('NOT_FOUND', `No route ${req.method} ${path}; see /openapi.json or /docs`));
  });

  /*
   * Before the body is read, on every /v1 route: start the audit entry, then
   * authenticate and rate-limit, so an unauthenticated caller learns nothing
   * (not even whether its body parses) and its refusal is still audited.
   * A route-level callback hook (no route lookup, no promise per call), and
   * none at all when there is nothing to do: no keys, no rate limit, no audit.
   */
  const guard = (audited: 'operation' | 'health' | undefined): onRequestHookHandler | undefined => {
    const auditHere = auditing && audited !== undefined;
    if (!keys && settings.rate_limit <= 0 && !auditHere) return undefined;
    return (req, _reply, done) => {
      const st = stateOf(req);
      if (auditHere) {
        const operation = audited === 'health' ? 'health' : ((req.params as { name?: string }).name ?? null);
        st.audit = { surface: 'http', key_id: null, client: req.ip ?? null, endpoint: null, operation, params: {}, outcome: 'ok', duration_ms: 0, started: performance.now(), recorded: false };
      }
      if (shared) {
        // Limits shared through the state store: the one asynchronous path.
        shared
          .then(async (limits) => {
            const principal = keys ? await limits.authenticate(keys, req.headers.authorization, req.ip) : ANONYMOUS;
            st.principal = principal;
            if (st.audit) st.audit.key_id = principal.id;
            await limits.take(principal.id);
          })
          .then(() => done(), done);
        return;
      }
      // A refusal thrown here goes to the error handler, as from an async hook.
      const principal = keys ? authLimiter.authenticate(keys, req.headers.authorization, req.ip) : ANONYMOUS;
      st.principal = principal;
      if (st.audit) st.audit.key_id = principal.id;
      keyLimiter.take(principal.id);
      done();
    };
  };
  const v1 = (audited?: 'operation' | 'health') => {
    const onRequest = guard(audited);
    return onRequest ? { onRequest } : {};
  };

  // Every answer: no caching of API results, no MIME sniffing. Audited calls are recorded here, before the
  // answer leaves (a stream's when its body ends), so the log line exists by the time the caller sees the result.
  // A callback hook, not an async one: no promise and microtask hop on every answer.
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    if (closing) reply.header('connection', 'close');
    const st = states.get(req);
    if (st?.audit) {
      const body = req.body;
      if (body !== undefined && body !== null) st.audit.params = body;
      if (payload instanceof Stream) {
        reply.raw.once('close', () => record(st, reply.statusCode, st.streamFailure ?? (reply.raw.writableFinished ? 'ok' : 'client_closed')));
      } else {
        record(st, reply.statusCode);
      }
    }
    done(null, payload);
  });

  /* ------------------------------ helpers ------------------------------ */

  const principalOf = (req: FastifyRequest): Principal => {
    const p = states.get(req)?.principal;
    if (p) return p;
    // Without keys (and without a rate limit or audit log) no guard runs: the caller is anonymous.
    if (!keys) return ANONYMOUS;
    // The guard authenticated every /v1 route; reaching here without a principal is a bug.
    throw new ConnectorError('UNAUTHORIZED', 'Missing API key: send "Authorization: Bearer <key>"');
  };

  const fleetOf = (): DockerConnector => {
    if (!opts.fleet) throw new ConnectorError('INVALID_PARAMS', 'This service was built without its fleet: one endpoint per call', { details: { parameters: ['endpoint'] } });
    return opts.fleet;
  };

  /**
   * The endpoints a call fans out over: `?endpoint=a,b` or `?endpoint=all`
   * (read operations only: executeAcross refuses the others), or any
   * `?endpoint=` of a hunt, which fans out by itself (no `?endpoint=` lets
   * its own `endpoints` parameter decide). undefined = one endpoint.
   */
  const fanOutSelection = (req: FastifyRequest, op: OperationDefinition): string | undefined => {
    const q = (req.query as Record<string, unknown>).endpoint;
    if (typeof q !== 'string' || q === '') return undefined;
    if (!op.acrossEndpoints && !isSeveral(q)) return undefined;
    const st = states.get(req);
    if (st?.audit) st.audit.endpoint = q;
    return q;
  };

  const pickEndpoint = (req: FastifyRequest, op?: OperationDefinition): [string, DockerConnector] => {
    const q = (req.query as Record<string, unknown>).endpoint;
    // A selection of several (a,b / all) is checked by the fan-out; the call's own connector is then the default's.
    const several = typeof q === 'string' && (isSeveral(q) || op?.acrossEndpoints === true);
    const name = q === undefined || q === '' || several ? defaultEndpoint : q;
    const connector = typeof name === 'string' ? endpoints.get(name) : undefined;
    if (!connector) {
      throw new ConnectorError('INVALID_PARAMS', `Unknown endpoint ${JSON.stringify(name)}; configured: ${[...endpoints.keys()].join(', ')}`, { details: { parameters: ['endpoint'] } });
    }
    const st = states.get(req);
    if (st?.audit) st.audit.endpoint = name as string;
    return [name as string, connector];
  };

  /**
   * One Engine call of the service. It is cancelled on the request timeout
   * (unless cleared), when the client goes away, or at the shutdown deadline:
   * `run` then gives up at once, and the caller gets its 504.
   *
   * Only calls that can change something or run long get an AbortSignal that
   * also stops the Engine request: writes, streaming operations, stream forms.
   * A plain read is bounded by the connector's own timeout, and stopping it
   * early changes nothing in the Engine, so it is only given up on. Why:
   * an AbortSignal (and the listeners the connector puts on it) per call is
   * expensive in Node 20: ping through the service at concurrency 50 took
   * ~40% more CPU per call with one, and 7 mark-compacts in 16 s instead of 1.
   */
  class Call {
    /** Neighbours in the in-flight list (prev is the list head for the newest call). */
    private prev: CallLink | undefined;
    next: Call | undefined;
    private readonly ac: AbortController | undefined;
    private readonly timer: NodeJS.Timeout;
    private reason: CallCancelled | undefined;
    /** Rejects the promise `run` returned (set while it is pending). */
    private giveUp: (() => void) | undefined;
    private readonly onClose = () => {
      if (!this.reply.raw.writableFinished) this.cancel('client_closed');
    };

    constructor(
      private readonly reply: FastifyReply,
      private readonly op: OperationDefinition,
      abortable: boolean,
    ) {
      if (abortable) this.ac = new AbortController();
      this.prev = inFlight;
      this.next = inFlight.next;
      if (this.next) this.next.prev = this;
      inFlight.next = this;
      this.timer = setTimeout(() => this.cancel('timeout'), settings.request_timeout * 1000);
      reply.raw.on('close', this.onClose);
    }

    /** What the connector watches: undefined for a call that is only given up on. */
    get signal(): AbortSignal | undefined {
      return this.ac?.signal;
    }

    cancel(why: CallCancelled['why']): void {
      if (this.reason) return;
      this.reason = new CallCancelled(why);
      this.ac?.abort(this.reason);
      this.giveUp?.();
    }

    run<T>(work: Promise<T>, discard?: (late: T) => void): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        this.giveUp = () => reject(cancelledError(this.reason, this.op));
        work.then(
          (value) => {
            this.giveUp = undefined;
            // Finished after the caller was already answered: release what it holds (an open stream).
            if (this.reason) discard?.(value);
            resolve(value);
          },
          (err) => {
            this.giveUp = undefined;
            reject(this.reason ? cancelledError(this.reason, this.op, err) : err);
          },
        );
        if (this.reason) this.giveUp();
      });
    }

    /** A stream's data flows: from here it is bounded by the connector's idle timeout, not by request_timeout. */
    clearTimeout(): void {
      clearTimeout(this.timer);
    }

    done(): void {
      clearTimeout(this.timer);
      this.reply.raw.off('close', this.onClose);
      if (this.prev) {
        this.prev.next = this.next;
        if (this.next) this.next.prev = this.prev;
        this.prev = this.next = undefined;
      }
    }
  }

  const cancelledError = (reason: CallCancelled | undefined, op: OperationDefinition, original?: unknown): ConnectorError => {
    const why = reason?.why ?? 'shutdown';
    const operation = op.name;
    const prior = original === undefined ? undefined : toConnectorError(original, operation);
    const what =
      why === 'timeout'
        ? `The call took longer than the service's request_timeout of ${settings.request_timeout} s and was cancelled`
        : why === 'client_closed'
          ? 'The client closed the connection; the call was cancelled'
          : 'The service is shutting down; the call was cancelled';
    // A write cancelled midway may or may not have happened.
    const unknown = prior?.outcomeUnknown ?? op.safety !== 'read';
    return new ConnectorError('TIMEOUT', `${what}${unknown ? '; it may or may not have taken effect' : ''}`, { operation, outcomeUnknown: unknown });
  };

  const sendJson = (reply: FastifyReply, status: number, value: unknown) =>
    reply.code(status).type('application/json; charset=utf-8').send(scrubText(JSON.stringify(value ?? null), secrets));

  /* ------------------------------ routes ------------------------------ */

  // GET /metrics (keys with the metrics or admin scope) and the hooks that count operation calls.
  opts.metrics?.install(app, { guard: v1(), principalOf });

  app.post<{ Params: { name: string } }>(`${OPERATION_PATH_PREFIX}:name`, v1('operation'), async (req, reply) => {
    const name = req.params.name;
    let call: Call | undefined;
    let streaming = false;
    try {
      const principal = principalOf(req);
      const op = getOperation(name);
      if (!op) throw new ConnectorError('UNKNOWN_OPERATION', `Unknown operation "${name}"; GET /v1/operations lists them`, { operation: name });
      policy.authorize(op, principal);
      const [endpointName, member] = pickEndpoint(req, op);
      // With several endpoints a call goes through the fleet, so its errors name the endpoint they came from.
      const named = opts.fleet !== undefined && endpoints.size > 1;
      const connector = named ? opts.fleet! : member;
      const endpoint = named ? endpointName : undefined;
      const params = req.body ?? {};

      if (wantsStream(req.headers.accept)) {
        if (!op.openStream) {
          throw withHttpStatus(new ConnectorError('INVALID_PARAMS', `Operation ${name} has no stream form; ask for application/json`, { operation: name }), 406);
        }
        if (fanOutSelection(req, op) !== undefined) {
          throw withHttpStatus(new ConnectorError('INVALID_PARAMS', `A stream comes from one endpoint: give ?endpoint=<name>, or ask for application/json to fan out`, { operation: name, details: { parameters: ['endpoint'] } }), 406);
        }
        // Negotiated before anything runs: a refused media type must not open an export or a save first.
        const refuse = (type: string) =>
          withHttpStatus(new ConnectorError('INVALID_PARAMS', `Operation ${name} streams ${type}, which the Accept header does not allow`, { operation: name }), 406);
        if (op.streamContentType && !negotiateStream(req.headers.accept, op.streamContentType)) throw refuse(op.streamContentType);
        policy.checkParams(op, params, 'stream');
        call = new Call(reply, op, true);
        const { stream, contentType } = await call.run(connector.executeStream(name, params, { signal: call.signal, guardrails: policy.guardrails, endpoint }), (late) => late.stream.destroy());
        // The type actually opened decides (it is the declared one; checked again in case they ever differ).
        const mode = negotiateStream(req.headers.accept, contentType);
        if (!mode) {
          stream.destroy();
          throw refuse(contentType);
        }
        call.clearTimeout();
        streaming = true;
        return mode === 'ndjson'
          ? sendStream(reply, stream, pipeline(stream, textToNdjson(), () => {}), 'application/x-ndjson', op, call)
          : sendStream(reply, stream, stream, contentType, op, call);
      }

      policy.checkParams(op, params, 'result');
      call = new Call(reply, op, op.safety !== 'read' || op.streaming === true);
      const selection = fanOutSelection(req, op);
      const result = await call.run(
        selection === undefined
          ? connector.executeDynamic(name, params, { signal: call.signal, guardrails: policy.guardrails, endpoint })
          : fleetOf().executeAcross(name, params, { endpoints: selection, signal: call.signal, guardrails: policy.guardrails }),
      );
      const audited = states.get(req)?.audit;
      if (audited) audited.result = auditResultFields(op, result);
      return sendJson(reply, 200, result);
    } catch (raw) {
      return sendError(reply, toConnectorError(raw, name));
    } finally {
      // A stream's call ends when its body ends (see sendStream).
      if (!streaming) call?.done();
    }
  });

  /** Sends `body` (the source `stream`, or a transform of it) as the answer; the call ends when the body does. */
  function sendStream(reply: FastifyReply, stream: Readable, body: Readable, contentType: string, op: OperationDefinition, call: Call) {
    const st = stateOf(reply.request);
    stream.once('error', (err) => {
      st.streamFailure = toConnectorError(err, op.name).code;
      logger.error({ operation: op.name, message: (err as Error).message }, 'stream failed after the response started');
    });
    reply.raw.once('close', () => {
      call.done();
      if (!stream.destroyed) stream.destroy();
    });
    if (contentType === 'application/x-tar') reply.header('content-disposition', `attachment; filename="${op.name}.tar"`);
    return reply.code(200).type(contentType).send(body);
  }

  app.get('/v1/operations', v1(), async (req, reply) => {
    const principal = principalOf(req);
    const ops = listOperations().map((op) => ({
      name: op.name,
      category: op.category,
      title: op.title,
      safety: op.safety,
      idempotent: op.idempotent,
      streaming: op.streaming ?? false,
      stream_form: Boolean(op.openStream),
      path: `${OPERATION_PATH_PREFIX}${op.name}`,
      allowed: policy.permits(op) && scopesAllow(principal.scopes, op.safety),
    }));
    return sendJson(reply, 200, { operations: ops });
  });

  app.get('/v1/manifest', v1(), async (_req, reply) => {
    return sendJson(reply, 200, { ...buildManifest(), endpoints: [...endpoints.keys()] });
  });

  /** The state store's part of /v1/health: where it is, whether it answers, and what is degraded while it does not. */
  const stateStoreHealth = async () => {
    if (!stateStore) return undefined;
    const store = await stateStore.catch(() => undefined);
    if (!store) return { kind: 'redis', address: stateStoreAddress(opts.stateStore!.state_store!), reachable: false, degraded: STATE_STORE_DEGRADED };
    const status = await store.check();
    return { ...status, degraded: status.reachable ? [] : STATE_STORE_DEGRADED };
  };

  app.get('/v1/health', v1('health'), async (req, reply) => {
    try {
      policy.authorize(getOperation('health')!, principalOf(req));
      const names = (req.query as Record<string, unknown>).endpoint === undefined ? [...endpoints.keys()] : [pickEndpoint(req)[0]];
      const st = states.get(req);
      if (st?.audit) st.audit.endpoint = names.join(',');
      const [results, store] = await Promise.all([Promise.all(names.map(async (n) => [n, await endpoints.get(n)!.health()] as [string, HealthResult])), stateStoreHealth()]);
      const ok = results.every(([, h]) => h.reachable);
      if (!ok && st?.audit) st.audit.outcome = 'UNAVAILABLE';
      // A lost state store does not change the status: every replica shares it, so a 503 would take them all out of the load balancer at once.
      return sendJson(reply, ok ? 200 : 503, { ok, endpoints: Object.fromEntries(results), ...(store ? { state_store: store } : {}) });
    } catch (raw) {
      return sendError(reply, toConnectorError(raw, 'health'));
    }
  });

  app.get('/openapi.json', async (_req, reply) => {
    reply.header('cache-control', 'no-cache');
    // The configured endpoint names: the document's `endpoint` query takes only these.
    return sendJson(reply, 200, buildOpenApi({ endpoints: endpointNames }));
  });

  let docs: string | undefined;
  app.get('/docs', async (_req, reply) => {
    docs ??= renderDocs([...endpoints.keys()], keys !== null);
    reply.header('content-security-policy', DOCS_CSP).header('cache-control', 'no-cache').header('referrer-policy', 'no-referrer');
    return reply.type('text/html; charset=utf-8').send(docs);
  });
  app.get('/', async (_req, reply) => reply.redirect('/docs'));

  return {
    app,
    abortInFlight() {
      for (let call = inFlight.next; call; ) {
        const next = call.next;
        call.cancel('shutdown');
        call = next;
      }
    },
    markClosing() {
      closing = true;
    },
  };
}
