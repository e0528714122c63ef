import { connectorClient, dockerodeClient, undiciClient } from '../lib/clients.mjs';
import { percentile, settle, shuffle } from '../lib/stats.mjs';
import { ratioRow } from '../lib/report.mjs';

/**
 * Workload 2: create → start → stop (t=0) → remove, and workload 3: exec of
 * `echo hi` (create exec, start and read its output, inspect for the exit
 * code), the clients taking turns. Both are dominated by the Engine (runc,
 * network set-up), so the ratio shows whether a client adds anything.
 */

function clients(ctx) {
  const { dist, socketPath, apiVersion } = ctx;
  return [connectorClient(dist, socketPath), undiciClient(socketPath, apiVersion), dockerodeClient(socketPath, apiVersion)];
}

/** The clients take turns one cycle at a time, in a fresh random order each time. */
async function interleaved(list, total, each) {
  for (let i = 0; i < total; i++) {
    for (const c of shuffle(list)) {
      await settle();
      await each(c);
    }
  }
}

function summarize(samples) {
  return { n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

export async function runLifecycle(ctx) {
  const { opts, fixtures, log } = ctx;
  const list = clients(ctx);
  const labels = { ...fixtures.labels };
  const samples = Object.fromEntries(list.map((c) => [c.name, []]));
  const steps = Object.fromEntries(list.map((c) => [c.name, { create: [], start: [], stop: [], remove: [] }]));
  log(`lifecycle: ${opts.cycles} create→start→stop(t=0)→remove cycles per client, interleaved`);
  const cycle = async (c, record) => {
    const t0 = performance.now();
    const id = await c.create(labels);
    const t1 = performance.now();
    await c.start(id);
    const t2 = performance.now();
    await c.stop(id);
    const t3 = performance.now();
    await c.remove(id);
    const t4 = performance.now();
    if (record) {
      samples[c.name].push(t4 - t0);
      const s = steps[c.name];
      s.create.push(t1 - t0);
      s.start.push(t2 - t1);
      s.stop.push(t3 - t2);
      s.remove.push(t4 - t3);
    }
  };
  try {
    for (const c of list) await cycle(c, false); // warm-up, and proof each client can do it
    await interleaved(list, opts.cycles, (c) => cycle(c, true));
  } finally {
    for (const c of list) await c.close();
  }
  const raw = {};
  for (const c of list) {
    raw[c.name] = { ...summarize(samples[c.name]), steps_p50: Object.fromEntries(Object.entries(steps[c.name]).map(([k, v]) => [k, percentile(v, 50)])) };
  }
  const values = { connector: raw.connector.p50, undici: raw.undici.p50, dockerode: raw.dockerode.p50 };
  const rows = [ratioRow('container lifecycle', `p50 ms per cycle ×${raw.connector.n}`, values, { against: 'undici', cmp: '<=', limit: 1.05 })];
  return { rows, raw };
}

export async function runExec(ctx) {
  const { opts, fixtures, log } = ctx;
  const list = clients(ctx);
  const id = await fixtures.create(['sleep', '3600']);
  await fixtures.start(id);
  const samples = Object.fromEntries(list.map((c) => [c.name, []]));
  log(`exec: ${opts.execs} × exec "echo hi" per client, interleaved`);
  try {
    for (const c of list) {
      const r = await c.exec(id, ['echo', 'hi']);
      if (r.output !== 'hi\n' || r.exitCode !== 0) throw new Error(`${c.name} exec: unexpected result ${JSON.stringify(r)}`);
      for (let i = 0; i < 3; i++) await c.exec(id, ['echo', 'hi']);
    }
    await interleaved(list, opts.execs, async (c) => {
      const t0 = performance.now();
      await c.exec(id, ['echo', 'hi']);
      samples[c.name].push(performance.now() - t0);
    });
  } finally {
    for (const c of list) await c.close();
    await fixtures.remove(id);
  }
  const raw = Object.fromEntries(list.map((c) => [c.name, summarize(samples[c.name])]));
  const values = { connector: raw.connector.p50, undici: raw.undici.p50, dockerode: raw.dockerode.p50 };
  const note = list[0].notes.join('; ') || undefined;
  const rows = [ratioRow('exec_container "echo hi"', `p50 ms per exec ×${raw.connector.n}`, values, { against: 'undici', cmp: '<=', limit: 1.05, note })];
  return { rows, raw };
}
