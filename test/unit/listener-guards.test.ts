import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/engine/rate-limiter.js';
import { ConnectorError } from '../../src/errors.js';
import { parseServiceSettings } from '../../src/http/settings.js';
import { parseMcpSettings } from '../../src/mcp/settings.js';
import { createHostCheck, hostnameOf, isLoopbackHost } from '../../src/access/host-check.js';
import { KeyStore } from '../../src/access/policy.js';
import { AuthFailureLimiter, clientBucketKey, KeyRateLimiter } from '../../src/access/throttle.js';

/* The checks both listeners (HTTP service, MCP over HTTP) share: Host/Origin, failed logins, per-key limits. */

class FakeClock implements Clock {
  t = 1_000;
  now() {
    return this.t;
  }
  async sleep() {}
}

describe('host check (DNS rebinding)', () => {
  const loopback = createHostCheck({ listenHost: '127.0.0.1', allowedHosts: ['Connector.Test', 'proxy.example:8443'] });

  it('takes loopback names, the listen address and allowed_hosts, ports and case aside', () => {
    for (const host of ['127.0.0.1:8080', '127.9.9.9', 'localhost:1', 'LocalHost', 'api.localhost:80', '[::1]:8080', '[::ffff:127.0.0.1]:80', 'connector.test:8080', 'proxy.example']) {
      expect(loopback(host, undefined), host).toBeUndefined();
    }
  });

  it('refuses another name, a missing or unparsable Host, naming it', () => {
    const e = loopback('attacker.example:8080', undefined);
    expect(e).toBeInstanceOf(ConnectorError);
    expect(e).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('"attacker.example:8080"') });
    expect(e!.message).toContain('allowed_hosts');
    for (const host of [undefined, '', 'a b', '10.0.0.1:8080', '127.0.0.1.attacker.example']) expect(loopback(host, undefined), String(host)).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('refuses an Origin that is not allowed, and the opaque "null" Origin; takes same-origin, loopback and allowed ones', () => {
    expect(loopback('127.0.0.1:8080', 'http://attacker.example')).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('Origin http://attacker.example') });
    expect(loopback('127.0.0.1:8080', 'null')).toMatchObject({ code: 'FORBIDDEN' });
    expect(loopback('127.0.0.1:8080', 'not a url')).toMatchObject({ code: 'FORBIDDEN' });
    for (const origin of ['http://127.0.0.1:8080', 'http://localhost:6274', 'https://connector.test', 'http://[::1]:3000']) expect(loopback('127.0.0.1:8080', origin), origin).toBeUndefined();
  });

  it('refuses the same values again after allowing others (the cache holds allowed values only)', () => {
    expect(loopback('localhost:8080', 'http://localhost:8080')).toBeUndefined();
    expect(loopback('localhost:8080', 'http://attacker.example')).toMatchObject({ code: 'FORBIDDEN' });
    expect(loopback('localhost:8080', 'http://attacker.example')).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('on a named or specific listen address takes that name; on a wildcard any IP literal but no unlisted name', () => {
    const named = createHostCheck({ listenHost: 'docker-gw.internal', allowedHosts: [] });
    expect(named('docker-gw.internal:8080', undefined)).toBeUndefined();
    expect(named('10.1.2.3:8080', undefined)).toMatchObject({ code: 'FORBIDDEN' });
    const lan = createHostCheck({ listenHost: '192.168.1.5', allowedHosts: [] });
    expect(lan('192.168.1.5:8080', 'http://192.168.1.5:8080')).toBeUndefined();
    expect(lan('192.168.1.6:8080', undefined)).toMatchObject({ code: 'FORBIDDEN' });
    const any = createHostCheck({ listenHost: '0.0.0.0', allowedHosts: ['gw.example'] });
    expect(any('10.1.2.3:8080', undefined)).toBeUndefined();
    expect(any('[2001:db8::1]:8080', undefined)).toBeUndefined();
    expect(any('gw.example', undefined)).toBeUndefined();
    expect(any('attacker.example:8080', undefined)).toMatchObject({ code: 'FORBIDDEN' });
    // Another machine's page on the LAN is not this service's origin.
    expect(any('10.1.2.3:8080', 'http://10.9.9.9')).toMatchObject({ code: 'FORBIDDEN' });
    expect(any('10.1.2.3:8080', 'http://10.1.2.3:8080')).toBeUndefined();
  });

  it('parses hostnames and loopback addresses', () => {
    expect(hostnameOf('[::1]:80')).toBe('::1');
    expect(hostnameOf('Example.COM:443')).toBe('example.com');
    expect(hostnameOf('https://a.example')).toBe('a.example');
    expect(hostnameOf('')).toBeUndefined();
    expect(['127.0.0.1', '127.255.0.1', '::1', 'localhost', 'x.localhost', '::ffff:7f00:1'].every(isLoopbackHost)).toBe(true);
    expect(['128.0.0.1', '::2', 'localhost.example', '10.0.0.1', '0.0.0.0'].some(isLoopbackHost)).toBe(false);
  });
});

