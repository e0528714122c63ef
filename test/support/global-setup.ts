import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { RESULT_CHECKS_DIR } from './harness.js';

const HARNESS_DIR = process.env.DC_HARNESS_DIR ?? '/tmp/dch';
const root = new URL('../..', import.meta.url).pathname;

function ping(socketPath: string): Promise<boolean> {
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

async function harnessIsUp(): Promise<boolean> {
  const envFile = join(HARNESS_DIR, 'env.json');
  if (!existsSync(envFile)) return false;
  try {
    const env = JSON.parse(readFileSync(envFile, 'utf8')) as { engines: { host: string }[] };
    const results = await Promise.all(env.engines.map((e) => ping(e.host.replace(/^unix:\/\//, ''))));
    return results.length >= 2 && results.every(Boolean);
  } catch {
    return false;
  }
}

/**
 * Starts the private Engines (and registry, TLS listener, auth proxy) once
 * for the integration run. A harness already up from an earlier run on this
 * machine is reused outside CI; CI always starts clean. Failure to start is
 * a failure of the run: the integration suite never silently skips.
 */
export default async function setup(project?: TestProject): Promise<() => void> {
  // A run of the integration project starts a new record of validated results
  // (test/support/result-check.ts); the restart project adds to the last one.
  if (project?.name === 'integration') rmSync(RESULT_CHECKS_DIR, { recursive: true, force: true });
  let started = false;
  if (process.env.CI || !(await harnessIsUp())) {
    execFileSync('bash', [join(root, 'test/harness/install.sh')], { stdio: 'inherit' });
    execFileSync('bash', [join(root, 'test/harness/up.sh')], { stdio: 'inherit', env: { ...process.env, DC_HARNESS_DIR: HARNESS_DIR } });
    started = true;
  }
  const env = JSON.parse(readFileSync(join(HARNESS_DIR, 'env.json'), 'utf8')) as { engines: { name: string; version: string; apiVersion: string }[] };
  const wanted = process.env.DC_ENGINES;
  process.stderr.write(
    `\n[harness] integration tests run against: ${env.engines
      .filter((e) => !wanted || wanted.split(',').includes(e.name))
      .map((e) => `Engine ${e.version} (API ${e.apiVersion}, "${e.name}")`)
      .join(' and ')}\n\n`,
  );
  return () => {
    if (started && process.env.DC_HARNESS_KEEP !== '1' && process.env.CI) {
      spawnSync('bash', [join(root, 'test/harness/down.sh')], { stdio: 'inherit', env: { ...process.env, DC_HARNESS_DIR: HARNESS_DIR } });
    }
  };
}
