/**
 * Timeouts hold: a stalled Engine gives TIMEOUT within the configured time
 * (plus a small margin) for plain calls, the idle timeout for streams, and
 * nothing hangs, the CLI included. The pool recovers afterwards.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, type DockerConnector } from 'docker-connector';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { runCli, type CliRun } from '../support/cli.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { engines, harness } from '../support/harness.js';

const LABELS = { [TEST_LABEL]: uniqueName('reliability-timeouts') };
/** Margin over a timeout for timers, scheduling and a loaded 2-core machine. */
const MARGIN_MS = 900;

async function timed(p: Promise<unknown>): Promise<{ err: ConnectorError; ms: number }> {
  const started = performance.now();
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    return { err: err as ConnectorError, ms: performance.now() - started };
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** The real CLI, killed after 15 s (a hang is the failure these tests look for). */
const cli = (args: string[]): Promise<CliRun> => runCli(args, {}, 15_000);

describe.each(engines())('timeouts on Engine $name (through a stalling proxy)', (engine) => {
  let proxy: FaultProxy;
  let host: string;
  let dc: DockerConnector; // timeout 1 s, retries on
  let direct: DockerConnector;
  const tmp = mkdtempSync(join(tmpdir(), 'dc-rel-timeouts-'));
  let container: string;

  beforeAll(async () => {
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    host = await proxy.start();
    dc = connectorFor(engine, { host, timeout: 1, retry_attempts: 2, retry_delay: 0.02 });
    direct = connectorFor(engine);
    // A container that prints a line a second, for log streams.
    container = uniqueName('dct-rel-timeouts');
    await direct.execute('create_container', { image: harness().image, name: container, command: ['sh', '-c', 'while true; do echo tick; sleep 1; done'], labels: LABELS });
    await direct.execute('start_container', { container });
    await direct.execute('ping'); // negotiated before any stall
    await dc.execute('ping');
  });

  afterAll(async () => {
    await direct.execute('remove_container', { container, force: true }).catch(() => undefined);
    dc.close();
    direct.close();
    await proxy.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a stalled plain read fails with TIMEOUT between 1 s and 1 s + margin, and is not retried into a longer wait', async () => {
    proxy.clear();
    proxy.add({ match: (_m, p) => p.endsWith('/version'), action: 'stall', times: 5 });
    const { err, ms } = await timed(dc.execute('get_version'));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/did not answer within 1s/);
    expect(ms).toBeGreaterThanOrEqual(990);
    expect(ms).toBeLessThan(1000 + MARGIN_MS);
    expect(proxy.seen.filter((r) => r.path.endsWith('/version'))).toHaveLength(1);
  });

  it('a stalled write fails with TIMEOUT and says its outcome is unknown', async () => {
    proxy.clear();
    proxy.add({ match: (m, p) => m === 'POST' && p.includes('/containers/create'), action: 'stall' });
    const { err, ms } = await timed(dc.execute('create_container', { image: harness().image, name: uniqueName('dct-rel-never'), labels: LABELS }));
    expect(err).toMatchObject({ code: 'TIMEOUT', outcomeUnknown: true });
    expect(err.message).toMatch(/outcome is unknown/);
    expect(ms).toBeLessThan(1000 + MARGIN_MS);
  });

  it('a call whose Engine answers headers and then goes silent fails with the timeout too', async () => {
    proxy.clear();
    proxy.add({ match: (m, p) => m === 'GET' && /\/containers\/json/.test(p), action: 'stall-mid-response', afterBodyBytes: 1 });
    const { err, ms } = await timed(dc.execute('list_containers', { all: true }));
    expect(err.code).toBe('TIMEOUT');
    expect(ms).toBeLessThan(1000 + MARGIN_MS);
  });

  it('system_events against a stalled Engine: TIMEOUT after the idle timeout', async () => {
    proxy.clear();
    proxy.add({ match: (_m, p) => p.includes('/events'), action: 'stall' });
    const { err, ms } = await timed(dc.execute('system_events', { since: '1m' }));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/idle timeout/);
    expect(ms).toBeGreaterThanOrEqual(990);
    expect(ms).toBeLessThan(1000 + MARGIN_MS);
  });

  it('system_events whose stream goes silent midway: TIMEOUT after the idle timeout', async () => {
    proxy.clear();
    // A future `until` keeps the stream open; the proxy passes the headers and nothing more.
    proxy.add({ match: (_m, p) => p.includes('/events'), action: 'stall-mid-response', afterBodyBytes: 0 });
    const { err, ms } = await timed(dc.execute('system_events', { since: '1m', until: String(Date.now() / 1000 + 2) }));
    expect(err.code).toBe('TIMEOUT');
    // The idle allowance is the wait until `until` (2 s) plus the timeout (1 s).
    expect(ms).toBeLessThan(3000 + MARGIN_MS);
  });

  it('container_logs with follow_for against a stalled Engine: TIMEOUT after follow_for + timeout', async () => {
    proxy.clear();
    proxy.add({ match: (_m, p) => p.includes('/logs'), action: 'stall' });
    const { err, ms } = await timed(dc.execute('container_logs', { container, follow_for: 1 }));
    expect(err.code).toBe('TIMEOUT');
    expect(ms).toBeGreaterThanOrEqual(1990);
    expect(ms).toBeLessThan(2000 + MARGIN_MS);
  });

  it('container_logs with follow_for whose stream goes silent returns at the end of the follow window', async () => {
    proxy.clear();
    proxy.add({ match: (_m, p) => p.includes('/logs'), action: 'stall-mid-response', afterBodyBytes: 0 });
    const started = performance.now();
    const logs = (await dc.execute('container_logs', { container, follow_for: 1.5, tail: 0 })) as { stdout: string };
    const ms = performance.now() - started;
    expect(logs.stdout).toBe('');
    expect(ms).toBeGreaterThanOrEqual(1490);
    expect(ms).toBeLessThan(1500 + MARGIN_MS);
  });

  it('a stream that keeps flowing is not cut by the timeout: save_images trickled over > 1 s succeeds', async () => {
    proxy.clear();
    proxy.add({ match: (_m, p) => p.includes('/images/get'), action: 'trickle', trickleBytes: 64 * 1024, trickleMs: 40 });
    const started = performance.now();
    const saved = (await dc.execute('save_images', { images: [harness().image], path: join(tmp, 'trickled.tar') })) as { bytes: number; sha256: string };
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThan(1000); // longer than the timeout…
    const again = (await direct.execute('save_images', { images: [harness().image], path: join(tmp, 'direct.tar') })) as { bytes: number; sha256: string };
    // …and complete: as long as a direct save (Engine 28 stamps times into the tar, so sizes, not hashes, compare),
    // and the file on disk is what the connector hashed.
    expect(saved.bytes).toBe(again.bytes);
    expect(createHash('sha256').update(readFileSync(join(tmp, 'trickled.tar'))).digest('hex')).toBe(saved.sha256);
    expect(readdirSync(tmp).sort()).toEqual(['direct.tar', 'trickled.tar']);
  });

  it('the CLI exits 1 with TIMEOUT within a few seconds against a stalled Engine (--timeout 1)', async () => {
    proxy.clear();
    proxy.add({ match: (_m, p) => p.includes('/_ping') || p.endsWith('/version'), action: 'stall', times: 10 });
    const r = await cli(['run', 'get_version', '--host', host, '--timeout', '1', '--retry-attempts', '0', '--rate-limit', '0']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'TIMEOUT' } });
    expect(r.ms).toBeLessThan(5_000);
    const h = await cli(['health', '--host', host, '--timeout', '1', '--retry-attempts', '0']);
    expect(h.code).toBe(1);
    expect(JSON.parse(h.stdout)).toMatchObject({ reachable: false, error: { code: 'TIMEOUT' } });
    expect(h.ms).toBeLessThan(5_000);
  });

  it('the connection pool recovers: with the faults cleared, calls on the same connector succeed', async () => {
    proxy.clear();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? dc.execute('get_version') : dc.execute('list_containers', { all: true }))));
    expect(results).toHaveLength(20);
    expect((results[1] as { Version: string }).Version).toBe(engine.version);
    expect(proxy.seen.every((r) => r.forwarded)).toBe(true);
  });
});
