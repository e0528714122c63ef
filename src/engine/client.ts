import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { ConnectorError } from '../errors.js';
import type { ConnectorConfig } from '../config/schema.js';
import { scrubText, secretValues } from '../config/redact.js';
import { resolveEndpoint, type Endpoint } from './endpoint.js';
import { dialerFor, type Dialer, type EndpointDescription } from './connect.js';
import { Deadline, mapFailure, readCapped, readText, sendNode, sendUndici } from './attempt.js';
import { openUpgraded, type UpgradedConnection } from './hijack.js';
import { VersionNegotiator } from './negotiation.js';
import { locationOf, mapHttpError } from './error-map.js';
import { buildQuery } from './path.js';
import { pingInfoOf, prepareRequest, type EngineRequest, type EngineResponse, type EngineUpgradeRequest, type PingInfo } from './request.js';
import { TokenBucket, systemClock, type Clock } from './rate-limiter.js';
import { backoffDelay, retryableStatus, shouldRetry } from './retry.js';
import { compareVersions } from './version.js';
import { UndiciTransport, type BufferedAnswer } from './transport-undici.js';
import { MAX_BODY_BYTES } from './caps.js';
import type { Logger } from '../log.js';
import type { EngineObserver } from './observer.js';
import { silentLogger } from '../log.js';

export type { HttpMethod, EngineRequest, EngineUpgradeRequest, EngineResponse, PingInfo } from './request.js';
export type { UpgradedConnection } from './hijack.js';
export type { EndpointDescription } from './connect.js';

/**
 * How buffered calls (the whole answer read: json(), text(), ping) reach the Engine.
 * Streamed answers, streamed request bodies and upgrades always use node:http
 * (why: transport-undici.ts). Measurements behind these choices: bench/README.md.
 * - 'node': node:http with a keep-alive agent; nothing more to load.
 * - 'undici': undici's pool for buffered calls: cheaper per small call, but its first use costs
 *   tens of milliseconds of start-up and some memory for good, which a process making a handful
 *   of calls never earns back.
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
  /** The connector's name for this Engine, carried by observer events ("default" without named endpoints). */
  endpointName?: string;
}

const ERROR_BODY_CAP = 64 * 1024;
/** Connections kept per endpoint, open and idle (node:http agent and undici pool alike). */
const MAX_CONNECTIONS = 64;

/**
 * The Engine HTTP client: one keep-alive pool per endpoint, version
 * negotiation, auth headers, rate limiting, retries and error mapping.
 *
 * Transport: node:http with a keep-alive agent, and undici for buffered
 * calls once chosen or once 'auto' switches to it (see EngineTransport).
 * Both, and upgraded connections, open their connections through one
 * dialer (connect.ts): nothing here depends on the endpoint's kind.
 */
export class EngineClient {
  readonly endpoint: Endpoint;
  private readonly dialer: Dialer;
  private readonly agent: http.Agent;
  /** The undici transport, once chosen ('undici') or switched to ('auto'); buffered calls use it when ready. */
  private undici: UndiciTransport | undefined;
  readonly transport: EngineTransport;
  /** For 'auto': buffered calls made so far (counted up to the switch). */
  private bufferedCalls = 0;
  /** The Authorization header for a proxy in front of the Engine (also sent on upgraded connections). */
  private readonly authHeader: string | undefined;
  private readonly limiter: TokenBucket | undefined;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly secrets: string[];
  private readonly versions: VersionNegotiator;
  private lastPing: PingInfo | undefined;
  /** The endpoint's address (no secrets in it), for messages and logs. */
  private readonly address: string;
  /** Whether debug logs are on: the per-request log object is built only then. */
  private readonly debugEnabled: boolean;
  /** Largest successful answer read whole, on either transport. */
  private readonly maxBodyBytes: number;
  /** The connector's name for this Engine, for observer events. */
  readonly endpointName: string;
  /** Receives request, retry and rate-limit events (the service's metrics); set by the surface that counts them. */
  observer: EngineObserver | undefined;
  /** scrub, bound once. */
  private readonly scrubber = (text: string): string => this.scrub(text);

