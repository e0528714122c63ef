import { isIP } from 'node:net';
import { systemClock, TokenBucket, type Clock } from '../engine/rate-limiter.js';
import { ConnectorError } from '../errors.js';
import { KEY_PREFIX, type StateStore } from '../state-store.js';
import type { KeyStore, Principal } from './policy.js';

/**
 * The limits the listeners (the HTTP service, the MCP server over HTTP)
 * share: requests per API key, and failed authentications per client
 * address. Both are token buckets (engine/rate-limiter.ts).
 */

function rateLimited(message: string, waitMs: number): ConnectorError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new ConnectorError('RATE_LIMITED', message.replace('{s}', String(seconds)), { retryable: true, details: { retry_after_seconds: seconds } });
}

/** Requests per minute per API key (the anonymous caller of a listener without keys counts as one key). */
export class KeyRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Takes a request from the key's allowance, or throws RATE_LIMITED saying how long to wait. */
  take(keyId: string): void {
    if (this.perMinute <= 0) return;
    let bucket = this.buckets.get(keyId);
    if (!bucket) this.buckets.set(keyId, (bucket = new TokenBucket(this.perMinute, this.burst, this.clock)));
    const wait = bucket.reserve();
    if (wait > 0) {
      bucket.refund();
      throw rateLimited(`Rate limit of ${this.perMinute} requests/min for API key "${keyId}" reached; retry in {s} s`, wait);
    }
  }
}

/** Past this many client addresses, those with nothing held against them are forgotten. */
const MAX_TRACKED = 10_000;

/**
 * The address failures are counted under: an IPv4 address as is, an IPv6
 * one by its /64 (one host commonly has a whole /64 to pick from).
 */
export function clientBucketKey(address: string): string {
  const a = address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  if (isIP(a) !== 6) return a;
  const [head = '', tail = ''] = a.toLowerCase().split('%')[0]!.split('::') as [string?, string?];
  const left = head ? head.split(':') : [];
  const right = a.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = a.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Failed authentications per client address: `perMinute` at once, then one
 * every 60/perMinute seconds. A client over the limit is refused (429)
 * before its key is looked at, even a right one: otherwise it could go on
 * guessing and tell a right key from the answer. Only requests that present
 * a key count: one without any guesses nothing.
 */
export class AuthFailureLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; last: number }>();
  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Throws RATE_LIMITED when `client` has used up its failures. */
  check(client: string | null | undefined): void {
    // Nothing held against anyone (the usual case): no address parsing per request.
    if (this.perMinute <= 0 || !client || this.buckets.size === 0) return;
    const entry = this.buckets.get(clientBucketKey(client));
    if (!entry) return;
    const wait = entry.bucket.reserve();
    entry.bucket.refund();
    if (wait > 0) throw rateLimited(`Too many failed authentications from this address (limit ${this.perMinute}/min); retry in {s} s`, wait);
  }

  /** Counts one failed authentication of `client`. */
  fail(client: string | null | undefined): void {
    if (this.perMinute <= 0 || !client) return;
    const key = clientBucketKey(client);
    let entry = this.buckets.get(key);
    if (!entry) {
      if (this.buckets.size >= MAX_TRACKED) this.forget();
      this.buckets.set(key, (entry = { bucket: new TokenBucket(this.perMinute, this.perMinute, this.clock), last: 0 }));
    }
    entry.bucket.reserve();
    entry.last = this.clock.now();
  }

  /**
   * Authenticates `authorization` for `client`: refused with 429 over the
   * limit; a refused key (not a missing one) counts as a failure.
   */
  authenticate(keys: KeyStore, authorization: string | undefined, client: string | null | undefined): Principal {
    this.check(client);
    try {
      return keys.authenticate(authorization);
    } catch (err) {
      if (authorization) this.fail(client);
      throw err;
    }
  }

  private forget(): void {
    // A bucket holds one minute's failures: a minute after its last one it is full again.
    const full = this.clock.now() - 60_000;
    for (const [k, e] of this.buckets) if (e.last <= full) this.buckets.delete(k);
    // Still full (failures from very many addresses at once): drop the oldest.
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < MAX_TRACKED) break;
      this.buckets.delete(k);
    }
  }
}

