import { pipeline, Stream, type Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { scrubText, secretValues } from '../config/redact.js';
import type { DockerConnector } from '../connector.js';
import { ConnectorError, toConnectorError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { buildManifest } from '../manifest.js';
import { getOperation, listOperations, type OperationDefinition } from '../operations/index.js';
import type { HealthResult } from '../operations/system.js';
import { TokenBucket } from '../engine/rate-limiter.js';
import type { AuditEntry, AuditLog } from '../surfaces/audit.js';
import { scopesAllow, type KeyStore, type Policy, type Principal } from '../surfaces/policy.js';
import { DOCS_CSP, renderDocs } from './docs.js';
import { errorBody, httpStatusFor, withHttpStatus } from './errors.js';
import { buildOpenApi, OPERATION_PATH_PREFIX } from './openapi.js';
import { negotiateStream, textToNdjson, wantsStream } from './stream.js';
import type { ServiceSettings } from './settings.js';

export interface AppOptions {
  /** Engine endpoints by name, in order: the first is the default. */
  endpoints: ReadonlyMap<string, DockerConnector>;
  /** null = authentication off (only allowed on loopback; checked by the caller). */
  keys: KeyStore | null;
  policy: Policy;
  audit: AuditLog;
  settings: ServiceSettings;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
  logger?: Logger;
}

export interface ServiceApp {
  app: FastifyInstance;
  /** Cancels every call still running (the shutdown deadline passed). */
  abortInFlight(): void;
  /** From now on every answer closes its connection, so a draining server is not held open by keep-alive. */
  markClosing(): void;
}

const ANONYMOUS: Principal = { id: 'anonymous', scopes: ['admin'] };

/** Why a call's signal fired, so the error can say so. */
class CallCancelled extends Error {
  constructor(readonly why: 'timeout' | 'client_closed' | 'shutdown') {
    super(`call cancelled: ${why}`);
  }
}

export function buildApp(opts: AppOptions): ServiceApp {
  const { endpoints, keys, policy, audit, settings } = opts;
  const logger = opts.logger ?? silentLogger;
  const defaultEndpoint = [...endpoints.keys()][0];
  if (!defaultEndpoint) throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: no Engine endpoint');
  // Secrets of every endpoint are scrubbed from every answer, whichever endpoint it came from.
  const secrets = [...endpoints.values()].flatMap((c) => secretValues(c.config as unknown as Record<string, unknown>));
  const inFlight = new Set<AbortController>();
  let closing = false;
  const buckets = new Map<string, TokenBucket>();

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
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ConnectorError('INVALID_PARAMS', `Request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

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

  const AUDITED_ROUTES = new Set([`${OPERATION_PATH_PREFIX}:name`, '/v1/health']);

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
    const st = stateOf(reply.request);
    if (st.audit) st.audit.outcome = err.code;
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
    logger.error({ url: req.url, method: req.method, message: fe.message }, 'internal error in the HTTP service');
    return sendError(reply, new ConnectorError('ENGINE_ERROR', 'Internal error in the service'), 500);
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new ConnectorError('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}; see /openapi.json or /docs`)),
  );

  /*
   * Before the body is read: start the audit entry, then authenticate and
   * rate-limit every /v1 call, so an unauthenticated caller learns nothing
   * (not even whether its body parses) and its refusal is still audited.
   */
  app.addHook('onRequest', async (req) => {
    const route = req.routeOptions.url;
    if (route === undefined || !route.startsWith('/v1/')) return;
    const st = stateOf(req);
    if (AUDITED_ROUTES.has(route)) {
      const operation = route === '/v1/health' ? 'health' : ((req.params as { name?: string }).name ?? null);
      st.audit = { surface: 'http', key_id: null, client: req.ip ?? null, endpoint: null, operation, params: {}, outcome: 'ok', duration_ms: 0, started: performance.now(), recorded: false };
    }
    const principal = keys ? keys.authenticate(req.headers.authorization) : ANONYMOUS;
    st.principal = principal;
    if (st.audit) st.audit.key_id = principal.id;
    rateLimit(principal);
  });

  // Every answer: no caching of API results, no MIME sniffing. Audited calls are recorded here, before the
  // answer leaves (a stream's when its body ends), so the log line exists by the time the caller sees the result.
  app.addHook('onSend', async (req, reply, payload) => {
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
    return payload;
  });

  /* ------------------------------ helpers ------------------------------ */

  const principalOf = (req: FastifyRequest): Principal => {
    const p = states.get(req)?.principal;
    // onRequest authenticated every /v1 route; reaching here without a principal is a bug.
    if (!p) throw new ConnectorError('UNAUTHORIZED', 'Missing API key: send "Authorization: Bearer <key>"');
    return p;
  };

  /** Per-key token bucket; RATE_LIMITED carries how long to wait. */
  const rateLimit = (principal: Principal) => {
    if (settings.rate_limit <= 0) return;
    let bucket = buckets.get(principal.id);
    if (!bucket) buckets.set(principal.id, (bucket = new TokenBucket(settings.rate_limit, settings.rate_limit_burst)));
    const wait = bucket.reserve();
    if (wait > 0) {
      bucket.refund();
      throw new ConnectorError('RATE_LIMITED', `Rate limit of ${settings.rate_limit} requests/min for API key "${principal.id}" reached; retry in ${Math.ceil(wait / 1000)} s`, {
        retryable: true,
        details: { retry_after_seconds: Math.ceil(wait / 1000) },
      });
    }
  };

  const pickEndpoint = (req: FastifyRequest): [string, DockerConnector] => {
    const q = (req.query as Record<string, unknown>).endpoint;
    const name = q === undefined || q === '' ? defaultEndpoint : q;
    const connector = typeof name === 'string' ? endpoints.get(name) : undefined;
    if (!connector) {
      throw new ConnectorError('INVALID_PARAMS', `Unknown endpoint ${JSON.stringify(name)}; configured: ${[...endpoints.keys()].join(', ')}`, { details: { parameters: ['endpoint'] } });
    }
    const st = states.get(req);
    if (st?.audit) st.audit.endpoint = name as string;
    return [name as string, connector];
  };

  /**
   * A signal for one call: fires on the request timeout (unless cleared),
   * when the client goes away, or at the shutdown deadline.
   */
  const callSignal = (reply: FastifyReply) => {
    const ac = new AbortController();
    inFlight.add(ac);
    const timer = setTimeout(() => ac.abort(new CallCancelled('timeout')), settings.request_timeout * 1000);
    const onClose = () => {
      if (!reply.raw.writableFinished) ac.abort(new CallCancelled('client_closed'));
    };
    reply.raw.once('close', onClose);
    return {
      signal: ac.signal,
      clearTimeout: () => clearTimeout(timer),
      done: () => {
        clearTimeout(timer);
        inFlight.delete(ac);
        reply.raw.off('close', onClose);
      },
    };
  };

  /** Runs `work`, giving up when the signal fires even if the operation does not watch it. */
  const untilCancelled = <T>(work: Promise<T>, signal: AbortSignal, operation: string, discard?: (late: T) => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(cancelledError(signal.reason, operation));
      signal.addEventListener('abort', onAbort, { once: true });
      work
        .then(
          (value) => {
            // Finished after the caller was already answered: release what it holds (an open stream).
            if (signal.aborted) discard?.(value);
            resolve(value);
          },
          (err) => reject(signal.aborted ? cancelledError(signal.reason, operation, err) : err),
        )
        .finally(() => signal.removeEventListener('abort', onAbort));
      if (signal.aborted) onAbort();
    });

  const cancelledError = (reason: unknown, operation: string, original?: unknown): ConnectorError => {
    const why = reason instanceof CallCancelled ? reason.why : 'shutdown';
    const prior = original === undefined ? undefined : toConnectorError(original, operation);
    const what =
      why === 'timeout'
        ? `The call took longer than the service's request_timeout of ${settings.request_timeout} s and was cancelled`
        : why === 'client_closed'
          ? 'The client closed the connection; the call was cancelled'
          : 'The service is shutting down; the call was cancelled';
    const op = getOperation(operation);
    // A write cancelled midway may or may not have happened.
    const unknown = prior?.outcomeUnknown ?? (op !== undefined && op.safety !== 'read');
    return new ConnectorError('TIMEOUT', `${what}${unknown ? '; it may or may not have taken effect' : ''}`, { operation, outcomeUnknown: unknown });
  };

  const sendJson = (reply: FastifyReply, status: number, value: unknown) =>
    reply.code(status).type('application/json; charset=utf-8').send(scrubText(JSON.stringify(value ?? null), secrets));

  /* ------------------------------ routes ------------------------------ */

  app.post<{ Params: { name: string } }>(`${OPERATION_PATH_PREFIX}:name`, async (req, reply) => {
    const name = req.params.name;
    let call: ReturnType<typeof callSignal> | undefined;
    let streaming = false;
    try {
      const principal = principalOf(req);
      const op = getOperation(name);
      if (!op) throw new ConnectorError('UNKNOWN_OPERATION', `Unknown operation "${name}"; GET /v1/operations lists them`, { operation: name });
      policy.authorize(op, principal);
      const [, connector] = pickEndpoint(req);
      const params = req.body ?? {};

      if (wantsStream(req.headers.accept)) {
        if (!op.openStream) {
          throw withHttpStatus(new ConnectorError('INVALID_PARAMS', `Operation ${name} has no stream form; ask for application/json`, { operation: name }), 406);
        }
        policy.checkParams(op, params, 'stream');
        call = callSignal(reply);
        const { stream, contentType } = await untilCancelled(connector.executeStream(name, params, { signal: call.signal }), call.signal, name, (late) => late.stream.destroy());
        const mode = negotiateStream(req.headers.accept, contentType);
        if (!mode) {
          stream.destroy();
          throw withHttpStatus(new ConnectorError('INVALID_PARAMS', `Operation ${name} streams ${contentType}, which the Accept header does not allow`, { operation: name }), 406);
        }
        // From here the data flows; a long transfer is bounded by the connector's idle timeout, not by request_timeout.
        call.clearTimeout();
        streaming = true;
        return mode === 'ndjson'
          ? sendStream(reply, stream, pipeline(stream, textToNdjson(), () => {}), 'application/x-ndjson', op, call)
          : sendStream(reply, stream, stream, contentType, op, call);
      }

      policy.checkParams(op, params, 'result');
      call = callSignal(reply);
      const result = await untilCancelled(connector.executeDynamic(name, params, { signal: call.signal }), call.signal, name);
      return sendJson(reply, 200, result);
    } catch (raw) {
      return sendError(reply, toConnectorError(raw, name));
    } finally {
      // A stream's call ends when its body ends (see sendStream).
      if (!streaming) call?.done();
    }
  });

  /** Sends `body` (the source `stream`, or a transform of it) as the answer; the call ends when the body does. */
  function sendStream(reply: FastifyReply, stream: Readable, body: Readable, contentType: string, op: OperationDefinition, call: ReturnType<typeof callSignal>) {
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

  app.get('/v1/operations', async (req, reply) => {
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

  app.get('/v1/manifest', async (req, reply) => {
    return sendJson(reply, 200, { ...buildManifest(), endpoints: [...endpoints.keys()] });
  });

  app.get('/v1/health', async (req, reply) => {
    try {
      policy.authorize(getOperation('health')!, principalOf(req));
      const names = (req.query as Record<string, unknown>).endpoint === undefined ? [...endpoints.keys()] : [pickEndpoint(req)[0]];
      const st = stateOf(req);
      if (st.audit) st.audit.endpoint = names.join(',');
      const results = await Promise.all(names.map(async (n) => [n, await endpoints.get(n)!.health()] as [string, HealthResult]));
      const ok = results.every(([, h]) => h.reachable);
      if (!ok && st.audit) st.audit.outcome = 'UNAVAILABLE';
      return sendJson(reply, ok ? 200 : 503, { ok, endpoints: Object.fromEntries(results) });
    } catch (raw) {
      return sendError(reply, toConnectorError(raw, 'health'));
    }
  });

  app.get('/openapi.json', async (_req, reply) => {
    reply.header('cache-control', 'no-cache');
    return sendJson(reply, 200, buildOpenApi());
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
      for (const ac of inFlight) ac.abort(new CallCancelled('shutdown'));
    },
    markClosing() {
      closing = true;
    },
  };
}
