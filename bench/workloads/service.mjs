import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { connectorClient } from '../lib/clients.mjs';
import { ROOT } from '../lib/harness.mjs';
import { ratioRow, unavailableRow } from '../lib/report.mjs';

/**
 * Workload 7: the HTTP service (`serve`) under autocannon at concurrency 50,
 * POST /v1/operations/{ping,list_containers}, next to the library doing the
 * same calls in-process at the same concurrency. The service runs as its own
 * process (no auth on loopback, audit log off, both rate limits off).
 */

const CONNECTIONS = 50;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** How to start the service from the built library: the CLI's `serve`, else the interim standalone entry. */
function serveEntry() {
  const bin = join(ROOT, 'bin/docker-connector.js');
  const help = spawnSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8' });
  if (help.status === 0 && help.stdout.includes('--listen')) return { argv: [bin], how: 'docker-connector serve' };
  const standalone = join(ROOT, 'dist/http/standalone.js');
  if (existsSync(standalone)) return { argv: [standalone], how: 'dist/http/standalone.js serve (serve not yet in the CLI)' };
  return undefined;
}

async function startService(entry, configFile, listen) {
  const child = spawn(process.execPath, [...entry.argv, '--config', configFile, 'serve', '--listen', listen, '--no-auth', '--audit-log', 'off'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^DOCKER_/.test(k))),
  });
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 30 s: ${stderr.slice(0, 500)}`)), 30_000);
    child.stderr.on('data', (d) => {
      stderr += d;
      for (const line of stderr.split('\n')) {
        try {
          const ev = JSON.parse(line);
          if (ev.event === 'listening') {
            clearTimeout(timer);
            resolve(ev.url);
          }
        } catch {
          // not a JSON line (yet)
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stderr.slice(0, 500)}`));
    });
  });
  return { child, url };
}

async function libraryRate(call, durationS) {
  let calls = 0;
  let errors = 0;
  const until = performance.now() + durationS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        try {
          await call();
          calls++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { perS: calls / seconds, calls, seconds, errors };
}

async function cannon(url, name, body, durationS) {
  const r = await autocannon({
    url: `${url}/v1/operations/${name}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    connections: CONNECTIONS,
    duration: durationS,
  });
  return { perS: r.requests.total / r.duration, calls: r.requests.total, seconds: r.duration, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx, non2xx: r.non2xx };
}

/** Rounds of one side → one figure: calls/s over all rounds, errors summed, the median round's p99. */
function combine(rounds) {
  const calls = rounds.reduce((a, r) => a + r.calls, 0);
  const seconds = rounds.reduce((a, r) => a + r.seconds, 0);
  const out = { perS: calls / seconds, calls, seconds, errors: rounds.reduce((a, r) => a + r.errors, 0), rounds: rounds.map((r) => Math.round(r.perS)) };
  if (rounds[0]?.p99 !== undefined) {
    const p99s = rounds.map((r) => r.p99).sort((a, b) => a - b);
    out.p99 = p99s[Math.floor(p99s.length / 2)];
    out.non2xx = rounds.reduce((a, r) => a + r.non2xx, 0);
  }
  return out;
}

export async function runService(ctx) {
  const { opts, dist, socketPath, log } = ctx;
  const entry = serveEntry();
  if (!entry) {
    return {
      rows: [
        unavailableRow('HTTP service ping', `calls/s, concurrency ${CONNECTIONS}`, '`serve` is neither in the CLI nor in dist/http/ yet'),
        unavailableRow('HTTP service list_containers', `calls/s, concurrency ${CONNECTIONS}`, '`serve` is neither in the CLI nor in dist/http/ yet'),
      ],
      raw: { available: false },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'dc-bench-svc-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ host: `unix://${socketPath}`, rate_limit: 0, service: { rate_limit: 0 } }));
  const listen = `127.0.0.1:${await freePort()}`;
  log(`service: starting ${entry.how} on ${listen}`);
  const { child, url } = await startService(entry, configFile, listen);
  const lib = connectorClient(dist, socketPath);
  await ctx.ensureListFixture();
  const listBody = { all: true, filters: ctx.listFilter };
  const raw = { how: entry.how };
  try {
    // Warm both sides up (JIT, connection pools, version negotiation).
    await cannon(url, 'ping', {}, 1);
    await libraryRate(() => lib.ping(), 1);
    // Each side's time is split into rounds that alternate, a different side first each round
    // (as the other concurrent workloads do): one sample per side, the library always first,
    // let a burst of load elsewhere on the shared machine land on one side only (the ratio of one
    // build moved between 0.31 and 0.41 from run to run). The time per side is unchanged.
    const d = opts.serviceSeconds;
    const rounds = d >= 10 ? 5 : 2;
    const per = d / rounds;
    log(`service: ${d} s per measurement in ${rounds} rounds, library and service alternating`);
    const runs = { libPing: [], svcPing: [], svcList: [], libList: [] };
    for (let i = 0; i < rounds; i++) {
      const ping = [async () => runs.libPing.push(await libraryRate(() => lib.ping(), per)), async () => runs.svcPing.push(await cannon(url, 'ping', {}, per))];
      const list = [async () => runs.svcList.push(await cannon(url, 'list_containers', listBody, per)), async () => runs.libList.push(await libraryRate(() => lib.list(listBody.filters), per))];
      for (const step of i % 2 === 0 ? [...ping, ...list] : [...ping.reverse(), ...list.reverse()]) await step();
    }
    for (const [k, v] of Object.entries(runs)) raw[k] = combine(v);
  } finally {
    await lib.close();
    child.kill('SIGTERM');
    await new Promise((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 10_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [];
  const errNote = (svc, libR) =>
    svc.errors || libR.errors ? `errors: service ${svc.errors} (non-2xx ${svc.non2xx}), library ${libR.errors}` : entry.how.includes('standalone') ? entry.how : undefined;
  const ping = ratioRow('HTTP service ping', `calls/s, concurrency ${CONNECTIONS}, zero errors`, { connector: raw.svcPing.perS, other: raw.libPing.perS }, {
    against: 'other',
    cmp: '>=',
    limit: 0.7,
    otherLabel: 'library, in-process',
    note: errNote(raw.svcPing, raw.libPing),
  });
  if (raw.svcPing.errors) ping.met = false;
  rows.push(ping);
  rows.push(ratioRow('HTTP service ping', 'p99 ms', { connector: raw.svcPing.p99 }));
  const list = ratioRow(`HTTP service list_containers (${opts.listCount})`, `calls/s, concurrency ${CONNECTIONS}`, { connector: raw.svcList.perS, other: raw.libList.perS }, {
    otherLabel: 'library, in-process',
    note: errNote(raw.svcList, raw.libList),
  });
  list.ratio = raw.svcList.perS / raw.libList.perS;
  list.ratioOf = 'service / library';
  rows.push(list);
  rows.push(ratioRow(`HTTP service list_containers (${opts.listCount})`, 'p99 ms', { connector: raw.svcList.p99 }));
  return { rows, raw };
}
