import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

/**
 * The private Engines of the test harness, found or started the same way
 * test/support/global-setup.ts does it: reuse a harness that answers,
 * otherwise install.sh + up.sh, and down.sh at the end only if we started it.
 */
export const HARNESS_DIR = process.env.DC_HARNESS_DIR ?? '/tmp/dch';
export const ROOT = new URL('../..', import.meta.url).pathname;

function ping(socketPath) {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

async function harnessIsUp() {
  const envFile = join(HARNESS_DIR, 'env.json');
  if (!existsSync(envFile)) return false;
  try {
    const env = JSON.parse(readFileSync(envFile, 'utf8'));
    const results = await Promise.all(env.engines.map((e) => ping(e.host.replace(/^unix:\/\//, ''))));
    return results.length >= 2 && results.every(Boolean);
  } catch {
    return false;
  }
}

/** Returns {env, engine, started}; `engine` is the one named by DC_BENCH_ENGINE (default "new"). */
export async function ensureHarness(log) {
  let started = false;
  if (!(await harnessIsUp())) {
    log('harness not up: running test/harness/install.sh and up.sh');
    // Their progress goes to our stderr: stdout is kept for the results table.
    const stdio = ['ignore', process.stderr, process.stderr];
    execFileSync('bash', [join(ROOT, 'test/harness/install.sh')], { stdio });
    execFileSync('bash', [join(ROOT, 'test/harness/up.sh')], { stdio, env: { ...process.env, DC_HARNESS_DIR: HARNESS_DIR } });
    started = true;
  }
  const env = JSON.parse(readFileSync(join(HARNESS_DIR, 'env.json'), 'utf8'));
  const name = process.env.DC_BENCH_ENGINE ?? 'new';
  const engine = env.engines.find((e) => e.name === name);
  if (!engine) throw new Error(`DC_BENCH_ENGINE=${name}: no such engine in ${HARNESS_DIR}/env.json (have ${env.engines.map((e) => e.name).join(', ')})`);
  return { env, engine, started };
}

export function stopHarness(log) {
  if (process.env.DC_HARNESS_KEEP === '1') return log('DC_HARNESS_KEEP=1: leaving the harness up');
  log('stopping the harness this run started (down.sh)');
  spawnSync('bash', [join(ROOT, 'test/harness/down.sh')], { stdio: ['ignore', process.stderr, process.stderr], env: { ...process.env, DC_HARNESS_DIR: HARNESS_DIR } });
}
