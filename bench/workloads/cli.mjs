import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../lib/harness.mjs';
import { median, rotate } from '../lib/stats.mjs';
import { ratioRow } from '../lib/report.mjs';

/**
 * Workload 6: CLI start-up. `docker-connector run ping` as a whole process
 * next to `node -e ""` (Node's own start-up) and `docker version` (the Go
 * CLI, which also asks the Engine). hyperfine runs them in several short
 * rounds, the order rotated each round; the median of all runs is reported.
 */

const run = promisify(execFile);

export async function runCli(ctx) {
  const { opts, socketPath, log } = ctx;
  const host = `unix://${socketPath}`;
  const bin = join(ROOT, 'bin/docker-connector.js');
  // Environment of a plain shell: no DOCKER_* or connector settings leaking in from ours.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^DOCKER_/.test(k)));

  const check = await run(process.execPath, [bin, 'run', 'ping', '--host', host], { env });
  const answer = JSON.parse(check.stdout);
  if (answer.ok !== true) throw new Error(`docker-connector run ping: unexpected output ${check.stdout}`);

  const commands = {
    cli: `${process.execPath} ${bin} run ping --host ${host}`,
    node: `${process.execPath} -e ""`,
    docker: `docker -H ${host} version`,
  };
  const times = { cli: [], node: [], docker: [] };
  const dir = mkdtempSync(join(tmpdir(), 'dc-bench-cli-'));
  const perRound = Math.ceil(opts.cliRuns / opts.cliRounds);
  log(`cli: ${opts.cliRounds} hyperfine rounds × ${perRound} runs of each command`);
  try {
    for (let r = 0; r < opts.cliRounds; r++) {
      const order = rotate(Object.keys(commands), r);
      const out = join(dir, `round-${r}.json`);
      await run('hyperfine', ['-N', '--warmup', '2', '--runs', String(perRound), '--export-json', out, ...order.map((k) => commands[k])], {
        env,
        maxBuffer: 8 << 20,
      });
      const results = JSON.parse(readFileSync(out, 'utf8')).results;
      order.forEach((k, i) => times[k].push(...results[i].times.map((s) => s * 1000)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const rows = [
    ratioRow('CLI `run ping` (whole process)', `median ms wall ×${times.cli.length}`, { connector: med.cli, other: med.node }, { against: 'other', cmp: '<=', limit: 1.8, otherLabel: 'node -e ""' }),
  ];
  const docker = ratioRow('CLI `run ping` (whole process)', 'median ms wall, vs docker CLI', { connector: med.cli, other: med.docker }, { otherLabel: 'docker version' });
  docker.ratio = med.cli / med.docker;
  docker.ratioOf = 'connector / docker version';
  rows.push(docker);
  return { rows, raw: { median_ms: med, runs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.length])) } };
}
