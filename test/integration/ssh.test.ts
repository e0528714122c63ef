import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { runCli } from '../support/cli.js';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { failure } from '../support/expect-error.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';

/**
 * ssh:// endpoints against the harness' private sshds (one per Engine; each
 * session's DOCKER_HOST is that Engine, so the remote `docker system
 * dial-stdio` reaches it). Logins are counted in the sshd's log (LogLevel
 * VERBOSE writes one "Accepted publickey" line per login and one "Starting
 * session: command" line per channel).
 */

const ssh = () => harness().ssh;
const sshOf = (engine: HarnessEngine) => ssh().engines.find((e) => e.name === engine.name)!;
const work = mkdtempSync(join(tmpdir(), 'dc-ssh-'));
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function logins(engine: HarnessEngine): number {
  return (readFileSync(sshOf(engine).log, 'utf8').match(/Accepted publickey for /g) ?? []).length;
}
function channels(engine: HarnessEngine): number {
  return (readFileSync(sshOf(engine).log, 'utf8').match(/Starting session: command /g) ?? []).length;
}
/** sshd writes its log asynchronously to our reading: wait until a count settles at what is expected. */
async function settled(read: () => number, want: (n: number) => boolean, ms = 3000): Promise<number> {
  const end = Date.now() + ms;
  let n = read();
  while (!want(n) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    n = read();
  }
  return n;
}

/** The host's key fingerprint as ssh-keygen prints it. */
const fingerprintOf = (pub: string) => execFileSync('ssh-keygen', ['-lf', pub], { encoding: 'utf8' }).split(' ')[1]!;

/** Established TCP connections to a port (either end), and `docker system dial-stdio` processes whose DOCKER_HOST is this Engine's. */
function leftovers(engine: HarnessEngine): { tcp: string[]; dialers: number[] } {
  const port = sshOf(engine).port;
  const tcp = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const dialers: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('dial-stdio')) continue;
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`DOCKER_HOST=${engine.host}`)) dialers.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return { tcp, dialers };
}
async function noLeftovers(engine: HarnessEngine): Promise<{ tcp: string[]; dialers: number[] }> {
  const end = Date.now() + 5000;
  let l = leftovers(engine);
  while ((l.tcp.length || l.dialers.length) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    l = leftovers(engine);
  }
  return l;
}

/** Far below the 30 s after which an idle SSH connection closes, far above a call's few seconds on a loaded machine. */
const PROMPT_EXIT_MS = 20_000;
const keyArgs = () => ['--ssh-key', ssh().key, '--ssh-known-hosts', ssh().knownHosts];
/** An isolated HOME (no default keys, no known_hosts) and no agent unless given. */
function isolatedHome(): string {
  return mkdtempSync(join(work, 'home-'));
}

