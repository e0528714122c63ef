import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { median, rotate } from '../lib/stats.mjs';
import { boundRow, ratioRow } from '../lib/report.mjs';

/**
 * Workloads 4 and 5: container_logs of a container that wrote N MiB, and
 * container_export of containers holding a file of N MiB. Each transfer runs
 * in a child process of its own (bench/child/stream.mjs) that writes to a
 * file and reports its throughput and peak RSS; clients alternate.
 */

const run = promisify(execFile);
const CHILD = new URL('../child/stream.mjs', import.meta.url).pathname;
const CLIENTS = ['connector', 'undici', 'dockerode'];
const MiB = 2 ** 20;

async function transfer(ctx, kind, client, container, dir) {
  const job = { kind, client, socketPath: ctx.socketPath, apiVersion: ctx.apiVersion, container, out: join(dir, `${kind}-${client}-${Date.now()}.out`) };
  try {
    const { stdout } = await run(process.execPath, [CHILD, JSON.stringify(job)], { timeout: 600_000, maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').at(-1));
  } catch (err) {
    const why = String(err.stderr ?? err.message).trim().split('\n').filter((l) => /error|failed/i.test(l)).at(-1) ?? err.message;
    throw new Error(`${client} ${kind} transfer failed: ${why}`);
  }
}

/** Runs `reps` interleaved rounds of one transfer per client; returns per-client medians and peaks. */
async function measure(ctx, kind, container, expectBytes, reps, dir) {
  const results = Object.fromEntries(CLIENTS.map((c) => [c, []]));
  for (let r = 0; r < reps; r++) {
    for (const client of rotate(CLIENTS, r)) {
      const res = await transfer(ctx, kind, client, container, dir);
      // Logs are the payload only; an export also carries the image's files and tar headers.
      const ok = kind === 'logs' ? res.bytes === expectBytes : res.bytes >= expectBytes && res.bytes < expectBytes + 16 * MiB;
      if (!ok) throw new Error(`${client} ${kind}: wrote ${res.bytes} bytes, expected ${kind === 'logs' ? '' : 'about '}${expectBytes}`);
      results[client].push(res);
    }
  }
  const out = {};
  for (const [client, list] of Object.entries(results)) {
    out[client] = {
      mibPerS: median(list.map((x) => x.bytes / MiB / (x.ms / 1000))),
      maxRssMiB: Math.max(...list.map((x) => x.maxRssMiB)),
      rssBeforeMiB: median(list.map((x) => x.rssBeforeMiB)),
      how: list[0].how,
      // CPU the client spent per MiB: on 2 cores it is taken from the Engine producing the stream.
      cpuMsPerMiB: median(list.map((x) => x.cpuMs / (x.bytes / MiB))),
      runs: list.map((x) => ({ ms: x.ms, cpuMs: x.cpuMs, bytes: x.bytes, maxRssMiB: x.maxRssMiB })),
    };
  }
  return out;
}

const pick = (res, key) => ({ connector: res.connector[key], undici: res.undici[key], dockerode: res.dockerode[key] });

export async function runLogs(ctx) {
  const { opts, fixtures, log } = ctx;
  const dir = join(tmpdir(), `dc-bench-${ctx.runId}`);
  mkdirSync(dir, { recursive: true });
  const bytes = opts.logsMiB * MiB;
  log(`logs: a container writes ${opts.logsMiB} MiB to its log (4 KiB lines)`);
  const id = await fixtures.runToExit(['sh', '-c', `L=$(head -c 4095 /dev/zero | tr '\\0' x); yes "$L" | head -c ${bytes}`]);
  try {
    log(`logs: ${opts.streamReps} interleaved transfer(s) per client`);
    const res = await measure(ctx, 'logs', id, bytes, opts.streamReps, dir);
    const w = `container_logs (${opts.logsMiB} MiB)`;
    const rows = [
      ratioRow(w, 'MiB/s to a file', pick(res, 'mibPerS'), { against: 'undici', cmp: '>=', limit: 0.9 }),
      boundRow(w, 'peak RSS MiB (child process)', pick(res, 'maxRssMiB'), { cmp: '<=', limit: 100, unit: 'MiB' }),
    ];
    return { rows, raw: { [w]: res } };
  } finally {
    await fixtures.remove(id);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runExport(ctx) {
  const { opts, fixtures, log } = ctx;
  const dir = join(tmpdir(), `dc-bench-${ctx.runId}`);
  mkdirSync(dir, { recursive: true });
  const rows = [];
  const raw = {};
  const [small, large] = opts.exportMiB;
  let smallRss;
  try {
    for (const mib of [small, large]) {
      log(`export: a container holding a ${mib} MiB file`);
      const id = await fixtures.runToExit(['dd', 'if=/dev/zero', 'of=/big', `bs=${MiB}`, `count=${mib}`]);
      try {
        const reps = mib > 512 ? Math.max(1, opts.streamReps - 1) : opts.streamReps;
        log(`export: ${reps} interleaved transfer(s) per client`);
        const res = await measure(ctx, 'export', id, mib * MiB, reps, dir);
        const w = `container_export (${mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`})`;
        raw[w] = res;
        rows.push(ratioRow(w, 'MiB/s to a file', pick(res, 'mibPerS'), { against: 'undici', cmp: '>=', limit: 0.9 }));
        if (smallRss === undefined) {
          smallRss = res.connector.maxRssMiB;
          rows.push(boundRow(w, 'peak RSS MiB (child process)', pick(res, 'maxRssMiB'), { cmp: '<=', limit: 100, unit: 'MiB' }));
        } else {
          const ratio = res.connector.maxRssMiB / smallRss;
          rows.push(
            boundRow(w, 'peak RSS MiB (child process)', { ...pick(res, 'maxRssMiB'), other: smallRss }, {
              cmp: '<=',
              limit: 100,
              unit: 'MiB',
              otherLabel: `connector, ${small} MiB`,
              extra: { ratio, ratioOf: `connector ${large} / ${small} MiB`, label: `≤ 1.20 × the ${small} MiB run`, ok: ratio <= 1.2 },
            }),
          );
        }
      } finally {
        await fixtures.remove(id);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, raw };
}
