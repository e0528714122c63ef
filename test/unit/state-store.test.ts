import { describe, expect, it } from 'vitest';
import { redact, redactUrlPassword, secretValues } from '../../src/config/redact.js';
import { configSchema } from '../../src/config/schema.js';
import { windowFor } from '../../src/access/throttle.js';
import { FilePlanStore, planStoreFor, RedisPlanStore } from '../../src/plans.js';
import { redisOptions, stateStoreAddress } from '../../src/state-store.js';

describe('state_store setting', () => {
  it('takes redis:// and rediss:// URLs, and refuses anything else without repeating the value', () => {
    for (const url of ['redis://127.0.0.1:6379/0', 'rediss://:pw@redis.example:6380/2', 'redis://user:pw@[::1]:6379', 'redis://h:1/'])
      expect(configSchema.safeParse({ state_store: url }).success, url).toBe(true);
    for (const url of ['http://h:6379/0', 'redis://h:6379/0?x=1', 'redis://h:6379/db', 'redis:///x']) {
      const r = configSchema.safeParse({ state_store: url });
      expect(r.success, url).toBe(false);
      expect(JSON.stringify(r.error?.issues)).not.toContain(url);
    }
  });

  it('its password is redacted wherever the configuration is printed or logged, and scrubbed from text', () => {
    const url = 'redis://:s3cr%40t-pass@redis.internal:6380/3';
    expect(redact({ state_store: url })).toEqual({ state_store: 'redis://:[REDACTED]@redis.internal:6380/3' });
    expect(redactUrlPassword('rediss://ops:pw-123456@h:1/0 and redis://h:2/0')).toBe('rediss://ops:[REDACTED]@h:1/0 and redis://h:2/0');
    expect(secretValues({ state_store: url })).toEqual(expect.arrayContaining(['s3cr%40t-pass', 's3cr@t-pass']));
    expect(stateStoreAddress(url)).toBe('redis://redis.internal:6380/3');
    expect(stateStoreAddress('rediss://u:p@h:1')).toBe('rediss://h:1/0');
  });
});

describe('the Redis client settings', () => {
  it('fail fast (no offline queue, bounded connect and command time) and reconnect in the background', () => {
    const o = redisOptions({ state_store: 'redis://:p%2Fw@10.0.0.5:6390/4' });
    expect(o).toMatchObject({ host: '10.0.0.5', port: 6390, db: 4, password: 'p/w', enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    expect(o.connectTimeout).toBeLessThanOrEqual(1000);
    expect(o.commandTimeout).toBeLessThanOrEqual(1000);
    expect(o.tls).toBeUndefined();
    expect(o.retryStrategy!(1)).toBeGreaterThan(0);
    expect(o.retryStrategy!(1000)).toBeLessThanOrEqual(1000);
  });

  it('rediss:// is TLS; a host name is sent as SNI, an address is not; a CA path that cannot be read is a configuration error', () => {
    expect(redisOptions({ state_store: 'rediss://redis.example:6380/0' }).tls).toEqual({ servername: 'redis.example' });
    expect(redisOptions({ state_store: 'rediss://127.0.0.1:6380/0' }).tls).toEqual({});
    expect(() => redisOptions({ state_store: 'rediss://h:1/0', state_store_ca_cert: '/nonexistent/ca.pem' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(/state_store_ca_cert/) }));
  });
});

describe('plans with a state store', () => {
  it('planStoreFor keeps plans in Redis when state_store is set, in files otherwise', () => {
    expect(planStoreFor({ state_store: 'redis://127.0.0.1:1/0' }, {})).toBeInstanceOf(RedisPlanStore);
    expect(planStoreFor({ plans_dir: '/tmp/x' }, {})).toBeInstanceOf(FilePlanStore);
  });
});

describe('shared rate-limit windows', () => {
  it('keep the average rate, allow the burst at once, and let at most rate + burst through in any minute', () => {
    expect(windowFor(60, 10)).toEqual({ points: 10, seconds: 10 });
    expect(windowFor(6, 3)).toEqual({ points: 3, seconds: 30 });
    expect(windowFor(6000, 10)).toEqual({ points: 100, seconds: 1 });
    for (const [rate, burst] of [[60, 10], [6, 3], [1, 1], [0.5, 2], [6000, 10], [1000, 7]] as const) {
      const { points, seconds } = windowFor(rate, burst);
      expect(Number.isInteger(seconds) && seconds >= 1).toBe(true);
      expect(points).toBeGreaterThanOrEqual(burst);
      // Windows touched by any 60 s span, times their points.
      const worst = (Math.ceil(60 / seconds) + 1) * points;
      expect(worst, `${rate}/${burst}`).toBeLessThanOrEqual(rate + 2 * points + points);
      expect((points * 60) / seconds).toBeLessThanOrEqual(rate + points);
    }
  });
});
