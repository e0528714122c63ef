import { ConnectorError } from '../errors.js';
import type { Logger } from '../log.js';
import { compareVersions, minVersion, MAX_API_VERSION, MIN_API_VERSION } from './version.js';

/** One API-version negotiation shared by the calls waiting for it. */
interface Negotiation {
  promise: Promise<string>;
  /** Aborts the ping once every waiter has cancelled. */
  controller: AbortController;
  waiters: number;
}

/** A call cancelled while it waited (for the API version): nothing of it was sent. */
export function cancelledBeforeSending(signal: AbortSignal, operation: string | undefined): ConnectorError {
  // As for a cancelled request: a reason that is already a ConnectorError is the answer itself.
  if (signal.reason instanceof ConnectorError) return signal.reason;
  return new ConnectorError('TIMEOUT', 'The call was cancelled', { operation });
}

/**
 * The API version of one endpoint: pinned, or negotiated once by a ping
 * (the Engine's newest version, capped at the connector's).
 */
export class VersionNegotiator {
  /** The negotiation in flight, if any (see get). */
  private negotiation: Negotiation | undefined;
  /** The negotiated version once known, so calls after the first need not wait on a promise. */
  private negotiated: string | undefined;

  constructor(
    /** The configured api_version: 'auto' or a pinned version. */
    private readonly pinned: string,
    /** Pings the Engine and returns the newest API version it announces (undefined when it says nothing). */
    private readonly ping: (signal: AbortSignal) => Promise<string | undefined>,
    private readonly logger: Logger,
  ) {}

  /** The version if it is already known (pinned, or negotiated), without waiting; else undefined. */
  known(): string | undefined {
    return this.pinned !== 'auto' ? this.pinned : this.negotiated;
  }

  /** Forgets a negotiated version: the Engine may come back as another version (upgrade, restart). */
  reset(): void {
    if (this.pinned !== 'auto') return;
    this.negotiation = undefined;
    this.negotiated = undefined;
  }

  /**
   * The API version requests use.
   * Calls that need it while a negotiation is in flight share that one ping, but each keeps its
   * own cancellation: the ping runs under a signal of its own, aborted only once every waiter
   * has cancelled (a waiter without a signal never cancels), and each waiter races its own signal.
   * Under the first caller's signal, cancelling that caller failed every other waiter too.
   */
  get(signal?: AbortSignal, operation?: string): Promise<string> {
    const known = this.known();
    if (known !== undefined) return Promise.resolve(known);
    // Cancelled already: start nothing on this caller's behalf.
    if (signal?.aborted) return Promise.reject(cancelledBeforeSending(signal, operation));
    const n = (this.negotiation ??= this.start());
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

  private start(): Negotiation {
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

  private async negotiate(signal: AbortSignal): Promise<string> {
    // An Engine that does not say is older than 1.25; we cannot serve it.
    const engineMax = (await this.ping(signal)) ?? '1.24';
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
}
