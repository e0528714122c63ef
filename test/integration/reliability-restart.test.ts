/**
 * The Engine restarts under a running connector: 200 mixed reads with
 * retries off. Calls during the outage fail fast with CONNECTION_FAILED,
 * calls after it succeed on the same connector, and the API version is
 * negotiated again after the reconnect (the proxy sees a new /_ping).
 *
 * Restarting a real Engine stops every container on it, so this file must
 * run alone: the "integration-restart" vitest project (run after the others)
 * sets DC_RESTART_ALLOWED=1. Run anywhere else, the outage is simulated by
 * the fault proxy instead (it refuses connections and resets the open ones
 * for two seconds), and the same properties are checked.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, type DockerConnector } from 'docker-connector';
import { connectorFor } from '../support/connector.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { harness, type HarnessEngine } from '../support/harness.js';

const RESTART = process.env.DC_RESTART_ALLOWED === '1';
const SCRIPT = new URL('../../test/harness/restart-engine.sh', import.meta.url).pathname;
const CALLS = 200;

interface CallRecord {
  op: string;
  ok: boolean;
  code?: string;
  ms: number;
  /** Index range of the proxy's request log this call produced (calls run one at a time). */
  seen: [number, number];
  at: number;
}

/** Restarts the "new" Engine with the harness script; resolves when it answers again. */
function restartEngine(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [SCRIPT, 'new'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`Engine "new" ${RESTART ? 'restarts' : 'goes away (simulated by the proxy)'} during 200 reads`, () => {
  const engine = harness().engines.find((e) => e.name === 'new') as HarnessEngine;
  let proxy: FaultProxy;
  let dc: DockerConnector;

  beforeAll(async () => {
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    const host = await proxy.start();
    dc = connectorFor(engine, { host, retry_attempts: 0, timeout: 10 });
  });

  afterAll(async () => {
    dc.close();
    await proxy.close();
  });

  it('fails fast during the outage, recovers after it without a new connector, and negotiates again', async () => {
    const mix: [string, Record<string, unknown>][] = [
      ['get_version', {}],
      ['list_containers', { all: true }],
      ['ping', {}],
      ['inspect_image', { image: harness().image }],
      ['get_info', {}],
      ['list_images', {}],
      ['list_networks', {}],
      ['list_volumes', {}],
    ];
    const records: CallRecord[] = [];
    const call = async (i: number) => {
      const [op, params] = mix[i % mix.length]!;
      const before = proxy.seen.length;
      const started = performance.now();
      try {
        await dc.executeDynamic(op, params);
        records.push({ op, ok: true, ms: performance.now() - started, seen: [before, proxy.seen.length], at: started });
      } catch (err) {
        expect(err).toBeInstanceOf(ConnectorError);
        records.push({ op, ok: false, code: (err as ConnectorError).code, ms: performance.now() - started, seen: [before, proxy.seen.length], at: started });
      }
    };

    // Warm up: negotiated and pooled before the outage.
    for (let i = 0; i < 20; i++) await call(i);
    expect(records.every((r) => r.ok)).toBe(true);

    let outage: Promise<unknown>;
    let outageOver = false;
    if (RESTART) {
      outage = restartEngine().then((r) => {
        outageOver = true;
        expect(r.code, r.output).toBe(0);
      });
    } else {
      await proxy.refuse(true);
      proxy.resetAll();
      outage = sleep(2000).then(async () => {
        await proxy.refuse(false);
        outageOver = true;
      });
    }
    // Keep calling through the outage, then until 200 calls were made and the last 30 came
    // after it and succeeded (a call started as the outage ends may still fail: counting
    // calls after the flag alone left 29 successes now and then). Bounded, should recovery fail.
    const okStreak = () => {
      let n = 0;
      for (let k = records.length - 1; k >= 0 && records[k]!.ok; k--) n++;
      return n;
    };
    let i = records.length;
    let afterOutage = 0;
    while ((i < CALLS || !outageOver || afterOutage < 30 || okStreak() < 30) && i < CALLS + 1000) {
      await call(i++);
      if (outageOver) afterOutage++;
      await sleep(RESTART ? 20 : 10);
    }
    await outage;

    const failed = records.filter((r) => !r.ok);
    const firstFail = records.findIndex((r) => !r.ok);
    const lastFail = records.length - 1 - [...records].reverse().findIndex((r) => !r.ok);
    const summary = `${records.length} calls, ${failed.length} failed (${[...new Set(failed.map((r) => r.code))].join(', ')}), slowest ${Math.round(Math.max(...records.map((r) => r.ms)))} ms`;
    process.stderr.write(`[reliability-restart] ${RESTART ? 'real restart' : 'simulated outage'}: ${summary}\n`);

    // The outage was seen, and every call during it failed fast with CONNECTION_FAILED.
    expect(failed.length, summary).toBeGreaterThan(0);
    for (const r of failed) {
      expect(r.code, summary).toBe('CONNECTION_FAILED');
      expect(r.ms, summary).toBeLessThan(2000);
    }
    // After the outage every call succeeds, on the same connector.
    const after = records.slice(lastFail + 1);
    expect(after.length).toBeGreaterThanOrEqual(30);
    expect(after.every((r) => r.ok)).toBe(true);
    expect(records.length).toBeGreaterThanOrEqual(CALLS);

    // The first success after the outage negotiated again: its first request was HEAD /_ping.
    const back = records[lastFail + 1]!;
    const its = proxy.seen.slice(back.seen[0], back.seen[1]);
    expect(its[0], JSON.stringify(its)).toMatchObject({ method: 'HEAD', path: '/_ping', forwarded: true });
    // (`ping` itself pings too: negotiation plus its own.)
    expect(its.filter((s) => s.path === '/_ping')).toHaveLength(back.op === 'ping' ? 2 : 1);
    // Before the outage, calls other than `ping` sent no /_ping (the version was known).
    const warm = records.slice(1, firstFail).filter((r) => r.op !== 'ping');
    for (const r of warm) expect(proxy.seen.slice(r.seen[0], r.seen[1]).some((s) => s.path === '/_ping')).toBe(false);
    // Only one negotiation after the outage: later calls (other than ping) send no /_ping.
    for (const r of after.slice(1).filter((x) => x.op !== 'ping')) {
      expect(proxy.seen.slice(r.seen[0], r.seen[1]).some((s) => s.path === '/_ping')).toBe(false);
    }
  }, 120_000);
});
