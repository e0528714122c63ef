import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { CLI_BIN } from './cli.js';
import { checkResult, hostOfServedPort, resultOfHttpAnswer } from './result-check.js';

/** A `serve` or `mcp --listen` child process, as users start it (bin/docker-connector.js → the bundle). */
export interface Served {
  child: ChildProcess;
  /** The URL from the "listening" status line (the service's base URL, or …/mcp). */
  url: string;
  port: number;
  stderr: () => string;
  stop(): Promise<void>;
}

/**
 * Starts `docker-connector <args>` and resolves once it reports "listening".
 * The environment is isolated (PATH plus `env`); the Engine-side rate limit
 * is off so these tests measure only the surface's own limits.
 */
export function startServed(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', DOCKER_CONNECTOR_RATE_LIMIT: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /"event":"listening","url":"([^"]+)"/.exec(stderr);
      if (m) {
        const url = m[1]!;
        resolve({
          child,
          url,
          port: Number(new URL(url).port),
          stderr: () => stderr,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    });
    void exited.then(() => reject(new Error(`${args[0]} exited before listening: ${stderr}`)));
  });
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

/**
 * One HTTP request with every header under the caller's control (fetch
 * will not let a test choose Host), to 127.0.0.1:`port`. An operation's
 * result (a 200 JSON answer) is checked against its schema.
 */
export function rawRequest(port: number, o: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
    const req = request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path, headers, setHost: !('host' in headers) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const op = resultOfHttpAnswer(o.method ?? 'GET', o.path.split('?')[0]!, status, res.headers['content-type']);
        try {
          if (op) checkResult(op, text ? JSON.parse(text) : null, { surface: 'http', host: hostOfServedPort(port, new URLSearchParams(o.path.split('?')[1] ?? '').get('endpoint')) });
        } catch (err) {
          reject(err as Error);
          return;
        }
        resolve({ status, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
