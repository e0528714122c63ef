import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { HARNESS_DIR } from './harness.js';

/**
 * A private redis-server for one test file (issue 17: replicas sharing a
 * state store): its own port and folder under $DC_HARNESS_DIR/redis/<name>,
 * no persistence, a password, optionally TLS only (a CA and a server
 * certificate made here with openssl). A server left by a killed run is
 * stopped (by the pid it wrote) before a new one starts. `stop()` kills it
 * (as a lost Redis), `start()` brings it back on the same port.
 */
export const REDIS_SERVER = '/usr/bin/redis-server';

export interface PrivateRedis {
  port: number;
  password: string;
  /** redis://:password@127.0.0.1:port/0, or rediss://… with tls. */
  url: string;
  /** The CA the TLS server's certificate is signed by (tls only). */
  caFile?: string;
  dir: string;
  start(): Promise<void>;
  /** Kills the server at once (SIGKILL), as a crash or a lost host would. */
  kill(): Promise<void>;
  /** Kills it and removes its folder. */
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Stops a server a killed run left behind: the pid in its pidfile, if that process is still a redis-server of this folder. */
function stopLeftover(dir: string): void {
  const pidFile = join(dir, 'redis.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmd.includes('redis-server')) process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  const key = join(dir, 'server-key.pem');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=dc-test-redis-ca');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=localhost');
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext);
  return { ca, cert, key };
}

export async function startRedis(name: string, opts: { tls?: boolean } = {}): Promise<PrivateRedis> {
  const dir = join(HARNESS_DIR, 'redis', name);
  mkdirSync(dir, { recursive: true });
  stopLeftover(dir);
  const port = await freePort();
  const password = `pw-${name}-${Math.random().toString(36).slice(2, 12)}`;
  const certs = opts.tls ? makeCerts(dir) : undefined;
  const args = [
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--pidfile', join(dir, 'redis.pid'),
    '--save', '',
    '--appendonly', 'no',
    '--requirepass', password,
    '--protected-mode', 'no',
    '--daemonize', 'no',
    '--logfile', join(dir, 'redis.log'),
    ...(certs
      ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no']
      : ['--port', String(port)]),
  ];
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
    child = c;
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (c.exitCode !== null) throw new Error(`redis-server exited (${c.exitCode}); see ${join(dir, 'redis.log')}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}; see ${join(dir, 'redis.log')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    password,
    url: `${certs ? 'rediss' : 'redis'}://:${password}@127.0.0.1:${port}/0`,
    caFile: certs?.ca,
    dir,
    start,
    kill,
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
