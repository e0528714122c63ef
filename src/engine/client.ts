import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { bodyReadError, ConnectorError } from '../errors.js';
import type { ConnectorConfig } from '../config/schema.js';
import { scrubText, secretValues } from '../config/redact.js';
import { resolveEndpoint, loadTlsMaterial, type Endpoint } from './endpoint.js';
import { locationOf, mapHttpError, tlsErrorMessage } from './error-map.js';
import { buildQuery, type QueryValue } from './path.js';
import { TokenBucket, systemClock, type Clock } from './rate-limiter.js';
import { backoffDelay, classifySocketError, RETRY_STATUSES, shouldRetry } from './retry.js';
import { compareVersions, minVersion, MAX_API_VERSION, MIN_API_VERSION } from './version.js';
import { UndiciTransport, type BufferedAnswer } from './transport-undici.js';
import { bodyTooLarge, MAX_BODY_BYTES } from './caps.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export interface EngineRequest {
  method: HttpMethod;
  /** Path without the version prefix, built with enginePath`…`. */
  path: string;
  query?: Record<string, QueryValue>;
  /** A plain value is sent as JSON; a Buffer or Readable as is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to send again after it may have reached the Engine. Defaults to true for GET/HEAD. */
  idempotent?: boolean;
  /** Total time for a plain call (ms). Defaults to the configured timeout. */
  timeoutMs?: number;
  /** For streams: the longest silence tolerated (ms). Defaults to the configured timeout. */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  operation?: string;
  /** Non-2xx statuses that are answers, not errors (e.g. 304 "already started"). */
  okStatuses?: number[];
  /** Unversioned paths (/_ping) skip the /v1.xx prefix. */
  versioned?: boolean;
}

export interface EngineResponse<T> {
  status: number;
  headers: IncomingHttpHeaders;
  body: T;
}

export interface PingInfo {
  apiVersion: string | undefined;
  osType: string | undefined;
  experimental: boolean;
  builderVersion: string | undefined;
}

/**
 * How buffered calls (the whole answer read: json(), text(), ping) reach the Engine.
 * Streamed answers, streamed request bodies and upgrades always use node:http
 * (why: transport-undici.ts).
 * - 'node': node:http with a keep-alive agent; nothing more to load.
 * - 'undici': undici's pool for buffered calls. Per small call it is faster: measured on a busy
 *   2-core machine, the connector's ping/list/inspect p50 went from 1.3–1.4 × raw undici's to
 *   1.0–1.1 ×, and ping at concurrency 16 from ~2,100 to ~3,700 calls/s. Its first use costs
 *   ~40–60 ms, ~150 ms of CPU and a transient +30–35 MiB of RSS (+7–13 MiB for good), which a
 *   process making a handful of calls never earns back: a ping then a 300 MiB export peaked
 *   at 107–139 MiB RSS with undici loaded, 98–105 MiB without.
 * - 'auto' (default): node:http, until this client has made AUTO_UNDICI_AFTER buffered calls;
 *   then undici is loaded in the background and used once ready (if it loads: else node:http
 *   stays). Short-lived users (a CLI call, a script that pings and exports) stay lean; long-lived
 *   ones (a service, an agent loop) get the faster path after their first few dozen calls.
 */
export type EngineTransport = 'node' | 'undici' | 'auto';

/** Buffered calls after which 'auto' switches to undici: a few dozen, far past a one-shot script's. */
export const AUTO_UNDICI_AFTER = 32;

export interface EngineClientOptions {
  logger?: Logger;
  clock?: Clock;
  random?: () => number;
  /** Default 'auto'. */
  transport?: EngineTransport;
  /** Largest successful answer read whole (bytes); default MAX_BODY_BYTES. For tests of the cap. */
  maxBodyBytes?: number;
}

const ERROR_BODY_CAP = 64 * 1024;
/** Connections kept per endpoint, open and idle (node:http agent and undici pool alike). */
const MAX_CONNECTIONS = 64;

/** One API-version negotiation shared by the calls waiting for it. */
interface Negotiation {
  promise: Promise<string>;
  /** Aborts the ping once every waiter has cancelled. */
  controller: AbortController;
  waiters: number;
}

