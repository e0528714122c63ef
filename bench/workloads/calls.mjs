import { connectorClient, dockerodeClient, rawSocketClient, undiciClient } from '../lib/clients.mjs';
import { BENCH_LABEL } from '../lib/fixtures.mjs';
import { percentile, rotate, settle, shuffle } from '../lib/stats.mjs';
import { ratioRow } from '../lib/report.mjs';

/**
 * Workload 1: small calls. For each call, every client does `calls`
 * sequential calls (latency of each; the clients take turns call by call
 * in a random order, see shuffle())
 * and `calls` calls at concurrency 16 (calls/s; short rounds, the clients
 * taking turns, a different one first each round), so load from elsewhere
 * on the machine falls on all of them alike. The limiter's own cost is measured as a fourth client
 * on ping: the connector with a limit so high it never waits. The floor (a raw
 * socket reading only the status and the body's length) takes its turns like
 * the others; it has no target, the targets still compare to raw undici.
 */

const CONCURRENCY = 16;

/** One call, timed; errors are counted, not thrown, so one failure does not end the workload. */
async function timedCall(fn, samples, errors) {
  const s = performance.now();
  try {
    await fn();
  } catch (err) {
    errors.push(err);
  }
  samples.push(performance.now() - s);
}

async function timedConcurrent(fn, n, concurrency, errors) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      }
    }),
  );
  return performance.now() - t0;
}