describe.each(engines())('ssh:// to Engine $name (API $apiVersion)', (engine: HarnessEngine) => {
  let host: string;
  let dc: DockerConnector;
  let plain: string;
  let exported: string;
  const images: string[] = [];

  beforeAll(() => {
    host = sshOf(engine).host;
    plain = uniqueName('dct-ssh');
    docker(engine, ['run', '-d', '--name', plain, '--label', `${TEST_LABEL}=ssh`, 'dc-busybox:latest', 'sh', '-c', 'echo hello; echo oops >&2; sleep 600']);
    exported = uniqueName('dct-ssh-export');
    docker(engine, ['run', '-d', '--name', exported, '--label', `${TEST_LABEL}=ssh`, 'dc-busybox:latest', 'sh', '-c', 'dd if=/dev/urandom of=/big.bin bs=1M count=8 2>/dev/null; sync; sleep 600']);
    for (let i = 0; i < 100; i++) {
      if (docker(engine, ['exec', exported, 'sh', '-c', 'stat -c %s /big.bin 2>/dev/null || echo 0']).trim() === String(8 * 1024 * 1024)) break;
      execFileSync('sleep', ['0.2']);
    }
  });
  afterAll(() => {
    dc?.close();
    docker(engine, ['rm', '-f', plain, exported]);
    for (const image of images) spawnSync('docker', ['-H', engine.host, 'rmi', '-f', image]);
  });

  it('CLI: get_version over ssh:// with one login, leaving no SSH connection or remote process behind', async () => {
    const before = logins(engine);
    const r = await runCli(['run', 'get_version', '--host', host, ...keyArgs()], { HOME: isolatedHome() });
    expect(r.code, r.stderr).toBe(0);
    // An SSH connection still holding the event loop would keep the CLI alive until it closes when idle (30 s).
    expect(r.ms).toBeLessThan(PROMPT_EXIT_MS);
    expect(JSON.parse(r.stdout)).toMatchObject({ ApiVersion: engine.apiVersion, Version: engine.version });
    expect(await settled(() => logins(engine), (n) => n > before)).toBe(before + 1);
    expect(await noLeftovers(engine)).toEqual({ tcp: [], dialers: [] });
  });

  it('CLI: DOCKER_HOST=ssh://… and DOCKER_CONNECTOR_SSH_* settings, list_containers', async () => {
    const r = await runCli(['run', 'list_containers', '-p', 'all=true'], {
      HOME: isolatedHome(),
      DOCKER_HOST: host,
      DOCKER_CONNECTOR_SSH_KEY: ssh().key,
      DOCKER_CONNECTOR_SSH_KNOWN_HOSTS: ssh().knownHostsHashed,
    });
    expect(r.code, r.stderr).toBe(0);
    const names = (JSON.parse(r.stdout) as { Names: string[] }[]).flatMap((c) => c.Names);
    expect(names).toContain(`/${plain}`);
  });

  it('CLI: exec with stdin (an upgraded connection) opens exactly one login and exits promptly', async () => {
    const before = logins(engine);
    const channelsBefore = channels(engine);
    const r = await runCli(['run', 'exec_container', '--host', host, ...keyArgs(), '--params', JSON.stringify({ container: plain, command: ['cat'], stdin: 'over ssh\n' })], {
      HOME: isolatedHome(),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stdout: 'over ssh\n', exit_code: 0 });
    expect(r.ms).toBeLessThan(PROMPT_EXIT_MS);
    expect(await settled(() => logins(engine), (n) => n > before)).toBe(before + 1);
    // exec create, the upgraded start and exec inspect: more than one channel on that one login.
    expect(await settled(() => channels(engine), (n) => n >= channelsBefore + 2)).toBeGreaterThanOrEqual(channelsBefore + 2);
    expect(await noLeftovers(engine)).toEqual({ tcp: [], dialers: [] });
  });

  it('library: buffered calls, exec with stdin, logs, events, export (sha256 = docker export) share one login', async () => {
    const before = logins(engine);
    const channelsBefore = channels(engine);
    dc = connectorFor(engine, { host, ssh_key: ssh().encryptedKey, ssh_key_passphrase: ssh().encryptedKeyPassphrase, ssh_known_hosts: ssh().knownHosts });
    expect(dc.engine.endpointDescription).toEqual({ address: host, kind: 'ssh', tls: false });
    const version = await dc.execute('get_version', {});
    expect(version).toMatchObject({ ApiVersion: engine.apiVersion });
    const list = await dc.execute('list_containers', { all: true });
    expect(list.map((c) => c.Names?.[0])).toContain(`/${plain}`);
    const [e1, e2] = await Promise.all([
      dc.execute('exec_container', { container: plain, command: ['cat'], stdin: 'one\n' }),
      dc.execute('exec_container', { container: plain, command: ['sh', '-c', 'wc -c'], stdin: 'x'.repeat(100_000) }),
    ]);
    expect(e1).toMatchObject({ stdout: 'one\n', exit_code: 0 });
    expect(e2.stdout.trim()).toBe('100000');
    const logs = await dc.execute('container_logs', { container: plain });
    expect(logs).toMatchObject({ stdout: 'hello\n', stderr: 'oops\n', truncated: false });
    const volume = uniqueName('dct-ssh-vol');
    const since = Math.floor(Date.now() / 1000) - 1;
    docker(engine, ['volume', 'create', '--label', `${TEST_LABEL}=ssh`, volume]);
    docker(engine, ['volume', 'rm', volume]);
    const events = await dc.execute('system_events', { since: String(since), until: String(Math.floor(Date.now() / 1000) + 1), filters: { type: ['volume'] } });
    expect(events.events.map((e: { Actor?: { ID?: string } }) => e.Actor?.ID)).toContain(volume);
    const path = join(work, `export-${engine.name}.tar`);
    const exp = await dc.execute('container_export', { container: exported, path });
    const reference = execFileSync('docker', ['-H', engine.host, 'export', exported], { maxBuffer: 64 * 1024 * 1024 });
    expect(exp.bytes).toBe(reference.length);
    expect(exp.sha256).toBe(sha256(reference));
    expect(sha256(readFileSync(path))).toBe(exp.sha256);
    expect(await settled(() => logins(engine), (n) => n > before)).toBe(before + 1);
    expect(channels(engine) - channelsBefore).toBeGreaterThan(3);
  });

  it('library: push and pull through the harness registry', async () => {
    const reg = harness().registry;
    const auth = { username: reg.username, password: reg.password, serveraddress: engine.registry };
    const repo = `${engine.registry}/${uniqueName('dct-ssh')}/app`;
    docker(engine, ['tag', 'dc-busybox:latest', `${repo}:v1`]);
    images.push(`${repo}:v1`);
    const pushed = await dc.execute('push_image', { image: repo, tag: 'v1', auth });
    expect(pushed.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    docker(engine, ['rmi', `${repo}:v1`]);
    const pulled = await dc.execute('pull_image', { image: repo, tag: 'v1', auth });
    expect(pulled).toMatchObject({ image: `${repo}:v1`, digest: pushed.digest, changed: true });
    // The image (the harness busybox) may carry digests of other repositories other tests pushed it to.
    expect(JSON.parse(docker(engine, ['image', 'inspect', '--format', '{{json .RepoDigests}}', `${repo}:v1`]))).toContain(`${repo}@${pushed.digest}`);
  });

  it('an unknown host key is refused: exit 1, "host key", the host and its SHA256 fingerprint, nothing sent', async () => {
    const empty = join(work, `known-empty-${engine.name}`);
    writeFileSync(empty, '');
    const before = logins(engine);
    const volume = uniqueName('dct-ssh-never');
    const r = await runCli(['run', 'create_volume', '--host', host, '--ssh-key', ssh().key, '--ssh-known-hosts', empty, '-p', `name=${volume}`], { HOME: isolatedHome() });
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stderr).error as { code: string; message: string };
    expect(err.code).toBe('CONNECTION_FAILED');
    expect(err.message).toContain('host key');
    expect(err.message).toContain(`[127.0.0.1]:${sshOf(engine).port}`);
    expect(err.message).toContain(fingerprintOf(sshOf(engine).hostKey));
    expect(err.message).toMatch(/not known/);
    // No login happened and the Engine saw nothing.
    await new Promise((res) => setTimeout(res, 300));
    expect(logins(engine)).toBe(before);
    expect(spawnSync('docker', ['-H', engine.host, 'volume', 'inspect', volume]).status).not.toBe(0);
  });

  it('a changed host key is refused the same way, naming the known_hosts line', async () => {
    const other = ssh().engines.find((e) => e.name !== engine.name)!;
    const changed = join(work, `known-changed-${engine.name}`);
    const otherKey = readFileSync(other.hostKey, 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(changed, `[127.0.0.1]:${sshOf(engine).port} ${otherKey}\n`);
    const before = logins(engine);
    const dcChanged = connectorFor(engine, { host, ssh_key: ssh().key, ssh_known_hosts: changed });
    try {
      const err = await failure(dcChanged.execute('get_version', {}));
      expect(err.code).toBe('CONNECTION_FAILED');
      expect(err.message).toMatch(/host key of \[127\.0\.0\.1\]:\d+ has CHANGED/);
      expect(err.message).toContain(fingerprintOf(sshOf(engine).hostKey));
      expect(err.message).toContain(`${changed} (line 1)`);
    } finally {
      dcChanged.close();
    }
    await new Promise((res) => setTimeout(res, 300));
    expect(logins(engine)).toBe(before);
  });
});

describe('ssh:// authentication and trust', () => {
  const engine = engines()[0]!;
  const host = () => sshOf(engine).host;

  it('the SSH agent: a key only the agent holds logs in; without agent or keys the login fails naming user and host', async () => {
    const agentDir = mkdtempSync(join(work, 'agent-'));
    const sock = join(agentDir, 'agent.sock');
    const out = execFileSync('ssh-agent', ['-s', '-a', sock], { encoding: 'utf8' });
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)![1]);
    try {
      execFileSync('ssh-add', [ssh().agentKey], { env: { SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const before = logins(engine);
      const r = await runCli(['run', 'get_version', '--host', host(), '--ssh-known-hosts', ssh().knownHosts], { HOME: isolatedHome(), SSH_AUTH_SOCK: sock });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ApiVersion: engine.apiVersion });
      await settled(() => logins(engine), (n) => n > before);
      // The login used the agent's key (its fingerprint is in sshd's log line).
      const agentFp = fingerprintOf(`${ssh().agentKey}.pub`);
      expect(readFileSync(sshOf(engine).log, 'utf8').split('\n').filter((l) => l.includes('Accepted publickey')).at(-1)).toContain(agentFp);
    } finally {
      process.kill(pid);
    }
    const none = await runCli(['run', 'get_version', '--host', host(), '--ssh-known-hosts', ssh().knownHosts], { HOME: isolatedHome() });
    expect(none.code).toBe(1);
    const err = JSON.parse(none.stderr).error as { code: string; message: string };
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toContain(`SSH login as ${ssh().user}@127.0.0.1 (port ${sshOf(engine).port}) failed`);
  });

  it('default keys: ~/.ssh/id_ed25519 logs in when nothing else is configured', async () => {
    const home = isolatedHome();
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    copyFileSync(ssh().key, join(home, '.ssh', 'id_ed25519'));
    copyFileSync(ssh().knownHosts, join(home, '.ssh', 'known_hosts'));
    const r = await runCli(['run', 'get_version', '--host', host()], { HOME: home });
    expect(r.code, r.stderr).toBe(0);
  });

  it('ssh_key as PEM text with its passphrase; the config command shows neither', async () => {
    const text = readFileSync(ssh().encryptedKey, 'utf8');
    const env = { HOME: isolatedHome(), DOCKER_CONNECTOR_SSH_KEY: text, DOCKER_CONNECTOR_SSH_KEY_PASSPHRASE: ssh().encryptedKeyPassphrase, DOCKER_CONNECTOR_SSH_KNOWN_HOSTS: ssh().knownHosts };
    const r = await runCli(['run', 'get_version', '--host', host()], env);
    expect(r.code, r.stderr).toBe(0);
    const shown = await runCli(['config', '--host', host()], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).not.toContain('BEGIN');
    expect(shown.stdout).not.toContain(ssh().encryptedKeyPassphrase);
    expect(JSON.parse(shown.stdout)).toMatchObject({ ssh_key: '[REDACTED]', ssh_key_passphrase: '[REDACTED]' });
    // A wrong passphrase is a configuration error naming the field, not quoting the key or the passphrase.
    const wrong = await runCli(['run', 'get_version', '--host', host()], { ...env, DOCKER_CONNECTOR_SSH_KEY_PASSPHRASE: 'not-the-passphrase' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('ssh_key_passphrase does not decrypt it');
    expect(wrong.stderr).not.toContain('not-the-passphrase');
    expect(wrong.stderr).not.toContain('BEGIN');
  });

  it('ssh_known_hosts=accept-new records an unknown host key, says so, and trusts it next time', async () => {
    const home = isolatedHome();
    const args = ['run', 'get_version', '--host', host(), '--ssh-key', ssh().key, '--ssh-known-hosts', 'accept-new'];
    const first = await runCli(args, { HOME: home });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('has been added to');
    expect(first.stderr).toContain(fingerprintOf(sshOf(engine).hostKey));
    const recorded = readFileSync(join(home, '.ssh', 'known_hosts'), 'utf8');
    expect(recorded).toBe(`[127.0.0.1]:${sshOf(engine).port} ${readFileSync(sshOf(engine).hostKey, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    expect(statSync(join(home, '.ssh', 'known_hosts')).mode & 0o777).toBe(0o600);
    const second = await runCli(args, { HOME: home });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toBe('');
    // A changed key is refused even so.
    const other = ssh().engines.find((e) => e.name !== engine.name)!;
    writeFileSync(join(home, '.ssh', 'known_hosts'), `[127.0.0.1]:${sshOf(engine).port} ${readFileSync(other.hostKey, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const third = await runCli(args, { HOME: home });
    expect(third.code).toBe(1);
    expect(third.stderr).toContain('has CHANGED');
  });

  it('a refused connection is CONNECTION_FAILED like a TCP endpoint, exit 1', async () => {
    const r = await runCli(['run', 'get_version', '--host', 'ssh://root@127.0.0.1:1', ...keyArgs(), '--retry-attempts', '0'], { HOME: isolatedHome() });
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stderr).error as { code: string; message: string };
    expect(err).toMatchObject({ code: 'CONNECTION_FAILED' });
    expect(err.message).toContain('Cannot connect to the Docker Engine at ssh://root@127.0.0.1:1: ECONNREFUSED');
  });

  it('ssh2 and the SSH code load only for ssh:// hosts', async () => {
    const hook = `data:text/javascript,${encodeURIComponent(
      "import { register } from 'node:module'; import { appendFileSync } from 'node:fs';" +
        "const { port1, port2 } = new MessageChannel(); port1.on('message', (u) => appendFileSync(process.env.DC_LOADED, u + '\\n')); port1.unref();" +
        "register('data:text/javascript,' + encodeURIComponent('let p; export function initialize(d) { p = d.port; } export async function load(u, c, n) { p.postMessage(u); return n(u, c); }'), { data: { port: port2 }, transferList: [port2] });",
    )}`;
    const loadedBy = async (args: string[]): Promise<string[]> => {
      const record = join(mkdtempSync(join(work, 'load-')), 'loaded.txt');
      writeFileSync(record, '');
      const r = await runCli(args, { HOME: isolatedHome(), DC_LOADED: record, NODE_OPTIONS: `--import=${hook}` });
      expect(r.code, r.stderr).toBe(0);
      return readFileSync(record, 'utf8').split('\n').filter(Boolean);
    };
    const sshModules = (loaded: string[]) => loaded.filter((u) => /node_modules\/ssh2\/|\/bundle\/ssh-session-/.test(u));
    expect(sshModules(await loadedBy(['run', 'ping', '--host', engine.host]))).toEqual([]);
    expect(sshModules(await loadedBy(['run', 'ping', '--host', host(), ...keyArgs()])).length).toBeGreaterThan(1);
  });
});

afterAll(() => {
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
});
