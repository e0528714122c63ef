import { describe, expect, it } from 'vitest';
import { TokenBucket, type Clock } from '../../src/engine/rate-limiter.js';
import { backoffDelay, classifySocketError, shouldRetry } from '../../src/engine/retry.js';

/** A clock that only moves when a caller sleeps: the bucket's arithmetic without real waiting. */
function fakeClock(): Clock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

describe('TokenBucket', () => {
  it('lets the burst through, then spaces calls at the rate', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(120, 10, clock);
    const waits = Array.from({ length: 40 }, () => bucket.reserve());
    expect(waits.slice(0, 10).every((w) => w === 0)).toBe(true);
    // 120/min = one every 500 ms: the 11th waits 500 ms, the 40th (40-10)*500 ms.
    expect(waits[10]).toBeCloseTo(500);
    expect(waits[39]).toBeCloseTo(15_000);
  });

  it('40 calls at 120/min take about 20 s minus the burst', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(120, 10, clock);
    for (let i = 0; i < 40; i++) await bucket.acquire(60_000, () => new Error('too long'));
    // Sequential callers: each waits its turn; total = (40 - burst) * 0.5 s.
    expect(clock.t).toBeCloseTo(15_000, -1);
  });

  it('refills with time and never above the burst', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(60, 2, clock);
    bucket.reserve();
    bucket.reserve();
    expect(bucket.reserve()).toBeCloseTo(1000);
    clock.t += 100_000;
    expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBeCloseTo(1000);
  });

  it('refuses a wait longer than the caller can afford, and refunds the token', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(60, 1, clock);
    await bucket.acquire(0, () => new Error('x'));
    await expect(bucket.acquire(500, (w) => new Error(`wait ${Math.round(w)}`))).rejects.toThrow('wait 1000');
    // The refunded token means the next caller's wait is still 1 s, not 2 s.
    expect(bucket.reserve()).toBeCloseTo(1000);
  });
});

describe('retry policy', () => {
  it('backs off exponentially with bounded jitter', () => {
    expect(backoffDelay(1, 1, () => 0)).toBe(500);
    expect(backoffDelay(1, 1, () => 1)).toBe(1000);
    expect(backoffDelay(3, 1, () => 1)).toBe(4000);
    expect(backoffDelay(20, 1, () => 1)).toBe(30_000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, 1);
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(2000);
    }
  });

  it('retries what never reached the Engine, and the rest only when safe to repeat', () => {
    expect(shouldRetry(classifySocketError('ECONNREFUSED', false), false)).toBe(true);
    expect(shouldRetry(classifySocketError('ENOENT', false), false)).toBe(true);
    expect(shouldRetry(classifySocketError('ECONNRESET', false), false)).toBe(true);
    expect(shouldRetry(classifySocketError('ECONNRESET', true), false)).toBe(false);
    expect(shouldRetry(classifySocketError('ECONNRESET', true), true)).toBe(true);
    expect(shouldRetry('status', false)).toBe(false);
    expect(shouldRetry(classifySocketError('EWHATEVER', true), true)).toBe(false);
  });
});