export async function runCalls(ctx) {
  const { opts, dist, socketPath, apiVersion, fixtures, log } = ctx;
  const rows = [];
  const raw = {};

  const connector = connectorClient(dist, socketPath);
  const limited = connectorClient(dist, socketPath, { name: 'connector+limiter', rateLimit: 1_000_000, burst: 10_000 });
  const undiciSeq = undiciClient(socketPath, apiVersion);
  const undiciConc = undiciClient(socketPath, apiVersion, { concurrent: true });
  const dockerode = dockerodeClient(socketPath, apiVersion);
  const rawSeq = rawSocketClient(socketPath, apiVersion);
  const rawConc = rawSocketClient(socketPath, apiVersion, { connections: CONCURRENCY });

  log(`calls: fixtures (one container to inspect, ${opts.listCount} to list)`);
  const inspectId = await fixtures.create(['true']);
  await ctx.ensureListFixture();
  const noneFilter = { label: [`${BENCH_LABEL}.none=${ctx.runId}`] };
  const listFilter = ctx.listFilter;

  const ops = [
    { workload: 'ping', call: (c) => c.ping(), limiter: true },
    { workload: 'get_version', call: (c) => c.version() },
    { workload: 'list_containers (0)', call: (c) => c.list(noneFilter), expect: (r) => Array.isArray(r) && r.length === 0 },
    { workload: `list_containers (${opts.listCount})`, call: (c) => c.list(listFilter), expect: (r) => Array.isArray(r) && r.length === opts.listCount, calls: opts.listCalls, round: 50 },
    { workload: 'inspect_container', call: (c) => c.inspect(inspectId), expect: (r) => r.Id === inspectId },
  ];

  try {
    for (const op of ops) {
      const seqClients = [connector, undiciSeq, dockerode, rawSeq, ...(op.limiter ? [limited] : [])];
      const concClients = [connector, undiciConc, dockerode, rawConc, ...(op.limiter ? [limited] : [])];
      const seqN = op.calls ?? opts.calls;
      const concN = op.calls ?? opts.calls;
      log(`calls: ${op.workload}: ${seqN} sequential + ${concN} at concurrency ${CONCURRENCY} per client, interleaved`);

      // Each client's answer is checked once, then warmed up (JIT, connections).
      for (const c of new Set([...seqClients, ...concClients])) {
        // The raw socket skips bodies: it keeps and parses this one, to be checked like the others.
        const r = c.checked ? await c.checked(() => op.call(c)) : await op.call(c);
        if (op.expect && !op.expect(r)) throw new Error(`${c.name} ${op.workload}: unexpected answer ${JSON.stringify(r).slice(0, 200)}`);
        for (let i = 0; i < opts.warmup; i++) await op.call(c);
        await timedConcurrent(() => op.call(c), CONCURRENCY * 4, CONCURRENCY, []);
      }

      const stats = {};
      for (const c of [...seqClients, ...concClients]) stats[c.name] ??= { samples: [], concMs: 0, errors: [] };
      // Sequential: the clients take turns call by call, in a fresh random order each time.
      for (let i = 0; i < seqN; i++) {
        for (const c of shuffle(seqClients)) {
          await settle();
          await timedCall(() => op.call(c), stats[c.name].samples, stats[c.name].errors);
        }
      }
      // Concurrent: short rounds of `concRound` calls per client, taking turns.
      // Slow calls get smaller rounds, so each client still gets several turns.
      const perRound = Math.min(op.round ?? opts.concRound, concN);
      const rounds = Math.ceil(concN / perRound);
      for (let r = 0; r < rounds; r++) {
        for (const c of rotate(concClients, r)) stats[c.name].concMs += await timedConcurrent(() => op.call(c), perRound, CONCURRENCY, stats[c.name].errors);
      }

      const summary = {};
      for (const [name, s] of Object.entries(stats)) {
        summary[name] = {
          calls: s.samples.length,
          p50: percentile(s.samples, 50),
          p99: percentile(s.samples, 99),
          // Back-to-back calls: calls/s is the inverse of the mean latency.
          seqPerS: s.samples.length / (s.samples.reduce((a, b) => a + b, 0) / 1000),
          concPerS: (perRound * rounds) / (s.concMs / 1000),
          errors: s.errors.length,
          firstError: s.errors[0] ? String(s.errors[0].message ?? s.errors[0]) : undefined,
        };
      }
      raw[op.workload] = summary;
      const pick = (key) => ({ connector: summary.connector[key], undici: summary.undici[key], dockerode: summary.dockerode[key], socket: summary['raw socket'][key] });
      const errNote = Object.entries(summary)
        .filter(([, s]) => s.errors)
        .map(([n, s]) => `${n}: ${s.errors} errors (${s.firstError})`)
        .join('; ');
      const note = errNote || undefined;
      rows.push(ratioRow(op.workload, `p50 ms, sequential ×${seqN}`, pick('p50'), { against: 'undici', cmp: '<=', limit: 1.1, note }));
      rows.push(ratioRow(op.workload, 'p99 ms, sequential', pick('p99'), { floor: false }));
      rows.push(ratioRow(op.workload, 'calls/s, sequential', pick('seqPerS'), { against: 'dockerode', cmp: '>=', limit: 1.0 }));
      rows.push(ratioRow(op.workload, `calls/s, concurrency ${CONCURRENCY} ×${perRound * rounds}`, pick('concPerS'), { against: 'dockerode', cmp: '>=', limit: 1.0 }));
      if (op.limiter) {
        const lim = summary['connector+limiter'];
        const off = summary.connector;
        rows.push(
          ratioRow(`${op.workload}, rate limiter on (never waits)`, 'p50 ms, sequential', { connector: lim.p50, other: off.p50 }, { otherLabel: 'limiter off' }),
        );
        rows.push(ratioRow(`${op.workload}, rate limiter on (never waits)`, `calls/s, concurrency ${CONCURRENCY}`, { connector: lim.concPerS, other: off.concPerS }, { otherLabel: 'limiter off' }));
        const r1 = rows.at(-2);
        const r2 = rows.at(-1);
        r1.ratio = lim.p50 / off.p50;
        r1.ratioOf = 'limiter on / off';
        r2.ratio = lim.concPerS / off.concPerS;
        r2.ratioOf = 'limiter on / off';
      }
    }
  } finally {
    for (const c of [connector, limited, undiciSeq, undiciConc, dockerode, rawSeq, rawConc]) await c.close();
  }
  return { rows, raw };
}
