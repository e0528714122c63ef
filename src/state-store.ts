/**
 * The state several replicas of the service (or of the MCP server over
 * HTTP) share (issue 17 §4): a Redis named by the `state_store` setting.
 * Rate-limit buckets and failed-auth counters (access/throttle.ts),
 * --confirm-destructive dry runs (mcp/confirm.ts) and destructive-call plans
 * (plans.ts) keep their entries here when it is set.
 *
 * One client per process per URL. ioredis is imported only when a store is
 * opened, so a run without state_store never loads it. The client fails
 * fast: no offline queue (a command while disconnected is refused at once),
 * a bounded connect and command timeout, and it reconnects in the
 * background; so a lost Redis costs a caller about a second at most, never
 * a hang, and the callers decide whether to fail closed (confirmations,
 * plans) or fall back to this process's memory (limits).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Redis, RedisOptions } from 'ioredis';
import { isPemText, type ConnectorConfig } from './config/schema.js';
import { ConnectorError } from './errors.js';

export type StateStoreSettings = Pick<ConnectorConfig, 'state_store' | 'state_store_ca_cert'>;

export interface StateStoreStatus {
  kind: 'redis';
  /** The URL without its password. */
  address: string;
  reachable: boolean;
  /** Why it is not reachable (the client's last error). */
  error?: string;
}

/** Every key this connector writes starts with this. */
export const KEY_PREFIX = 'docker-connector:';

/** How long connecting, or one command, may take before the store counts as lost. */
const CONNECT_TIMEOUT_MS = 1000;
const COMMAND_TIMEOUT_MS = 1000;
/** Reconnect attempts back off up to this. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** `redis://host:port/db` with any user name and password left out. */
export function stateStoreAddress(url: string): string {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '') || '0';
  return `${u.protocol}//${u.host}/${db}`;
}

/** ioredis settings for a state_store URL (exported for unit tests). */
export function redisOptions(settings: StateStoreSettings): RedisOptions {
  const url = settings.state_store;
  if (!url) throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: state_store is not set');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // The URL may hold a password: it is not repeated.
    throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: state_store is not a URL (expected redis://[:password@]host:port/db)');
  }
  const tls = u.protocol === 'rediss:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const db = Number(u.pathname.replace(/^\//, '') || '0');
  const ca = settings.state_store_ca_cert;
  return {
    host,
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    // SNI takes names only; an address is checked against the certificate's IP entries.
    ...(tls ? { tls: { ...(isIP(host) ? {} : { servername: host }), ...(ca ? { ca: isPemText(ca) ? ca : readCa(ca) } : {}) } } : {}),
    enableOfflineQueue: false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, MAX_RECONNECT_DELAY_MS),
    // Nothing is subscribed; a ready check per connection is enough.
    autoResubscribe: false,
    lazyConnect: true,
  };
}

function readCa(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: cannot read state_store_ca_cert ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export class StateStore {
  private lastError: string | undefined;
  /** Commands waiting for an answer: the socket keeps the process alive only while there are some. */
  private busy = 0;

  private constructor(
    readonly address: string,
    readonly client: Redis,
  ) {
    client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    client.on('ready', () => {
      this.lastError = undefined;
      this.idle();
    });
    // A CLI command that used the store must be able to exit: the socket and the reconnect timer do not hold it.
    client.on('reconnecting', () => (client as unknown as { reconnectTimeout?: NodeJS.Timeout }).reconnectTimeout?.unref?.());
  }

  /** Connects (waiting at most about CONNECT_TIMEOUT_MS); a store that cannot be reached yet is returned all the same and keeps trying. */
  static async open(settings: StateStoreSettings): Promise<StateStore> {
    const options = redisOptions(settings);
    const { Redis } = await import('ioredis');
    const store = new StateStore(stateStoreAddress(settings.state_store!), new Redis(options));
    await store.client.connect().catch(() => {});
    store.idle();
    return store;
  }

  get reachable(): boolean {
    return this.client.status === 'ready';
  }

  status(): StateStoreStatus {
    const reachable = this.reachable;
    return { kind: 'redis', address: this.address, reachable, ...(reachable ? {} : { error: this.lastError ?? `not connected (${this.client.status})` }) };
  }

  /** Asks Redis (PING), so the answer is current, not the last known state. */
  async check(): Promise<StateStoreStatus> {
    try {
      await this.run(() => this.client.ping());
    } catch {
      // status() says why
    }
    return this.status();
  }

  /** UNAVAILABLE naming the store, for callers that fail closed. */
  unavailable(what: string, err?: unknown): ConnectorError {
    const why = this.lastError ?? (err instanceof Error ? err.message : undefined) ?? 'not connected';
    return new ConnectorError('UNAVAILABLE', `The state store ${this.address} is unreachable (${why}): ${what}`, { retryable: true, details: { state_store: this.address } });
  }

  /** Runs commands, holding the process open until they answer. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.busy += 1;
    this.stream()?.ref();
    try {
      return await work();
    } finally {
      this.busy -= 1;
      this.idle();
    }
  }

  close(): void {
    this.client.disconnect();
  }

  private stream(): { ref(): void; unref(): void } | undefined {
    return (this.client as unknown as { stream?: { ref(): void; unref(): void } }).stream;
  }

  private idle(): void {
    if (this.busy === 0) this.stream()?.unref();
  }
}

const stores = new Map<string, Promise<StateStore>>();

/** The process's store for these settings (one client per URL and CA), or undefined when state_store is not set. */
export function openStateStore(settings: StateStoreSettings): Promise<StateStore> | undefined {
  if (!settings.state_store) return undefined;
  const id = `${settings.state_store}\n${settings.state_store_ca_cert ?? ''}`;
  let store = stores.get(id);
  if (!store) {
    store = StateStore.open(settings);
    stores.set(id, store);
    // A broken setting is reported to every caller, and may be fixed for a later one.
    store.catch(() => stores.delete(id));
  }
  return store;
}

/** The settings' store, for a caller that needs it now: a setting that cannot be used is a configuration error, not a lost store. */
export function stateStoreSettingsOf(config: Partial<StateStoreSettings>): StateStoreSettings | undefined {
  return config.state_store ? { state_store: config.state_store, state_store_ca_cert: config.state_store_ca_cert } : undefined;
}