  constructor(
    readonly config: ConnectorConfig,
    options: EngineClientOptions = {},
  ) {
    this.endpoint = resolveEndpoint(config);
    this.dialer = dialerFor(this.endpoint, config);
    this.address = this.endpoint.address;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.secrets = secretValues(config as unknown as Record<string, unknown>);
    // As many idle connections kept as may be open: with fewer, a busy service closed and
    // reopened Engine connections all the time. highWaterMark: the sockets' (and so the
    // response bodies') read buffer; a larger one hands a streamed body over in fewer, larger
    // pieces, which costs less CPU per MiB (bench/README.md).
    this.agent = this.dialer.agent({ keepAlive: true, maxSockets: MAX_CONNECTIONS, maxFreeSockets: MAX_CONNECTIONS, scheduling: 'lifo', highWaterMark: 256 * 1024 } as http.AgentOptions);
    if (config.access_token) this.authHeader = `Bearer ${config.access_token}`;
    else if (config.username !== undefined) this.authHeader = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
    this.transport = options.transport ?? 'auto';
    this.endpointName = options.endpointName ?? 'default';
    this.maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
    if (this.transport === 'undici') this.undici = this.newUndici();
    this.limiter = config.rate_limit > 0 ? new TokenBucket(config.rate_limit, config.rate_limit_burst, this.clock) : undefined;
    this.versions = new VersionNegotiator(config.api_version, async (signal) => (await this.ping(signal)).apiVersion, this.logger);
    const isLevelEnabled = (this.logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
    this.debugEnabled = this.logger !== silentLogger && (isLevelEnabled ? isLevelEnabled.call(this.logger, 'debug') : true);
  }

  /** The endpoint as results may show it: its address (never credentials), kind and whether it speaks TLS. */
  get endpointDescription(): EndpointDescription {
    return this.dialer.description;
  }

  /** Removes any configured secret from text that came from outside (proxy bodies, socket errors). */
  scrub(text: string): string {
    return scrubText(text, this.secrets);
  }

  /**
   * The API version requests use: pinned, or negotiated once per endpoint. Calls waiting for
   * one negotiation share its ping, each with its own cancellation (see VersionNegotiator).
   */
  apiVersion(signal?: AbortSignal, operation?: string): Promise<string> {
    return this.versions.get(signal, operation);
  }

  /** The API version if it is already known (pinned, or negotiated), without waiting; else undefined. */
  knownApiVersion(): string | undefined {
    return this.versions.known();
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
    this.lastPing = pingInfoOf(res.headers);
    return this.lastPing;
  }

  /** A call whose answer is JSON (or empty). */
  async json<T = unknown>(req: EngineRequest): Promise<EngineResponse<T>> {
    const res = await this.text(req);
    let body: unknown = undefined;
    // Podman answers some calls whose Docker answer is empty with a newline (tag) or "OK" (network connect):
    // a request that reads no body says so and is spared the parse.
    if (!req.ignoreBody && res.body.trim().length > 0) {
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
    const version = req.versioned === false ? undefined : (this.versions.known() ?? (await this.versions.get(req.signal, req.operation)));
    const url = `${version ? `/v${version}` : ''}${req.path}${buildQuery(req.query)}`;
    const { headers, payload } = prepareRequest(req, this.dialer.hostHeader, this.authHeader);
    const undici = streaming || bodyIsStream ? undefined : this.bufferedTransport();

    for (let attempt = 1; ; attempt++) {
      if (this.limiter) await this.rateLimit(req);
      const started = performance.now();
      const timeoutMs = req.timeoutMs ?? this.config.timeout * 1000;
      const idleMs = req.idleTimeoutMs ?? this.config.timeout * 1000;
      const deadline = new Deadline(streaming ? idleMs : timeoutMs, streaming ? 'idle' : 'total');
      let connected = false;
      // Whether this attempt's request event went out (a failure after the status line is not a second request).
      let reported = false;
      const onConnected = () => (connected = true);
      try {
        // Cancelled before this attempt: nothing is sent, on either transport.
        if (req.signal?.aborted) throw req.signal.reason ?? new Error('aborted');
        // Exactly one of the two: a whole answer (undici) or an unread node:http message.
        let buffered: BufferedAnswer | undefined;
        let message: IncomingMessage | undefined;
        if (undici) buffered = await sendUndici(undici, req.method, url, headers, payload as Buffer | undefined, deadline, req.signal, onConnected);
        else message = await sendNode(this.agent, req.method, url, headers, payload, deadline, req.signal, onConnected);
        const status = buffered ? buffered.status : (message!.statusCode ?? 0);
        const resHeaders = buffered ? buffered.headers : message!.headers;
        // The path is logged without its query: build args and filters may carry values users consider private.
        if (this.debugEnabled) {
          this.logger.debug(
            { operation: req.operation, endpoint: this.address, method: req.method, path: url.split('?')[0], status, duration_ms: Math.round(performance.now() - started), attempt },
            'engine request',
          );
        }
        const ok = (status >= 200 && status < 300) || (req.okStatuses?.includes(status) ?? false);
        if (ok && this.observer) {
          reported = true;
          this.observeRequest(req, req.method, status, undefined, started);
        }
        if (!ok) {
          // An undici answer is already capped at ERROR_BODY_CAP bytes.
          const body = buffered ? buffered.body.toString('utf8') : await readCapped(message!, ERROR_BODY_CAP);
          deadline.clear();
          const retryable = retryableStatus(status, body) && shouldRetry('status', idempotent && !bodyIsStream);
          const contentType = resHeaders['content-type'];
          const err = mapHttpError(status, this.scrub(body), contentType, { operation: req.operation, apiVersion: version, retryable, location: locationOf(resHeaders, this), route: `${req.method} ${req.path}` });
          if (this.observer) {
            reported = true;
            this.observeRequest(req, req.method, status, err.code, started);
          }
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
          if (this.observer && !reported) this.observeRequest(req, req.method, raw.status, raw.code, started);
          throw raw;
        }
        const err = mapFailure(raw, { method: req.method, operation: req.operation, signal: req.signal, idempotent, connected, deadline }, this.address, this.scrubber);
        if (this.observer && !reported) this.observeRequest(req, req.method, undefined, err.code, started);
        // The Engine may come back as another version (upgrade, restart): ask again next time.
        if (err.code === 'CONNECTION_FAILED') this.versions.reset();
        if (err.retryable && !bodyIsStream && attempt < maxAttempts) {
          await this.backoff(req, attempt, err);
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * A request answered by upgrading its connection (exec with stdin): the socket comes back raw,
   * carrying input one way and output the other. Like every other call it waits for the rate
   * limiter, goes out under the version prefix and is logged; it is never retried (the Engine
   * may have started what it asked for). A connection of its own, outside the pool.
   */
  async upgrade(req: EngineUpgradeRequest): Promise<UpgradedConnection> {
    const method = req.method ?? 'POST';
    const version = req.versioned === false ? undefined : (this.versions.known() ?? (await this.versions.get(req.signal, req.operation)));
    const path = `${version ? `/v${version}` : ''}${req.path}${buildQuery(req.query)}`;
    const { headers, payload } = prepareRequest({ ...req, method }, this.dialer.hostHeader, this.authHeader);
    if (this.limiter) await this.rateLimit(req);
    const started = performance.now();
    const log = (status: number) => {
      if (!this.debugEnabled) return;
      this.logger.debug(
        { operation: req.operation, endpoint: this.address, method, path: path.split('?')[0], status, duration_ms: Math.round(performance.now() - started), attempt: 1 },
        'engine request',
      );
    };
    try {
      const conn = await openUpgraded(this.dialer, {
        method,
        path,
        headers,
        payload,
        timeoutMs: req.timeoutMs ?? this.config.timeout * 1000,
        signal: req.signal,
        operation: req.operation,
        apiVersion: version,
        scrub: this.scrubber,
      });
      log(101);
      if (this.observer) this.observeRequest(req, method, 101, undefined, started);
      return conn;
    } catch (err) {
      if (this.observer) this.observeRequest(req, method, err instanceof ConnectorError ? err.status : undefined, err instanceof ConnectorError ? err.code : 'CONNECTION_FAILED', started);
      if (err instanceof ConnectorError && err.status !== undefined) log(err.status);
      else if (err instanceof ConnectorError && err.code === 'CONNECTION_FAILED') this.versions.reset();
      throw err;
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
      dialer: this.dialer,
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

  private async rateLimit(req: { timeoutMs?: number; operation?: string; signal?: AbortSignal }): Promise<void> {
    if (!this.limiter) return;
    const maxWait = req.timeoutMs ?? this.config.timeout * 1000;
    const waited = await this.limiter.acquire(
      maxWait,
      (wait) => {
        this.observer?.rateLimitWait?.({ endpoint: this.endpointName, operation: req.operation, waitMs: wait, refused: true });
        return new ConnectorError('RATE_LIMITED', `Rate limit of ${this.config.rate_limit}/min would delay this call ${(wait / 1000).toFixed(1)}s, past its ${maxWait / 1000}s timeout`, {
          operation: req.operation,
          retryable: true,
        });
      },
      req.signal,
    );
    if (waited > 0) {
      this.logger.warn({ operation: req.operation, waited_ms: Math.round(waited) }, 'rate limit wait');
      this.observer?.rateLimitWait?.({ endpoint: this.endpointName, operation: req.operation, waitMs: waited, refused: false });
    }
  }

  /** One finished Engine request, to the observer (only called when there is one). */
  private observeRequest(req: { operation?: string }, method: string, status: number | undefined, code: string | undefined, started: number): void {
    this.observer?.request?.({ endpoint: this.endpointName, operation: req.operation, method, status, code, durationMs: performance.now() - started });
  }

  private async backoff(req: EngineRequest, attempt: number, err: ConnectorError): Promise<void> {
    const delay = backoffDelay(attempt, this.config.retry_delay, this.random);
    this.observer?.retry?.({ endpoint: this.endpointName, operation: req.operation, code: err.code, status: err.status });
    this.logger.warn({ operation: req.operation, attempt, delay_ms: Math.round(delay), code: err.code, reason: err.message }, 'retrying engine request');
    await this.clock.sleep(delay, req.signal);
  }
}

export { compareVersions };
