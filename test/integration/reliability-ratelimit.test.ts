/**
 * Rate limiting under concurrency, measured from the Engine's side: 200
 * calls fired at once with rate_limit 600/min (burst 10) all succeed, and
 * at no point had the Engine received more than burst + rate × elapsed.
 * The limiter lives in the connector, so one Engine ("new") is enough.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { connectorFor } from '../support/connector.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { engines } from '../support/harness.js';

const CALLS = 200;
const RATE = 600; // per minute
const BURST = 10;

const engine = engines().find((e) => e.name === 'new') ?? engines()[0]!;

describe(`rate limiting on Engine ${engine.name}`, () => {
  let proxy: FaultProxy;
  let dc: DockerConnector;

  beforeAll(async () => {
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    const host = await proxy.start();
    dc = connectorFor(engine, { host, rate_limit: RATE, rate_limit_burst: BURST, retry_attempts: 0 });
  });

  afterAll(async () => {
    dc.close();
    await proxy.close();
  });

  it(`${CALLS} concurrent calls at ${RATE}/min, burst ${BURST}: none lost, never ahead of the budget`, async () => {
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: CALLS }, () => dc.execute('get_version')));
    const elapsed = performance.now() - started;

    // None lost: every call answered, every request reached the Engine once.
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(CALLS);
    const arrivals = proxy.forwarded().map((r) => r.hr).sort((a, b) => a - b);
    expect(arrivals).toHaveLength(CALLS + 1); // + the one negotiation ping
    expect(proxy.seen.filter((r) => r.path.endsWith('/version'))).toHaveLength(CALLS);

    // Never ahead: the k-th request arrived no earlier than the budget allowed.
    const perMs = RATE / 60_000;
    const t0 = arrivals[0]!;
    let worst = -Infinity;
    arrivals.forEach((t, i) => {
      const allowed = BURST + perMs * (t - t0);
      worst = Math.max(worst, i + 1 - allowed);
    });
    // One request of slack for arrival jitter (two sent 100 ms apart may arrive closer).
    expect(worst).toBeLessThanOrEqual(1);

    // Spread at the configured rate, not slower: (201 - burst) requests at 10/s.
    const minMs = ((CALLS + 1 - BURST) / perMs) * 0.95;
    expect(elapsed).toBeGreaterThan(minMs);
    expect(elapsed).toBeLessThan(minMs / 0.95 + 3000);
    // In any 1 s window after the burst, about 10 arrive (never a clump).
    const afterBurst = arrivals.slice(BURST + 1);
    let maxInWindow = 0;
    for (let i = 0, j = 0; i < afterBurst.length; i++) {
      while (afterBurst[i]! - afterBurst[j]! >= 1000) j++;
      maxInWindow = Math.max(maxInWindow, i - j + 1);
    }
    expect(maxInWindow).toBeLessThanOrEqual(perMs * 1000 + 2);
  }, 60_000);
});