describe('failed authentications per client address', () => {
  const keys = new KeyStore([{ id: 'admin', key: 'right-key-0123456789abcdef', scopes: ['admin'] }]);

  it('allows `perMinute` wrong keys, then refuses with RATE_LIMITED and a wait, even the right key; recovers over time', () => {
    const clock = new FakeClock();
    const limiter = new AuthFailureLimiter(3, clock);
    for (let i = 0; i < 3; i++) expect(() => limiter.authenticate(keys, `Bearer wrong-${i}-0123456789`, '10.0.0.1')).toThrow(/Unknown API key/);
    let err: ConnectorError | undefined;
    try {
      limiter.authenticate(keys, 'Bearer right-key-0123456789abcdef', '10.0.0.1');
    } catch (e) {
      err = e as ConnectorError;
    }
    expect(err).toMatchObject({ code: 'RATE_LIMITED', retryable: true, details: { retry_after_seconds: 20 } });
    // Another address is not affected.
    expect(limiter.authenticate(keys, 'Bearer right-key-0123456789abcdef', '10.0.0.2').id).toBe('admin');
    // One failure is forgiven every 60/3 = 20 s.
    clock.t += 20_000;
    expect(limiter.authenticate(keys, 'Bearer right-key-0123456789abcdef', '10.0.0.1').id).toBe('admin');
  });

  it('does not count a request without credentials, nor refuse anything when off', () => {
    const limiter = new AuthFailureLimiter(1, new FakeClock());
    for (let i = 0; i < 5; i++) expect(() => limiter.authenticate(keys, undefined, '10.0.0.1')).toThrow(/Missing API key/);
    expect(() => limiter.authenticate(keys, 'Bearer wrong-0123456789', '10.0.0.1')).toThrow(/Unknown API key/);
    expect(() => limiter.authenticate(keys, 'Bearer wrong-0123456789', '10.0.0.1')).toThrow(/Too many failed authentications/);
    const off = new AuthFailureLimiter(0, new FakeClock());
    for (let i = 0; i < 50; i++) expect(() => off.authenticate(keys, 'Bearer wrong-0123456789', '10.0.0.1')).toThrow(/Unknown API key/);
  });

  it('counts an IPv6 client by its /64, an IPv4-mapped one as IPv4', () => {
    expect(clientBucketKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientBucketKey('2001:db8:1:2:ffff:eeee:dddd:1')).toBe('2001:db8:1:2::/64');
    expect(clientBucketKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientBucketKey('::1')).toBe('0:0:0:0::/64');
    expect(clientBucketKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(clientBucketKey('10.0.0.1')).toBe('10.0.0.1');
    const limiter = new AuthFailureLimiter(1, new FakeClock());
    expect(() => limiter.authenticate(keys, 'Bearer wrong-0123456789', '2001:db8:1:2::1')).toThrow(/Unknown API key/);
    expect(() => limiter.authenticate(keys, 'Bearer wrong-0123456789', '2001:db8:1:2::2')).toThrow(/Too many failed authentications/);
  });
});

describe('per-key rate limit', () => {
  it('allows the burst, then refuses with the wait; keys are independent; 0 is off', () => {
    const clock = new FakeClock();
    const limiter = new KeyRateLimiter(60, 2, clock);
    limiter.take('a');
    limiter.take('a');
    expect(() => limiter.take('a')).toThrow(expect.objectContaining({ code: 'RATE_LIMITED', message: expect.stringContaining('"a"'), details: { retry_after_seconds: 1 } }));
    limiter.take('b');
    clock.t += 1000;
    limiter.take('a');
    const off = new KeyRateLimiter(0, 1, clock);
    for (let i = 0; i < 10; i++) off.take('a');
  });
});

describe('listener settings', () => {
  it('service and mcp sections take allowed_hosts and the limits, with the same defaults', () => {
    const service = parseServiceSettings({ allowed_hosts: ['a.example'] });
    const mcp = parseMcpSettings({ allowed_hosts: ['a.example'] });
    for (const s of [service, mcp]) expect(s).toMatchObject({ allowed_hosts: ['a.example'], auth_failures_per_minute: 30, rate_limit: 600, rate_limit_burst: 60 });
    expect(() => parseServiceSettings({ allowed_hosts: 'a.example' })).toThrow(/service\.allowed_hosts/);
    expect(() => parseMcpSettings({ auth_failures_per_minute: -1 })).toThrow(/mcp\.auth_failures_per_minute/);
  });
});
