import { spawn } from 'node:child_process';
import { checkAnswer, fleetHosts, hostOption, isOperation, optionValue } from './result-check.js';

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
 * The operation a command line runs (`… run <operation> …`), if any: its
 * result is the JSON the CLI prints on stdout.
 */
export function operationRun(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length - 1; i++) if (args[i] === 'run' && isOperation(args[i + 1]!)) return args[i + 1];
  return undefined;
}

/**
 * A successful `run` prints the operation's result: validated against the
 * published result schema (test/support/result-check.ts). Output that is not
 * JSON (help text) is left to the test.
 */
function checkRun(args: string[], env: Record<string, string>, run: CliRun): void {
  const op = operationRun(args);
  if (!op || run.code !== 0 || args.includes('--help') || args.includes('-h')) return;
  let result: unknown;
  try {
    result = JSON.parse(run.stdout);
  } catch {
    return;
  }
  const hosts = fleetHosts(args, env);
  const selection = optionValue(args, '--endpoint');
  const host = hosts ? hosts.endpoints[selection ?? hosts.default] : (hostOption(args) ?? env.DOCKER_CONNECTOR_HOST ?? env.DOCKER_HOST);
  checkAnswer(op, result, { surface: 'cli', host, selection, hostOf: (name) => hosts?.endpoints[name] });
}



/**
 * Runs the real CLI as a child process to completion: env isolated (PATH plus
 * `env`), stdout piped (so output is compact JSON), killed after `timeoutMs`.
 * The result of a successful `run` is checked against its schema (rejects on a mismatch).
 */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearTimeout(killer);
      const run = { code: code ?? -1, stdout, stderr, ms: performance.now() - started };
      try {
        checkRun(args, env, run);
      } catch (err) {
        reject(err as Error);
        return;
      }
      resolve(run);
    });
  });
}
