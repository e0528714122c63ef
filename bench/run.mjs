#!/usr/bin/env node
/**
 * `npm run bench` — the connector next to raw undici and dockerode on the
 * private Engine of the test harness, one table of ratios from one run; for
 * the small calls, also next to the floor (a raw socket, lib/raw-socket.mjs).
 *
 *   node bench/run.mjs [--quick] [--only=calls,lifecycle,exec,logs,export,cli,service]
 *   DC_BENCH_ENGINE=old   use the Engine 20.10 (API 1.41) instead of 28.x
 *
 * Measures the BUILT library (dist/): run `npm run build` first (npm run
 * bench does). Progress goes to stderr; the table goes to stdout and to
 * bench/results/latest.md (+ latest.json with every figure).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ensureHarness, stopHarness, ROOT } from './lib/harness.mjs';
import { DIST_DIR, DIST_ENTRY, loadDist } from './lib/clients.mjs';
import { Fixtures, LIST_KEY } from './lib/fixtures.mjs';
import { renderMarkdown, unavailableRow } from './lib/report.mjs';
import { runCalls } from './workloads/calls.mjs';
import { runExec, runLifecycle } from './workloads/lifecycle.mjs';
import { runExport, runLogs } from './workloads/streams.mjs';
import { runCli } from './workloads/cli.mjs';
import { runService } from './workloads/service.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');

/** Sizes of the full run (the issue's) and of --quick (under 2 minutes). */
const opts = quick
  ? { calls: 200, listCount: 200, listCalls: 40, concRound: 100, warmup: 30, cycles: 6, execs: 20, logsMiB: 32, exportMiB: [64, 192], streamReps: 1, cliRuns: 10, cliRounds: 2, serviceSeconds: 2 }
  : { calls: 2000, listCount: 200, listCalls: 300, concRound: 100, warmup: 100, cycles: 50, execs: 200, logsMiB: 200, exportMiB: [300, 1024], streamReps: 3, cliRuns: 40, cliRounds: 4, serviceSeconds: 10 };

const WORKLOADS = [
  ['calls', runCalls],
  ['lifecycle', runLifecycle],
  ['exec', runExec],
  ['logs', runLogs],
  ['export', runExport],
  ['cli', runCli],
  ['service', runService],
];

const t0 = performance.now();
const log = (msg) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);

function version(cmd, argv, pattern) {
  try {
    const out = execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return (pattern ? pattern.exec(out)?.[1] : out.trim()) ?? out.trim();
  } catch {
    return 'not installed';
  }
}

const pkgVersion = (name) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');

async function main() {
  if (!existsSync(DIST_ENTRY)) throw new Error(`${DIST_ENTRY} is missing: run \`npm run build\` first (npm run bench does)`);
  const runId = randomBytes(4).toString('hex');
  const { engine, started } = await ensureHarness(log);
  const socketPath = engine.host.replace(/^unix:\/\//, '');
  const dist = await loadDist();

  // The API version every client uses: the one the connector negotiates.
  const probe = new dist.DockerConnector({ host: engine.host, rate_limit: 0, env: {} });
  const apiVersion = await probe.engine.apiVersion();
  const engineVersion = await probe.execute('get_version');
  probe.close();

  const fixtures = new Fixtures(socketPath, apiVersion, runId);
  const ctx = { opts, dist, socketPath, apiVersion, fixtures, runId, log };
  // The containers list_containers lists: made once, for the calls and the service workloads.
  let listed;
  ctx.listFilter = { label: [`${LIST_KEY}=${runId}`] };
  ctx.ensureListFixture = () => (listed ??= fixtures.createMany(opts.listCount, { [LIST_KEY]: runId }));
  const meta = {
    mode: quick ? 'quick' : 'full',
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    engine: engine.name,
    runId,
    dist: DIST_ENTRY.startsWith(ROOT) ? DIST_ENTRY.slice(ROOT.length) : DIST_ENTRY,
    versions: {
      node: process.version,
      engine: engineVersion.Version,
      apiVersion,
      connector: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
      undici: pkgVersion('undici'),
      dockerode: pkgVersion('dockerode'),
      autocannon: pkgVersion('autocannon'),
      hyperfine: version('hyperfine', ['--version'], /hyperfine (\S+)/),
      dockerCli: version('docker', ['-H', engine.host, 'version', '--format', '{{.Client.Version}}']),
    },
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown CPU', loadStart: load() },
    opts,
    notes: [
      'Ratios compare figures from this one run. Sequential calls, lifecycles and execs take turns call by call in a fresh random order (a fixed order skews p50: each client pays for work the previous one deferred); concurrent rounds, stream transfers and CLI rounds alternate, a different client first each round.',
      'Raw undici pings with HEAD /_ping and `reset: false` (undici otherwise closes the connection after every HEAD); dockerode pings with GET /_ping.',
      'dockerode is pinned to the same API version as the others (it does not negotiate); the connector negotiates once (HEAD /_ping) before the measurements.',
      'Raw socket (the floor): a fixed HTTP/1.1 request written on a kept-alive unix socket (one for sequential calls, one per call in flight at concurrency 16), reading only the status, Content-Length or the chunk sizes, and skipping the body unparsed: no client can do less per call. Its column has no target; targets compare to raw undici.',
    ],
  };
  log(`Engine ${meta.versions.engine} (API ${apiVersion}, "${engine.name}") at ${engine.host}; ${meta.mode} run ${runId}`);

  const rows = [];
  const raw = {};
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log('interrupted: cleaning up');
  };
  process.once('SIGINT', onSignal);
  try {
    for (const [name, fn] of WORKLOADS) {
      if (only && !only.includes(name)) continue;
      if (interrupted) break;
      try {
        const res = await fn(ctx);
        rows.push(...res.rows);
        raw[name] = res.raw;
      } catch (err) {
        log(`${name} failed: ${err.stack ?? err}`);
        rows.push(unavailableRow(name, '—', `the workload failed: ${String(err.message ?? err).split('\n')[0]}`));
        raw[name] = { error: String(err.stack ?? err) };
      }
    }
  } finally {
    const removed = await fixtures.removeAll().catch((err) => log(`cleanup failed: ${err.message}`));
    log(`removed ${removed ?? '?'} bench containers`);
    await fixtures.close();
    if (started) stopHarness(log);
  }

  meta.machine.loadEnd = load();
  meta.durationS = (performance.now() - t0) / 1000;
  const md = renderMarkdown(meta, rows);
  process.stdout.write(md);
  if (!only && !interrupted) {
    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const base = quick ? 'latest-quick' : 'latest';
    writeFileSync(join(dir, `${base}.md`), md);
    writeFileSync(join(dir, `${base}.json`), `${JSON.stringify({ meta, rows, raw }, null, 2)}\n`);
    log(`wrote bench/results/${base}.md and ${base}.json`);
  }
  log(`done in ${Math.round(meta.durationS)} s`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
