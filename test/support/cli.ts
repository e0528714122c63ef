import { spawn } from 'node:child_process';

/** The CLI as users run it (bin/docker-connector.js → the bundle). */
export const CLI_BIN = new URL('../../bin/docker-connector.js', import.meta.url).pathname;

export interface CliRun {
  /** Exit code; -1 when killed by the time limit or a signal. */
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs the real CLI as a child process to completion: env isolated (PATH plus
 * `env`), stdout piped (so output is compact JSON), killed after `timeoutMs`.
 */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - started });
    });
  });
}