/** A call cancelled while it waited (for the API version): nothing of it was sent. */
function cancelledBeforeSending(signal: AbortSignal, operation: string | undefined): ConnectorError {
  // As for a cancelled request: a reason that is already a ConnectorError is the answer itself.
  if (signal.reason instanceof ConnectorError) return signal.reason;
  return new ConnectorError('TIMEOUT', 'The call was cancelled', { operation });
}

class AttemptTimeout extends Error {
  constructor(readonly kind: 'total' | 'idle', readonly ms: number) {
    super(`${kind} timeout ${ms}ms`);
  }
}

/**
 * The Engine HTTP client: one keep-alive pool per endpoint, version
 * negotiation, auth headers, rate limiting, retries and error mapping.
 *
 * Transport: node:http with a keep-alive agent, and undici for buffered
 * calls once chosen or once 'auto' switches to it (see EngineTransport).
 */
export class EngineClient {
  readonly endpoint: Endpoint;
  private readonly agent: http.Agent;
  /** The undici transport, once chosen ('undici') or switched to ('auto'); buffered calls use it when ready. */
  private undici: UndiciTransport | undefined;
  readonly transport: EngineTransport;
  /** For 'auto': buffered calls made so far (counted up to the switch). */
  private bufferedCalls = 0;
  /** The Authorization header for a proxy in front of the Engine (also used by upgraded connections). */
  readonly authHeader: string | undefined;
  /** TLS settings of this endpoint's connections, for connections made outside the pool (upgrades). */
  readonly tlsOptions: https.AgentOptions | undefined;
  private readonly limiter: TokenBucket | undefined;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly secrets: string[];
  /** The negotiation in flight, if any (see apiVersion). */
  private negotiation: Negotiation | undefined;
  /** The negotiated version once known, so calls after the first need not wait on a promise. */
  private negotiated: string | undefined;
  private lastPing: PingInfo | undefined;
  /** Host header and where to connect, fixed per endpoint (built once, not per request). */
  private readonly hostHeader: string;
  /** Whether debug logs are on: the per-request log object is built only then. */
  private readonly debugEnabled: boolean;
  /** Largest successful answer read whole, on either transport. */
  private readonly maxBodyBytes: number;

