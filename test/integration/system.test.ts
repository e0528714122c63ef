import { afterAll, describe, expect, it } from 'vitest';
import { connectorFor, uniqueName } from '../support/connector.js';
import { engines, harness } from '../support/harness.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { failure } from '../support/expect-error.js';


describe.each(engines())('system operations on Engine $name ($version, API $apiVersion)', (engine) => {
  const c = connectorFor(engine);
  afterAll(() => c.close());

  it('get_version reports the Engine version and API version', async () => {
    const v = (await c.execute('get_version')) as { Version: string; ApiVersion: string };
    expect(v.Version).toBe(engine.version);
    expect(v.ApiVersion).toBe(engine.apiVersion);
  });

  it('negotiates the API version and reports it in health', async () => {
    const h = await c.health();
    expect(h).toMatchObject({ reachable: true, api_version: engine.apiVersion, engine_api_version: engine.apiVersion, engine_version: engine.version });
    expect(h.latency_ms).toBeGreaterThan(0);
  });

  it('ping and get_info answer', async () => {
    expect(await c.execute('ping')).toMatchObject({ ok: true, api_version: engine.apiVersion, os_type: 'linux' });
    const info = (await c.execute('get_info')) as { ServerVersion: string; NCPU: number };
    expect(info.ServerVersion).toBe(engine.version);
    expect(info.NCPU).toBeGreaterThan(0);
  });

  it('system_df reports images, containers and volumes', async () => {
    const df = (await c.execute('system_df', {})) as { Images?: unknown[]; LayersSize?: number };
    expect(Array.isArray(df.Images)).toBe(true);
    expect((df.Images ?? []).length).toBeGreaterThan(0);
  });

  it('system_events with since=1m returns the events the test caused, and returns', async () => {
    const name = uniqueName('dct-ev');
    await c.engine.json({ method: 'POST', path: '/volumes/create', body: { Name: name }, idempotent: false });
    await c.engine.json({ method: 'DELETE', path: `/volumes/${name}` });
    const started = Date.now();
    // The Engine publishes an event a moment after the call that caused it
    // returns: a window reaching 2 s into the future holds it for certain
    // (and shows a future `until` is waited for, then returns).
    const r = (await c.execute('system_events', { since: '1m', until: started / 1000 + 2, filters: { type: ['volume'], volume: [name] } })) as {
      events: { Action: string; Actor: { ID: string } }[];
      count: number;
      truncated: boolean;
    };
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.events.map((e) => e.Action)).toEqual(expect.arrayContaining(['create', 'destroy']));
    expect(r.events.every((e) => e.Actor.ID === name)).toBe(true);
    expect(r.truncated).toBe(false);
  });

  it('system_events stops at max_events', async () => {
    const name = uniqueName('dct-ev');
    await c.engine.json({ method: 'POST', path: '/volumes/create', body: { Name: name }, idempotent: false });
    await c.engine.json({ method: 'DELETE', path: `/volumes/${name}` });
    const r = (await c.execute('system_events', { since: '1m', filters: { volume: [name] }, max_events: 1 })) as { count: number; truncated: boolean };
    expect(r).toMatchObject({ count: 1, truncated: true });
  });

  it('rejects bad parameters before any request, naming them', async () => {
    const e1 = await failure(c.execute('system_events', { since: 'last tuesday' } as never));
    expect(e1.code).toBe('INVALID_PARAMS');
    expect(e1.message).toMatch(/since/);
    const e2 = await failure(c.execute('get_version', { verbose: true } as never));
    expect(e2.code).toBe('INVALID_PARAMS');
    expect(e2.message).toMatch(/verbose/);
    const e3 = await failure(c.execute('no_such_operation' as never));
    expect(e3.code).toBe('UNKNOWN_OPERATION');
  });

  it('a pinned version the Engine refuses gives API_VERSION_UNSUPPORTED naming both versions', async () => {
    const pinnedNew = connectorFor(engine, { api_version: '1.99' });
    const tooNew = await failure(pinnedNew.execute('get_version'));
    pinnedNew.close();
    expect(tooNew.code).toBe('API_VERSION_UNSUPPORTED');
    expect(tooNew.message).toContain('1.99');
    expect(tooNew.message).toContain(engine.apiVersion);

    const pinnedOld = connectorFor(engine, { api_version: '1.11' });
    const tooOld = await failure(pinnedOld.execute('get_info'));
    pinnedOld.close();
    expect(tooOld.code).toBe('API_VERSION_UNSUPPORTED');
    expect(tooOld.message).toMatch(/1\.11 is too old/);
    expect(tooOld.message).toMatch(/minimum is 1\.\d+/);
  });

  it('sends every request to a versioned path; a pinned version is used as is', async () => {
    const sock = engine.host.replace('unix://', '');
    const proxy = new FaultProxy(sock);
    const host = await proxy.start();
    try {
      const auto = connectorFor(engine, { host });
      await auto.execute('get_version');
      await auto.execute('get_info');
      auto.close();
      const pinned = connectorFor(engine, { host, api_version: '1.41' });
      await pinned.execute('get_version');
      pinned.close();
      const paths = proxy.seen.map((r) => r.path);
      expect(paths).toEqual(['/_ping', `/v${engine.apiVersion}/version`, `/v${engine.apiVersion}/info`, '/v1.41/version']);
    } finally {
      await proxy.close();
    }
  });
});

describe('the two Engines differ as expected', () => {
  it('covers API 1.41 and 1.51', () => {
    const versions = harness().engines.map((e) => e.apiVersion).sort();
    expect(versions).toEqual(['1.41', '1.51']);
  });
});