/* ---------------- shared by replicas (state_store) ---------------- */

/**
 * A window limiter's shape for a token bucket of `perMinute` with `burst`:
 * `points` requests per `seconds` window, the same average rate, at most
 * `burst` at once (more when a second's worth exceeds it). Over any minute
 * that lets through at most perMinute + points, like the bucket's
 * perMinute + burst. Windows are whole seconds (Redis EX).
 */
export function windowFor(perMinute: number, burst: number): { points: number; seconds: number } {
  const seconds = Math.max(1, Math.ceil((60 * burst) / perMinute));
  return { points: Math.max(burst, Math.floor((perMinute * seconds) / 60)), seconds };
}

interface Limiter {
  consume(key: string, points?: number): Promise<{ msBeforeNext: number; consumedPoints: number }>;
  get(key: string): Promise<{ msBeforeNext: number; consumedPoints: number } | null>;
}

/** A refusal of rate-limiter-flexible (over the limit), as opposed to an error of the store. */
function overLimit(err: unknown): err is { msBeforeNext: number } {
  return typeof err === 'object' && err !== null && !(err instanceof Error) && typeof (err as { msBeforeNext?: unknown }).msBeforeNext === 'number';
}

/**
 * The per-key rate limit and the failed-auth counters in the state store, so
 * replicas behind one load balancer hold one limit together. Built on
 * rate-limiter-flexible (loaded only here). While the store is lost each
 * replica falls back to its own in-memory limiter (the insurance limiter):
 * limits keep holding per replica, and /v1/health says so.
 */
export class SharedLimiters {
  private constructor(
    private readonly store: StateStore,
    private readonly perMinute: number,
    private readonly authPerMinute: number,
    private readonly requests: Limiter | undefined,
    private readonly failures: Limiter | undefined,
  ) {}

  static async create(store: StateStore, o: { prefix: string; perMinute: number; burst: number; authFailuresPerMinute: number }): Promise<SharedLimiters> {
    const { RateLimiterRedis, RateLimiterMemory } = await import('rate-limiter-flexible');
    const make = (name: string, points: number, seconds: number): Limiter => {
      const keyPrefix = `${KEY_PREFIX}${o.prefix}:${name}`;
      return new RateLimiterRedis({
        storeClient: store.client,
        keyPrefix,
        points,
        duration: seconds,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: seconds }),
      }) as unknown as Limiter;
    };
    const w = o.perMinute > 0 ? windowFor(o.perMinute, o.burst) : undefined;
    return new SharedLimiters(
      store,
      o.perMinute,
      o.authFailuresPerMinute,
      w ? make('requests', w.points, w.seconds) : undefined,
      o.authFailuresPerMinute > 0 ? make('auth-failures', o.authFailuresPerMinute, 60) : undefined,
    );
  }

  /** Whether the limits hold only per replica now (the store is lost). */
  get degraded(): boolean {
    return !this.store.reachable;
  }

  /** Takes a request from the key's allowance, or throws RATE_LIMITED saying how long to wait. */
  async take(keyId: string): Promise<void> {
    if (!this.requests) return;
    try {
      await this.requests.consume(keyId);
    } catch (err) {
      if (overLimit(err)) throw rateLimited(`Rate limit of ${this.perMinute} requests/min for API key "${keyId}" reached; retry in {s} s`, err.msBeforeNext);
      // Neither Redis nor the insurance limiter answered: keep serving.
    }
  }

  /** Authenticates as AuthFailureLimiter.authenticate does, with the counters shared. */
  async authenticate(keys: KeyStore, authorization: string | undefined, client: string | null | undefined): Promise<Principal> {
    const key = this.failures && client ? clientBucketKey(client) : undefined;
    if (key) {
      const used = await this.failures!.get(key).catch(() => null);
      if (used && used.consumedPoints >= this.authPerMinute) {
        throw rateLimited(`Too many failed authentications from this address (limit ${this.authPerMinute}/min); retry in {s} s`, used.msBeforeNext);
      }
    }
    try {
      return keys.authenticate(authorization);
    } catch (err) {
      if (authorization && key) await this.failures!.consume(key).catch(() => {});
      throw err;
    }
  }
}
