import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import { ConnectorError } from '../errors.js';
import { bodyTooLarge } from './caps.js';
import type { Dialer } from './connect.js';

/**
 * The undici transport for buffered calls (the whole answer read into
 * memory): the small, frequent calls.
 *
 * Why: node:http's own per-request cost (agent bookkeeping,
 * ClientRequest/IncomingMessage streams) is a large part of a small call's
 * time against a local Engine. This transport calls undici's `Pool.dispatch`
 * with one small handler per request (no `request()` wrapper, no body
 * stream): the cheapest path undici offers. Its connections are opened by
 * the endpoint's dialer (connect.ts), as node:http's are.
 *
 * Why only buffered calls: streamed answers (logs, export, pull progress)
 * and streamed request bodies (tar uploads) stay on node:http. Their callers
 * hold a Node `IncomingMessage`, and undici's body, piped with dockerd as
 * the source, slowed to a crawl and buffered in memory on Node 20;
 * node:http streams at full speed in flat memory. Figures: bench/README.md.
 *
 * undici is imported when first needed, never at start-up: its first use
 * costs start-up time, CPU (V8 compiles its WebAssembly HTTP parser in the
 * background) and memory. See EngineTransport in client.ts for when.
 */

/** A whole answer: status, headers and the body bytes (for error statuses, at most `errorCap` of them). */
export interface BufferedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Cancels a request in flight (the total deadline fired, or the caller's signal). */
export interface Cancel {
  cancel(err: Error): void;
}

export interface UndiciTransportOptions {
  /** Opens the pool's connections. */
  dialer: Dialer;
  /** Most connections kept open at once (the node:http agent's maxSockets). */
  connections: number;
  /** Longest wait for a connection to open; past it the attempt fails as never sent. */
  connectTimeoutMs: number;
  /** Bytes of an error answer kept (the rest is read and dropped). */
  errorCap: number;
  /** Largest successful answer read (bytes); past it the request fails with STREAM_ERROR and is aborted. */
  bodyCap: number;
}

interface Undici {
  Pool: typeof Pool;
}
let undici: Promise<Undici> | undefined;

/**
 * undici's Pool, imported once per process. Its own module first: the
 * package entry also loads fetch, WebSocket, caches and mock agents, which
 * cost memory and start-up time the pool does not need (bench/README.md).
 * undici 7 has no "exports" map, so the path is reachable; should a release
 * move it, the package entry is the fallback. The names are variables so
 * that bundlers leave these imports to run time.
 */
const POOL_MODULE = 'undici/lib/dispatcher/pool.js';
const PACKAGE = 'undici';

function loadUndici(): Promise<Undici> {
  undici ??= import(POOL_MODULE).then(
    (pool: { default: typeof Pool }) => ({ Pool: pool.default }),
    async () => (await import(PACKAGE)) as Undici,
  );
  undici.catch(() => (undici = undefined));
  return undici;
}

export class UndiciTransport {
  private pool: Pool | undefined;
  private poolPromise: Promise<Pool> | undefined;
  private readonly origin: string;
  /**
   * Errors of this pool's TLS connections, counted, and the last one. A server that refuses
   * the client certificate says so with an alert after the TLS 1.3 handshake; undici then
   * reports the request as "other side closed". A request that failed that way while such
   * an error was recorded reports the TLS error instead, as node:http does.
   */
  private tlsFailures = 0;
  private lastTlsFailure: Error | undefined;

  constructor(private readonly options: UndiciTransportOptions) {
    // Where the pool's connections go, and their TLS server name, are the dialer's: the origin only keys the pool.
    this.origin = options.dialer.origin;
  }

  /**
   * Sends one request and reads its whole answer. `onSent` is called when the
   * request is handed to a connected socket (the Engine may see it from then
   * on); `cancel.cancel` aborts it at any point.
   */
  request(method: string, path: string, headers: Record<string, string>, body: Buffer | undefined, onSent: () => void): { answer: Promise<BufferedAnswer>; cancel: Cancel } {
    // A HEAD answer's Content-Length is the size of the GET answer it stands for: nothing to cap.
    const handler = new BufferedHandler(onSent, this.options.errorCap, method === 'HEAD' ? Infinity : this.options.bodyCap, this);
    const opts: Dispatcher.DispatchOptions = {
      origin: this.origin,
      method: method as Dispatcher.HttpMethod,
      path,
      headers,
      body: body ?? null,
      // undici closes the connection after every HEAD unless told the answer has no body to skip.
      reset: method === 'HEAD' ? false : undefined,
    } as Dispatcher.DispatchOptions;
    if (this.pool) this.pool.dispatch(opts, handler);
    else this.open().then((pool) => pool.dispatch(opts, handler), (err: Error) => handler.onResponseError(undefined, err));
    return { answer: handler.promise, cancel: handler };
  }

  /** The TLS error behind an "other side closed", if one was recorded since the request counted `since`. */
  tlsFailureSince(since: number): Error | undefined {
    return this.tlsFailures > since ? this.lastTlsFailure : undefined;
  }

  get tlsFailureCount(): number {
    return this.tlsFailures;
  }

  /** True once undici is loaded and the pool exists: requests go out without waiting. */
  get ready(): boolean {
    return this.pool !== undefined;
  }

  /** Loads undici and opens the pool ahead of the first request. */
  preload(): Promise<unknown> {
    return this.open();
  }

  /** Closes idle connections; requests in flight finish. The next request opens a new pool. */
  close(): void {
    const pool = this.pool;
    this.pool = undefined;
    this.poolPromise = undefined;
    void pool?.close().catch(() => undefined);
  }

  private open(): Promise<Pool> {
    if (this.poolPromise) return this.poolPromise;
    const opening = loadUndici().then(
      ({ Pool }) => {
        const connect = this.options.dialer.undiciConnect({
          timeoutMs: this.options.connectTimeoutMs,
          onTlsError: (e) => {
            this.lastTlsFailure = e;
            this.tlsFailures++;
          },
        });
        const pool = new Pool(this.origin, {
          connections: this.options.connections,
          pipelining: 1,
          // The client's total and idle deadlines govern; undici's own (300 s) would cut long calls short.
          headersTimeout: 0,
          bodyTimeout: 0,
          // undici closes a connection idle for 4 s by default; the node:http agent keeps it. A call after
          // a pause would pay a new connection (a TLS handshake on tcp+TLS). The Engine's hint, if any, still wins.
          keepAliveTimeout: 60_000,
          connect,
        } as Pool.Options);
        // Closed while loading: the requests already waiting still go out on this pool, which
        // nobody keeps; its idle connections do not hold the process open and close after 60 s.
        if (this.poolPromise === opening) this.pool = pool;
        return pool;
      },
      (err: unknown) => {
        if (this.poolPromise === opening) this.poolPromise = undefined;
        throw new ConnectorError('INVALID_CONFIG', `The undici transport cannot be used: the undici package does not load (${(err as { code?: string }).code ?? String(err)})`);
      },
    );
    this.poolPromise = opening;
    return opening;
  }
}

/** One request's handler (undici's handler API): collects the answer, settles one promise. */
class BufferedHandler implements Dispatcher.DispatchHandler, Cancel {
  readonly promise: Promise<BufferedAnswer>;
  private resolve!: (answer: BufferedAnswer) => void;
  private reject!: (err: Error) => void;
  private controller: Dispatcher.DispatchController | undefined;
  /** Set once the promise settled (answer read, failed, or cancelled): later events are ignored. */
  private done = false;
  private cancelled: Error | undefined;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes kept: the error cap for error answers (the rest dropped), the body cap for successes (past it, failure). */
  private limit: number;
  /** True for a success: going past `limit` fails the request instead of truncating the answer. */
  private failOverLimit = false;

  /** The transport's TLS error count when this request began (see tlsFailureSince). */
  private readonly tlsFailuresBefore: number;

  constructor(
    private readonly onSent: () => void,
    private readonly errorCap: number,
    private readonly bodyCap: number,
    private readonly transport: UndiciTransport,
  ) {
    this.limit = bodyCap;
    this.tlsFailuresBefore = transport.tlsFailureCount;
    this.promise = new Promise<BufferedAnswer>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  cancel(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.cancelled = err;
    this.reject(err);
    // Before the request reached a socket there is no controller yet: onRequestStart aborts it.
    this.controller?.abort(err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.cancelled) return controller.abort(this.cancelled);
    this.onSent();
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.headers = headers;
    if (statusCode < 200 || statusCode >= 300) this.limit = this.errorCap;
    else {
      this.failOverLimit = true;
      if (Number(headers['content-length']) > this.bodyCap) this.tooLarge(controller);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    if (this.failOverLimit && this.size + chunk.length > this.limit) return this.tooLarge(controller);
    if (this.size < this.limit) this.chunks.push(this.size + chunk.length > this.limit ? chunk.subarray(0, this.limit - this.size) : chunk);
    this.size += chunk.length;
  }

  /** A successful answer past the body cap: fail it and stop reading (the connection is closed). */
  private tooLarge(controller: Dispatcher.DispatchController): void {
    const err = bodyTooLarge(this.bodyCap);
    this.done = true;
    this.chunks = [];
    this.reject(err);
    controller.abort(err);
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.done = true;
    const c = this.chunks;
    // Most answers arrive in one chunk: no copy then.
    this.resolve({ status: this.status, headers: this.headers, body: c.length === 1 ? c[0]! : Buffer.concat(c) });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.done) return;
    this.done = true;
    const tls = (err as { code?: string }).code === 'UND_ERR_SOCKET' ? this.transport.tlsFailureSince(this.tlsFailuresBefore) : undefined;
    this.reject(tls ?? err);
  }
}
