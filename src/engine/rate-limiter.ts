export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * Token bucket: `burst` requests may go at once, then one every 60/rate
 * seconds. Tokens are reserved up front (the level may go negative), so
 * concurrent callers queue in arrival order instead of racing.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    ratePerMinute: number,
    private readonly burst: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.perMs = ratePerMinute / 60_000;
    this.tokens = burst;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
  }

  /** Takes a token and returns how long the caller must wait before using it (ms). */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : -this.tokens / this.perMs;
  }

  /** Gives back a reserved token (the caller gave up before using it). */
  refund(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /**
   * Waits for a token. Returns the ms waited. Throws `null`-free errors only
   * through the callback: when the wait would pass `maxWaitMs`, the token is
   * refunded and `onTooLong` decides what to throw.
   */
  async acquire(maxWaitMs: number, onTooLong: (waitMs: number) => Error, signal?: AbortSignal): Promise<number> {
    const wait = this.reserve();
    if (wait <= 0) return 0;
    if (wait > maxWaitMs) {
      this.refund();
      throw onTooLong(wait);
    }
    try {
      await this.clock.sleep(wait, signal);
    } catch (err) {
      this.refund();
      throw err;
    }
    return wait;
  }
}