  constructor(
    readonly config: ConnectorConfig,
    options: EngineClientOptions = {},
  ) {
    this.endpoint = resolveEndpoint(config);
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.secrets = secretValues(config as unknown as Record<string, unknown>);
    // As many idle connections kept as may be open: with fewer (it was 16), a service at
    // concurrency 50 closed and reopened Engine connections all the time (bench/: ping
    // through `serve` at c=50 went from ~1,700 to ~2,900 calls/s with 64).
    // highWaterMark: the sockets' (and so the response bodies') read buffer. At Node 20's
    // 16 KiB a body read with `for await` arrives in ~50 KiB pieces; at 256 KiB in 100-230 KiB
    // ones: a 300 MiB export costs ~20% less CPU and runs faster (bench/README.md).
    const agentOptions = { keepAlive: true, maxSockets: MAX_CONNECTIONS, maxFreeSockets: MAX_CONNECTIONS, scheduling: 'lifo' as const, highWaterMark: 256 * 1024 };
    if (this.endpoint.kind === 'tcp' && this.endpoint.tls) {
      const tls = loadTlsMaterial(config);
      this.tlsOptions = { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: config.verify_ssl, servername: config.tls_server_name };
      this.agent = new https.Agent({ ...agentOptions, ...this.tlsOptions });
    } else {
      this.tlsOptions = undefined;
      this.agent = new http.Agent(agentOptions);
    }
    if (config.access_token) this.authHeader = `Bearer ${config.access_token}`;
    else if (config.username !== undefined) this.authHeader = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
    this.transport = options.transport ?? 'auto';
    this.maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
    if (this.transport === 'undici') this.undici = this.newUndici();
    this.limiter = config.rate_limit > 0 ? new TokenBucket(config.rate_limit, config.rate_limit_burst, this.clock) : undefined;
    this.hostHeader = this.endpoint.kind === 'unix' ? 'docker' : `${this.endpoint.hostname}:${this.endpoint.port}`;
    const isLevelEnabled = (this.logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
    this.debugEnabled = this.logger !== silentLogger && (isLevelEnabled ? isLevelEnabled.call(this.logger, 'debug') : true);
  }

  /** Removes any configured secret from text that came from outside (proxy bodies, socket errors). */
  scrub(text: string): string {
    return scrubText(text, this.secrets);
  }

  /**
   * The API version requests use: pinned, or negotiated once per endpoint.
   * Calls that need it while a negotiation is in flight share that one ping, but each keeps its
   * own cancellation: the ping runs under a signal of its own, aborted only once every waiter
   * has cancelled (a waiter without a signal never cancels), and each waiter races its own signal.
   * Under the first caller's signal, cancelling that caller failed every other waiter too.
   */
  apiVersion(signal?: AbortSignal, operation?: string): Promise<string> {
    if (this.config.api_version !== 'auto') return Promise.resolve(this.config.api_version);
    if (this.negotiated !== undefined) return Promise.resolve(this.negotiated);
    // Cancelled already: start nothing on this caller's behalf.
    if (signal?.aborted) return Promise.reject(cancelledBeforeSending(signal, operation));
    const n = (this.negotiation ??= this.startNegotiation());
    n.waiters++;
    if (!signal) return n.promise;
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => {
        if (--n.waiters === 0) {
          // Nobody waits any more: stop the ping, and let the next caller start afresh.
          if (this.negotiation === n) this.negotiation = undefined;
          n.controller.abort(signal.reason);
        }
        reject(cancelledBeforeSending(signal, operation));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      n.promise.then(
        (version) => {
          signal.removeEventListener('abort', onAbort);
          resolve(version);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  private startNegotiation(): Negotiation {
    const controller = new AbortController();
    const n: Negotiation = { controller, waiters: 0, promise: undefined as unknown as Promise<string> };
    n.promise = this.negotiate(controller.signal).then(
      (version) => {
        // A negotiation given up on (every waiter cancelled, or the connection failed since) is not the Engine's answer now.
        if (this.negotiation === n) {
          this.negotiated = version;
          this.negotiation = undefined;
        }
        return version;
      },
      (err: unknown) => {
        if (this.negotiation === n) this.negotiation = undefined;
        throw err;
      },
    );
    // Every waiter may have cancelled: the ping's own failure then has nobody to report to.
    n.promise.catch(() => undefined);
    return n;
  }

  /** The API version if it is already known (pinned, or negotiated), without waiting; else undefined. */
  knownApiVersion(): string | undefined {
    return this.config.api_version !== 'auto' ? this.config.api_version : this.negotiated;
  }

  /** The last ping's facts (OS type, builder), if a ping was made. */
  get pingInfo(): PingInfo | undefined {
    return this.lastPing;
  }

  /** Pings the Engine on the unversioned path; returns the Engine's facts. */
  async ping(signal?: AbortSignal, operation?: string): Promise<PingInfo> {
    let res: EngineResponse<string>;
    try {
      res = await this.text({ method: 'HEAD', path: '/_ping', versioned: false, operation, signal });
    } catch (err) {
      // Engines before 1.40 and some proxies do not answer HEAD, and a HEAD
      // answer has no body to explain a 400 (e.g. plain HTTP sent to a TLS port).
      if (err instanceof ConnectorError && (err.status === 400 || err.status === 404 || err.status === 405)) {
        res = await this.text({ method: 'GET', path: '/_ping', versioned: false, operation, signal });
      } else {
        throw err;
      }
    }
    const h = res.headers;
    const info: PingInfo = {
      apiVersion: typeof h['api-version'] === 'string' ? h['api-version'] : undefined,
      osType: typeof h['ostype'] === 'string' ? h['ostype'] : undefined,
      experimental: h['docker-experimental'] === 'true',
      builderVersion: typeof h['builder-version'] === 'string' ? h['builder-version'] : undefined,
    };
    this.lastPing = info;
    return info;
  }

  private async negotiate(signal?: AbortSignal): Promise<string> {
    const info = await this.ping(signal);
    // An Engine that does not say is older than 1.25; we cannot serve it.
    const engineMax = info.apiVersion ?? '1.24';
    if (compareVersions(engineMax, MIN_API_VERSION) < 0) {
      throw new ConnectorError(
        'API_VERSION_UNSUPPORTED',
        `The Engine's newest API version is ${engineMax}; the connector needs at least ${MIN_API_VERSION}`,
        { details: { engine_version: engineMax, client_min: MIN_API_VERSION } },
      );
    }
    const chosen = minVersion(engineMax, MAX_API_VERSION);
    this.logger.debug({ engine_api_version: engineMax, api_version: chosen }, 'negotiated API version');
    return chosen;
  }

  /** A call whose answer is JSON (or empty). */
  async json<T = unknown>(req: EngineRequest): Promise<EngineResponse<T>> {
    const res = await this.text(req);
    let body: unknown = undefined;
    if (res.body.length > 0) {
      try {
        body = JSON.parse(res.body);
      } catch {
        throw new ConnectorError('ENGINE_ERROR', `The Engine answered ${res.status} with a body that is not JSON: ${this.scrub(res.body.slice(0, 200))}`, {
          status: res.status,
          operation: req.operation,
        });
      }
    }
    return { status: res.status, headers: res.headers, body: body as T };
  }

  /** A call whose whole answer is read as text, within the total timeout. */
  text(req: EngineRequest): Promise<EngineResponse<string>> {
    return this.withRetries(req, false) as Promise<EngineResponse<string>>;
  }

  /**
   * A call whose answer is a stream (logs, export, pull progress). The body
   * comes back unread; silence longer than the idle timeout destroys it with
   * a TIMEOUT error. The caller must consume or destroy it.
   */
  stream(req: EngineRequest): Promise<EngineResponse<IncomingMessage>> {
    return this.withRetries(req, true) as Promise<EngineResponse<IncomingMessage>>;
  }

  /** Drops the pooled connections; the next call opens new ones. */
  close(): void {
    this.agent.destroy();
    this.undici?.close();
    if (this.transport === 'auto') {
      // Used again after close, it starts over as a new client would.
      this.undici = undefined;
      this.bufferedCalls = 0;
    }
  }

  private async withRetries(req: EngineRequest, streaming: boolean): Promise<EngineResponse<string> | EngineResponse<IncomingMessage>> {
    const idempotent = req.idempotent ?? (req.method === 'GET' || req.method === 'HEAD');
    const bodyIsStream = req.body instanceof Readable;
    const maxAttempts = 1 + this.config.retry_attempts;
    // Known after the first call: no promise to wait on in the common case.
    const version = req.versioned === false ? undefined : (this.knownApiVersion() ?? (await this.apiVersion(req.signal, req.operation)));
    const url = `${version ? `/v${version}` : ''}${req.path}${buildQuery(req.query)}`;
    const { headers, payload } = this.prepare(req);
    const undici = streaming || bodyIsStream ? undefined : this.bufferedTransport();

    for (let attempt = 1; ; attempt++) {
      if (this.limiter) await this.rateLimit(req);
      const started = performance.now();
      const timeoutMs = req.timeoutMs ?? this.config.timeout * 1000;
      const idleMs = req.idleTimeoutMs ?? this.config.timeout * 1000;
      const deadline = new Deadline(streaming ? idleMs : timeoutMs, streaming ? 'idle' : 'total');
      let connected = false;
      const onConnected = () => (connected = true);
      try {
        // Cancelled before this attempt: nothing is sent, on either transport.
        if (req.signal?.aborted) throw req.signal.reason ?? new Error('aborted');
        // Exactly one of the two: a whole answer (undici) or an unread node:http message.
        let buffered: BufferedAnswer | undefined;
        let message: IncomingMessage | undefined;
        if (undici) buffered = await this.sendUndici(undici, req.method, url, headers, payload as Buffer | undefined, deadline, req.signal, onConnected);
        else message = await this.send(req.method, url, headers, payload, deadline, req.signal, onConnected);
        const status = buffered ? buffered.status : (message!.statusCode ?? 0);
        const resHeaders = buffered ? buffered.headers : message!.headers;
        // The path is logged without its query: build args and filters may carry values users consider private.
        if (this.debugEnabled) {
          this.logger.debug(
            { operation: req.operation, endpoint: this.endpoint.address, method: req.method, path: url.split('?')[0], status, duration_ms: Math.round(performance.now() - started), attempt },
            'engine request',
          );
        }
        const ok = (status >= 200 && status < 300) || (req.okStatuses?.includes(status) ?? false);
        if (!ok) {
          // An undici answer is already capped at ERROR_BODY_CAP bytes.
          const body = buffered ? buffered.body.toString('utf8') : await readCapped(message!, ERROR_BODY_CAP);
          deadline.clear();
          const retryable = RETRY_STATUSES.has(status) && shouldRetry('status', idempotent && !bodyIsStream);
          const contentType = resHeaders['content-type'];
          const err = mapHttpError(status, this.scrub(body), contentType, { operation: req.operation, apiVersion: version, retryable, location: locationOf(resHeaders, this) });
          if (retryable && attempt < maxAttempts) {
            await this.backoff(req, attempt, err);
            continue;
          }
          throw err;
        }
        if (buffered) {
          deadline.clear();
          return { status, headers: resHeaders, body: buffered.body.toString('utf8') };
        }
        const body = message!;
        if (streaming) {
          deadline.watch(body, (err) => body.destroy(err));
          body.once('close', () => deadline.clear());
          return { status, headers: resHeaders, body };
        }
        // A HEAD answer's Content-Length is the size of the GET answer it stands for: nothing to cap.
        const result = await readText({ status, headers: resHeaders, message: body }, deadline, req.method === 'HEAD' ? Infinity : this.maxBodyBytes);
        deadline.clear();
        return result;
      } catch (raw) {
        deadline.clear();
        if (raw instanceof ConnectorError) {
          // The transports' own errors (an answer over the body cap) do not know the operation.
          raw.operation ??= req.operation;
          throw raw;
        }
        const err = this.mapFailure(raw, req, idempotent, connected, deadline);
        if (err.code === 'CONNECTION_FAILED' && this.config.api_version === 'auto') {
          // The Engine may come back as another version (upgrade, restart): ask again next time.
          this.negotiation = undefined;
          this.negotiated = undefined;
        }
        if (err.retryable && !bodyIsStream && attempt < maxAttempts) {
          await this.backoff(req, attempt, err);
          continue;
        }
        throw err;
      }
    }
  }

  /** The undici transport for this buffered call, or undefined for node:http. */
  private bufferedTransport(): UndiciTransport | undefined {
    if (this.transport !== 'auto') return this.undici;
    if (this.undici) return this.undici.ready ? this.undici : undefined;
    if (++this.bufferedCalls >= AUTO_UNDICI_AFTER) {
      const undici = this.newUndici();
      this.undici = undici;
      // Loaded in the background: no call waits for it. If undici cannot load, node:http stays.
      undici.preload().catch((err: unknown) => {
        this.logger.debug({ err: String(err) }, 'undici transport unavailable; staying on node:http');
      });
    }
    return undefined;
  }

  private newUndici(): UndiciTransport {
    return new UndiciTransport({
      endpoint: this.endpoint,
      tls: this.tlsOptions,
      connections: MAX_CONNECTIONS,
      // Only to let go of a connect that hangs; the attempt's own deadline reports the timeout.
      connectTimeoutMs: Math.max(this.config.timeout, 300) * 1000,
      errorCap: ERROR_BODY_CAP,
      bodyCap: this.maxBodyBytes,
    });
  }

  /** Which transport buffered calls use right now ('auto' resolves to one of the two). */
  get bufferedTransportInUse(): 'node' | 'undici' {
    return this.undici && (this.transport === 'undici' || this.undici.ready) ? 'undici' : 'node';
  }

  private prepare(req: EngineRequest): { headers: Record<string, string>; payload: Buffer | Readable | undefined } {
    const headers: Record<string, string> = { host: this.hostHeader, ...req.headers };
    if (this.authHeader) headers['authorization'] = this.authHeader;
    let payload: Buffer | Readable | undefined;
    if (req.body instanceof Readable) {
      payload = req.body;
      headers['content-type'] ??= 'application/x-tar';
    } else if (Buffer.isBuffer(req.body)) {
      payload = req.body;
      headers['content-type'] ??= 'application/octet-stream';
    } else if (req.body !== undefined) {
      payload = Buffer.from(JSON.stringify(req.body));
      headers['content-type'] = 'application/json';
    }
    if (Buffer.isBuffer(payload)) headers['content-length'] = String(payload.length);
    else if (!payload && (req.method === 'POST' || req.method === 'PUT')) headers['content-length'] = '0';
    return { headers, payload };
  }

  private send(
    method: HttpMethod,
    path: string,
    headers: Record<string, string>,
    payload: Buffer | Readable | undefined,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    onConnected: () => void,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const ep = this.endpoint;
      // `headers` already carries Host (see prepare).
      const options: http.RequestOptions =
        ep.kind === 'unix'
          ? { agent: this.agent, method, path, headers, socketPath: ep.socketPath }
          : { agent: this.agent, method, path, headers, host: ep.hostname, port: ep.port };
      const request = (ep.kind === 'tcp' && ep.tls ? https : http).request(options);
      // The error listener comes first: destroy(err) below emits 'error', and an
      // 'error' with no listener would be thrown as an uncaught exception.
      request.on('error', reject);
      const fail = (err: unknown) => {
        request.destroy(err instanceof Error ? err : new Error(String(err)));
        reject(err);
      };
      deadline.start(fail);
      if (signal) {
        const onAbort = () => fail(signal.reason ?? new Error('aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
        // A long-lived signal (a service's, a session's) must not collect one listener per call.
        request.once('close', () => signal.removeEventListener('abort', onAbort));
      }
      request.on('socket', (socket) => {
        if (request.reusedSocket || !socket.connecting) onConnected();
        else socket.once('connect', onConnected);
      });
      request.on('response', (res) => resolve(res));
      if (payload instanceof Readable) {
        payload.on('error', (err) => fail(bodyReadError(err)));
        payload.pipe(request);
      } else {
        request.end(payload);
      }
    });
  }

  /** The same through undici, answer read whole; the deadline and the signal cancel it. */
  private sendUndici(
    undici: UndiciTransport,
    method: HttpMethod,
    path: string,
    headers: Record<string, string>,
    payload: Buffer | undefined,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    onConnected: () => void,
  ): Promise<BufferedAnswer> {
    const { answer, cancel } = undici.request(method, path, headers, payload, onConnected);
    const fail = (err: unknown) => cancel.cancel(err instanceof Error ? err : new Error(String(err)));
    deadline.start(fail);
    if (signal) {
      // (A signal aborted before the attempt never gets here: see withRetries.)
      const onAbort = () => fail(signal.reason ?? new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      // A long-lived signal (a service's, a session's) must not collect one listener per call.
      return answer.finally(() => signal.removeEventListener('abort', onAbort));
    }
    return answer;
  }

  private mapFailure(raw: unknown, req: EngineRequest, idempotent: boolean, connected: boolean, deadline: Deadline): ConnectorError {
    const operation = req.operation;
    const address = this.endpoint.address;
    const isWrite = !(req.method === 'GET' || req.method === 'HEAD');
    if (raw instanceof AttemptTimeout || deadline.fired) {
      const ms = deadline.ms;
      const what = deadline.kind === 'idle' ? `no data from the Engine for ${ms / 1000}s (idle timeout)` : `the Engine did not answer within ${ms / 1000}s`;
      const unknown = isWrite && connected;
      return new ConnectorError('TIMEOUT', `${what} at ${address}${unknown ? '; the request was sent, so its outcome is unknown' : ''}`, {
        operation,
        outcomeUnknown: unknown,
      });
    }
    if (req.signal?.aborted) {
      return new ConnectorError('TIMEOUT', `The call was cancelled${isWrite && connected ? '; the request was sent, so its outcome is unknown' : ''}`, {
        operation,
        outcomeUnknown: isWrite && connected,
      });
    }
    const err = raw as NodeJS.ErrnoException;
    const tlsMessage = tlsErrorMessage(err, address);
    if (tlsMessage) return new ConnectorError('TLS_ERROR', this.scrub(tlsMessage), { operation });
    if (typeof err.code === 'string' && err.code.startsWith('ERR_OSSL')) {
      // OpenSSL refused the configured files themselves (a key that is not a PEM key, an encrypted key…).
      return new ConnectorError(
        'TLS_ERROR',
        `TLS: the certificate or key files could not be used (${err.code}) for ${address}; ca_cert, client_cert and client_key must be PEM files, the key unencrypted`,
        { operation },
      );
    }
    // undici's connect timeout: no connection was made, so the Engine saw nothing.
    const kind = err.code === 'UND_ERR_CONNECT_TIMEOUT' ? 'not-connected' : classifySocketError(err.code, connected);
    const reason = err.code ?? err.message;
    if (kind === 'not-connected') {
      const hint = err.code === 'ENOENT' ? ' (no socket at that path: is the Engine running?)' : err.code === 'EACCES' ? ' (permission denied on the socket)' : '';
      return new ConnectorError('CONNECTION_FAILED', `Cannot connect to the Docker Engine at ${address}: ${reason}${hint}`, { operation, retryable: true });
    }
    if (kind === 'maybe-sent') {
      const retryable = shouldRetry(kind, idempotent);
      const unknown = isWrite && !idempotent;
      return new ConnectorError(
        'CONNECTION_FAILED',
        `Connection to the Docker Engine at ${address} was lost (${reason})${unknown ? '; the request may have reached the Engine, so its outcome is unknown (not retried: the operation is not safe to repeat)' : ''}`,
        { operation, retryable, outcomeUnknown: unknown },
      );
    }
    if (err.code === 'EACCES') {
      return new ConnectorError('CONNECTION_FAILED', `Cannot connect to the Docker Engine at ${address}: permission denied`, { operation });
    }
    return new ConnectorError('CONNECTION_FAILED', this.scrub(`Request to the Docker Engine at ${address} failed: ${reason}`), { operation, cause: err });
  }

  private async rateLimit(req: EngineRequest): Promise<void> {
    if (!this.limiter) return;
    const maxWait = req.timeoutMs ?? this.config.timeout * 1000;
    const waited = await this.limiter.acquire(
      maxWait,
      (wait) =>
        new ConnectorError('RATE_LIMITED', `Rate limit of ${this.config.rate_limit}/min would delay this call ${(wait / 1000).toFixed(1)}s, past its ${maxWait / 1000}s timeout`, {
          operation: req.operation,
          retryable: true,
        }),
      req.signal,
    );
    if (waited > 0) this.logger.warn({ operation: req.operation, waited_ms: Math.round(waited) }, 'rate limit wait');
  }

  private async backoff(req: EngineRequest, attempt: number, err: ConnectorError): Promise<void> {
    const delay = backoffDelay(attempt, this.config.retry_delay, this.random);
    this.logger.warn({ operation: req.operation, attempt, delay_ms: Math.round(delay), code: err.code, reason: err.message }, 'retrying engine request');
    await this.clock.sleep(delay, req.signal);
  }
}

/** A total or idle timer for one attempt. */
class Deadline {
  fired = false;
  private timer: NodeJS.Timeout | undefined;
  private onFire: ((err: Error) => void) | undefined;

  constructor(
    readonly ms: number,
    readonly kind: 'total' | 'idle',
  ) {}

  start(onFire: (err: Error) => void): void {
    this.onFire = onFire;
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.onFire?.(new AttemptTimeout(this.kind, this.ms));
    }, this.ms);
    this.timer.unref?.();
  }

  /** From now on the timer fires `onFire`; for idle deadlines each chunk re-arms it. */
  watch(res: IncomingMessage, onFire: (err: Error) => void): void {
    this.onFire = onFire;
    if (this.kind !== 'idle') return;
    this.arm();
    // Watch the socket, not the body: a 'data' listener on the body would
    // switch it to flowing mode before its consumer is attached.
    const socket = res.socket;
    if (!socket) return;
    const refresh = () => {
      if (!this.fired && this.timer) this.timer.refresh();
    };
    socket.on('data', refresh);
    res.once('close', () => socket.off('data', refresh));
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Reads a whole (small) answer as text; the deadline keeps watching it. One function for every call, no closure per call.
 * An answer larger than `cap` fails with STREAM_ERROR: at once when its Content-Length says so, else as soon as it passes the cap.
 */
function readText(res: { status: number; headers: IncomingHttpHeaders; message: IncomingMessage }, deadline: Deadline, cap: number): Promise<EngineResponse<string>> {
  return new Promise((resolve, reject) => {
    const message = res.message;
    const declared = Number(res.headers['content-length']);
    if (declared > cap) {
      message.destroy();
      reject(bodyTooLarge(cap));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    deadline.watch(message, (err) => {
      message.destroy();
      reject(err);
    });
    message.on('data', (c: Buffer) => {
      size += c.length;
      if (size > cap) {
        message.destroy();
        reject(bodyTooLarge(cap));
        return;
      }
      chunks.push(c);
    });
    message.on('end', () => {
      // Most answers arrive in one chunk: no copy then.
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      resolve({ status: res.status, headers: res.headers, body: text });
    });
    message.on('error', reject);
  });
}

async function readCapped(res: IncomingMessage, cap: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (size < cap) chunks.push(chunk.subarray(0, cap - size));
      size += chunk.length;
      if (size >= cap) break;
    }
  } catch {
    // A body cut short still says what it said so far.
  } finally {
    res.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

export { compareVersions };
