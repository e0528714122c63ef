import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, DockerConnector } from 'docker-connector';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';
import { failure } from '../support/expect-error.js';
import { docker } from '../support/docker-cli.js';

const IMAGE = 'dc-busybox:latest';
const LABEL = `${TEST_LABEL}=containers-io`;

/** A labelled busybox container started with the docker CLI (fixtures only; the code under test is the connector). */
function runFixture(engine: HarnessEngine, script: string, opts: string[] = []): string {
  return docker(engine, ['run', '-d', '--label', LABEL, '--name', uniqueName('dcio'), ...opts, IMAGE, 'sh', '-c', script]).trim();
}

/** Waits until the container's log holds `text` (the fixture has written everything the tests read). */
function waitForLog(engine: HarnessEngine, id: string, text: string): void {
  for (let i = 0; i < 100; i++) {
    if (execFileSync('docker', ['-H', engine.host, 'logs', id], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().includes(text)) return;
    execFileSync('sleep', ['0.1']);
  }
  throw new Error(`fixture ${id} never logged ${text}`);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** Every path under `dir`, relative, sorted. */
function tree(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((d) => {
      const rel = prefix ? `${prefix}/${d.name}` : d.name;
      return d.isDirectory() ? [rel, ...tree(dir, rel)] : [rel];
    })
    .sort();
}

describe.each(engines())('container I/O on Engine $version (API $apiVersion)', (engine) => {
  let dc: DockerConnector;
  let plain: string; // no TTY: separate stdout/stderr
  let tty: string; // TTY: one raw stream
  let work: string;

  beforeAll(() => {
    dc = connectorFor(engine);
    work = mkdtempSync(join(tmpdir(), 'dc-io-'));
    // The pause lets the Engine log "oops" before the loop: `tail` counts lines of both streams before filtering.
    plain = runFixture(engine, 'echo hello; echo oops >&2; sleep 0.5; i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done; sleep 600');
    tty = runFixture(engine, 'echo tty-out; echo tty-err >&2; sleep 600', ['-t']);
    waitForLog(engine, plain, 'line-199');
    waitForLog(engine, tty, 'tty-err');
  });

  afterAll(() => {
    const ids = docker(engine, ['ps', '-aq', '--filter', `label=${LABEL}`]).split('\n').filter(Boolean);
    if (ids.length) docker(engine, ['rm', '-f', ...ids]);
    rmSync(work, { recursive: true, force: true });
    dc.close();
  });

  describe('exec_container', () => {
    it('separates stdout and stderr and returns a non-zero exit code as a result', async () => {
      const r = await dc.execute('exec_container', { container: plain, command: 'echo out; echo err >&2; exit 3' });
      expect(r).toMatchObject({ exit_code: 3, stdout: 'out\n', stderr: 'err\n', truncated: false });
      expect(r.exec_id).toMatch(/^[0-9a-f]{64}$/);
    });

    it('with a TTY returns both streams raw in stdout', async () => {
      const r = await dc.execute('exec_container', { container: plain, command: 'echo out; echo err >&2; exit 3', tty: true });
      expect(r.exit_code).toBe(3);
      expect(r.stderr).toBe('');
      expect(r.stdout.replace(/\r/g, '')).toBe('out\nerr\n');
    });

    it('feeds stdin and closes it, without and with a TTY', async () => {
      const r = await dc.execute('exec_container', { container: plain, command: 'cat; echo done >&2', stdin: 'fed input\n' });
      expect(r).toMatchObject({ exit_code: 0, stdout: 'fed input\n', stderr: 'done\n' });

      const big = 'x'.repeat(300_000);
      const sized = await dc.execute('exec_container', { container: plain, command: ['wc', '-c'], stdin: big });
      expect(sized.stdout.trim()).toBe('300000');

      const t = await dc.execute('exec_container', { container: plain, command: 'read line; echo "got $line"; exit 4', stdin: 'abc\n', tty: true });
      expect(t.exit_code).toBe(4);
      expect(t.stdout).toContain('got abc');
    });

    it('runs an array command with env, user and working directory', async () => {
      const r = await dc.execute('exec_container', {
        container: plain,
        command: ['sh', '-c', 'echo "$FOO"; pwd; id -u'],
        env: { FOO: 'bar baz' },
        user: '1234',
        working_dir: '/tmp',
      });
      expect(r).toMatchObject({ exit_code: 0, stdout: 'bar baz\n/tmp\n1234\n' });
    });

    it('caps each stream at max_bytes and still returns the exit code', async () => {
      const r = await dc.execute('exec_container', { container: plain, command: 'yes abcdefgh | head -c 200000; echo e >&2; exit 5', max_bytes: 1000 });
      expect(r).toMatchObject({ exit_code: 5, truncated: true, stderr: 'e\n' });
      expect(r.stdout).toHaveLength(1000);
    });

    it('fails with the exit code and output when fail_on_error', async () => {
      const err = await failure(() => dc.execute('exec_container', { container: plain, command: 'echo partial; exit 7', fail_on_error: true }));
      expect(err.code).toBe('ENGINE_ERROR');
      expect(err.details).toMatchObject({ exit_code: 7, stdout: 'partial\n' });
    });

    it('reports a missing command as its exit code (126/127), not a crash', async () => {
      const r = await dc.execute('exec_container', { container: plain, command: ['/no/such/binary'] });
      expect([126, 127]).toContain(r.exit_code);
    });

    it('times out a command that runs too long', async () => {
      const started = Date.now();
      const err = await failure(() => dc.execute('exec_container', { container: plain, command: 'sleep 30', timeout: 1 }));
      expect(err.code).toBe('TIMEOUT');
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('refuses bad parameters, naming them', async () => {
      const err = await failure(() => dc.execute('exec_container', { container: plain, command: [] } as never));
      expect(err.code).toBe('INVALID_PARAMS');
      expect(err.message).toContain('command');
      const env = await failure(() => dc.execute('exec_container', { container: plain, command: 'true', env: ['NOEQUALS'] }));
      expect(env.message).toContain('env');
      const missing = await failure(() => dc.execute('exec_container', { container: uniqueName('nosuch'), command: 'true' }));
      expect(missing.code).toBe('NOT_FOUND');
    });
  });

  describe('container_logs', () => {
    it('returns stdout and stderr separately', async () => {
      const r = await dc.execute('container_logs', { container: plain });
      expect(r).toMatchObject({ stderr: 'oops\n', truncated: false });
      expect((r as { stdout: string }).stdout).toMatch(/^hello\nline-0\n[\s\S]*line-199\n$/);
      const onlyErr = await dc.execute('container_logs', { container: plain, stdout: false });
      expect(onlyErr).toMatchObject({ stdout: '', stderr: 'oops\n' });
    });

    it('cuts at max_bytes', async () => {
      const r = (await dc.execute('container_logs', { container: plain, max_bytes: 100 })) as { stdout: string; stderr: string; truncated: boolean };
      expect(r.truncated).toBe(true);
      expect(Buffer.byteLength(r.stdout) + Buffer.byteLength(r.stderr)).toBe(100);
    });

    it('gives lines with timestamps, and honours tail', async () => {
      const r = (await dc.execute('container_logs', { container: plain, timestamps: true })) as { lines: { stream: string; timestamp: string; text: string }[] };
      expect(r.lines).toHaveLength(202);
      expect(r.lines).toContainEqual(expect.objectContaining({ stream: 'stderr', text: 'oops' }));
      expect(r.lines.find((l) => l.stream === 'stdout')).toMatchObject({ text: 'hello' });
      for (const line of r.lines) expect(Number.isNaN(Date.parse(line.timestamp))).toBe(false);

      const tail = (await dc.execute('container_logs', { container: plain, stderr: false, tail: 3 })) as { stdout: string };
      expect(tail.stdout).toBe('line-197\nline-198\nline-199\n');
    });

    it('filters by time', async () => {
      const recent = (await dc.execute('container_logs', { container: plain, since: '1h' })) as { stdout: string };
      expect(recent.stdout).toContain('line-199');
      const old = (await dc.execute('container_logs', { container: plain, until: 1_000_000_000 })) as { stdout: string; stderr: string };
      expect(old).toMatchObject({ stdout: '', stderr: '' });
    });

    it('reads a TTY container as one raw stream', async () => {
      const r = (await dc.execute('container_logs', { container: tty })) as { stdout: string; stderr: string };
      expect(r.stderr).toBe('');
      expect(r.stdout.replace(/\r/g, '')).toBe('tty-out\ntty-err\n');
    });

    it('follows new output for follow_for seconds', async () => {
      const ticker = runFixture(engine, 'i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done');
      const started = Date.now();
      const r = (await dc.execute('container_logs', { container: ticker, follow_for: 1.5 })) as { stdout: string; truncated: boolean };
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThan(10_000);
      expect(r.truncated).toBe(false);
      // Ticks printed during the window arrived: at least a few beyond what was there at the start.
      expect(r.stdout.split('\n').filter((l) => l.startsWith('tick-')).length).toBeGreaterThanOrEqual(5);
    });

    it('writes the log to a file, and opens it as a stream', async () => {
      const path = join(work, `log-${engine.name}.txt`);
      const r = (await dc.execute('container_logs', { container: plain, path })) as { path: string; bytes: number; sha256: string; truncated: boolean };
      const content = readFileSync(path);
      expect(r).toMatchObject({ path, bytes: content.length, sha256: sha256(content), truncated: false });
      expect(content.toString()).toContain('oops\n');
      expect(content.toString()).toContain('line-199\n');
      const again = await failure(() => dc.execute('container_logs', { container: plain, path }));
      expect(again.code).toBe('INVALID_PARAMS');

      const capped = join(work, `log-capped-${engine.name}.txt`);
      const cut = (await dc.execute('container_logs', { container: plain, path: capped, stderr: false, max_bytes: 10 })) as { bytes: number; truncated: boolean };
      expect(cut).toMatchObject({ bytes: 10, truncated: true });
      expect(readFileSync(capped, 'utf8')).toBe('hello\nline');

      const { stream, contentType } = await dc.executeStream('container_logs', { container: plain, stderr: false, max_bytes: 6 });
      expect(contentType).toContain('text/plain');
      expect((await readAll(stream)).toString()).toBe('hello\n');
    });

    it('refuses to read neither stream', async () => {
      const err = await failure(() => dc.execute('container_logs', { container: plain, stdout: false, stderr: false }));
      expect(err.code).toBe('INVALID_PARAMS');
      expect(err.message).toContain('stdout');
    });
  });

  describe('container_stats', () => {
    it('computes docker-stats figures for a running container', async () => {
      const s = await dc.execute('container_stats', { container: plain });
      expect(s.memory_usage).toBeGreaterThan(0);
      expect(s.memory_limit).toBeGreaterThan(s.memory_usage!);
      expect(s.memory_percent).toBeGreaterThan(0);
      expect(s.memory_percent).toBeLessThan(100);
      expect(s.cpu_percent).toBeGreaterThanOrEqual(0);
      expect(s.pids).toBeGreaterThanOrEqual(1);
      expect(s.network_rx_bytes).toBeGreaterThanOrEqual(0);
      expect(s.block_read_bytes).toBeGreaterThanOrEqual(0);
      // The Engine's own object is there too.
      expect(s).toHaveProperty('memory_stats');
      expect(s).toHaveProperty('cpu_stats');
    });

    it('reports unknown figures of a stopped container as null', async () => {
      const stopped = docker(engine, ['create', '--label', LABEL, IMAGE, 'true']).trim();
      const s = await dc.execute('container_stats', { container: stopped });
      expect(s).toMatchObject({ memory_usage: null, cpu_percent: null, network_rx_bytes: 0 });
    });

    it('one_shot answers without a CPU baseline: cpu_percent is null', async () => {
      const s = await dc.execute('container_stats', { container: plain, one_shot: true });
      expect(s.cpu_percent).toBeNull();
      expect(s.memory_usage).toBeGreaterThan(0);
    });
  });

  describe('container_export', () => {
    let exported: string;

    beforeAll(() => {
      exported = runFixture(engine, 'dd if=/dev/urandom of=/big.bin bs=1M count=20 2>/dev/null; sync; sleep 600');
      // Wait until the 20 MB file is complete.
      for (let i = 0; i < 100; i++) {
        const size = docker(engine, ['exec', exported, 'sh', '-c', 'stat -c %s /big.bin 2>/dev/null || echo 0']).trim();
        if (size === String(20 * 1024 * 1024)) return;
        execFileSync('sleep', ['0.2']);
      }
      throw new Error('fixture file never reached 20 MB');
    });

    it('streams the file system to disk, matching docker export', async () => {
      const path = join(work, `export-${engine.name}.tar`);
      const r = await dc.execute('container_export', { container: exported, path });
      const reference = execFileSync('docker', ['-H', engine.host, 'export', exported], { maxBuffer: 256 * 1024 * 1024 });
      expect(r.path).toBe(path);
      expect(r.bytes).toBeGreaterThan(20 * 1024 * 1024);
      expect(r.bytes).toBe(reference.length);
      expect(r.sha256).toBe(sha256(reference));
      expect(sha256(readFileSync(path))).toBe(r.sha256);
      const listing = execFileSync('tar', ['-tf', path]).toString().split('\n');
      expect(listing).toContain('big.bin');
      // Only the final file: no temporary left behind.
      expect(readdirSync(work).filter((n) => n.includes(`export-${engine.name}`))).toEqual([`export-${engine.name}.tar`]);
    });

    it('never clobbers a file unless asked, and leaves nothing on failure', async () => {
      const path = join(work, `exists-${engine.name}.tar`);
      writeFileSync(path, 'keep');
      const err = await failure(() => dc.execute('container_export', { container: exported, path }));
      expect(err.code).toBe('INVALID_PARAMS');
      expect(readFileSync(path, 'utf8')).toBe('keep');

      const noPath = await failure(() => dc.execute('container_export', { container: exported }));
      expect(noPath.code).toBe('INVALID_PARAMS');
      expect(noPath.message).toContain('path');

      const gone = join(work, `missing-${engine.name}.tar`);
      const nf = await failure(() => dc.execute('container_export', { container: uniqueName('nosuch'), path: gone }));
      expect(nf.code).toBe('NOT_FOUND');
      expect(readdirSync(work).filter((n) => n.includes(`missing-${engine.name}`))).toEqual([]);
    });

    it('opens the export as a tar stream', async () => {
      const { stream, contentType } = await dc.executeStream('container_export', { container: exported });
      expect(contentType).toBe('application/x-tar');
      const data = await readAll(stream);
      expect(data.length).toBeGreaterThan(20 * 1024 * 1024);
    });
  });

  describe('copy_to_container / copy_from_container', () => {
    it('round-trips a folder tree (files, nested folders, symlinks, modes)', async () => {
      const src = join(work, `site-${engine.name}`);
      mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
      const blob = randomBytes(3 * 1024 * 1024);
      writeFileSync(join(src, 'index.html'), '<h1>hi</h1>\n');
      writeFileSync(join(src, 'sub', 'blob.bin'), blob);
      writeFileSync(join(src, 'sub', 'deeper', 'run.sh'), '#!/bin/sh\necho ok\n', { mode: 0o755 });
      writeFileSync(join(src, 'empty'), '');
      symlinkSync('index.html', join(src, 'link.html'));

      const up = await dc.execute('copy_to_container', { container: plain, src, path: '/tmp' });
      expect(up).toEqual({ files: 8, bytes: 12 + blob.length + 18 });
      const seen = await dc.execute('exec_container', { container: plain, command: `cd /tmp/site-${engine.name} && sha256sum sub/blob.bin && readlink link.html && sub/deeper/run.sh` });
      expect(seen.stdout).toBe(`${sha256(blob)}  sub/blob.bin\nindex.html\nok\n`);

      const dest = mkdtempSync(join(work, 'back-'));
      const down = await dc.execute('copy_from_container', { container: plain, path: `/tmp/site-${engine.name}`, dest });
      expect(down.bytes).toBe(12 + blob.length + 18);
      expect(down.count).toBe(8);
      expect(down.files).toContainEqual({ path: `site-${engine.name}/sub/blob.bin`, size: blob.length, type: 'file' });
      const back = join(dest, `site-${engine.name}`);
      expect(tree(back)).toEqual(tree(src));
      expect(sha256(readFileSync(join(back, 'sub', 'blob.bin')))).toBe(sha256(blob));
      expect(readlinkSync(join(back, 'link.html'))).toBe('index.html');
      expect(execFileSync(join(back, 'sub', 'deeper', 'run.sh')).toString()).toBe('ok\n');

      // A second copy into the same folder refuses to replace what is there, unless asked.
      const again = await failure(() => dc.execute('copy_from_container', { container: plain, path: `/tmp/site-${engine.name}`, dest }));
      expect(again.code).toBe('INVALID_PARAMS');
      const replaced = await dc.execute('copy_from_container', { container: plain, path: `/tmp/site-${engine.name}/index.html`, dest, overwrite: true });
      expect(replaced.files).toEqual([{ path: 'index.html', size: 12, type: 'file' }]);
      expect(readdirSync(dest).sort()).toEqual(['index.html', `site-${engine.name}`]);
    });

    it('refuses an archive whose links point outside dest, writing nothing', async () => {
      await dc.execute('exec_container', {
        container: plain,
        command: 'mkdir -p /evil-abs /evil-rel/sub && echo x > /evil-abs/a && ln -s /etc /evil-abs/etc && echo y > /evil-rel/sub/b && ln -s ../../../../../etc/passwd /evil-rel/sub/up',
        fail_on_error: true,
      });
      const outside = mkdtempSync(join(work, 'outside-'));
      const dest = join(outside, 'dest');
      mkdirSync(dest);
      for (const path of ['/evil-abs', '/evil-rel']) {
        const err = await failure(() => dc.execute('copy_from_container', { container: plain, path, dest }));
        expect(err.code).toBe('STREAM_ERROR');
        expect(err.message).toContain('symlink');
        expect(readdirSync(dest)).toEqual([]);
        expect(readdirSync(outside)).toEqual(['dest']);
      }
    });

    it('copies a single file and opens the raw archive', async () => {
      const dest = mkdtempSync(join(work, 'one-'));
      const r = await dc.execute('copy_from_container', { container: plain, path: '/etc/hostname', dest });
      expect(r.files).toEqual([{ path: 'hostname', size: expect.any(Number), type: 'file' }]);
      expect(readFileSync(join(dest, 'hostname'), 'utf8').trim()).toBe(plain.slice(0, 12));

      const { stream, contentType } = await dc.executeStream('copy_from_container', { container: plain, path: '/etc/hostname' });
      expect(contentType).toBe('application/x-tar');
      const tar = await readAll(stream);
      expect(tar.subarray(0, 8).toString()).toBe('hostname');
    });

    it('refuses bad sources and destinations before sending anything', async () => {
      const file = join(work, `plain-${engine.name}.txt`);
      writeFileSync(file, 'data');
      const notDir = await failure(() => dc.execute('copy_to_container', { container: plain, src: file, path: '/etc/hostname' }));
      expect(notDir.code).toBe('INVALID_PARAMS');
      expect(notDir.message).toContain('path');
      const noPath = await failure(() => dc.execute('copy_to_container', { container: plain, src: file, path: '/no/such/dir' }));
      expect(noPath.code).toBe('INVALID_PARAMS');
      const noContainer = await failure(() => dc.execute('copy_to_container', { container: uniqueName('nosuch'), src: file, path: '/tmp' }));
      expect(noContainer.code).toBe('NOT_FOUND');
      const noSrc = await failure(() => dc.execute('copy_to_container', { container: plain, src: join(work, 'nope'), path: '/tmp' }));
      expect(noSrc.message).toContain('src');
      const relative = await failure(() => dc.execute('copy_to_container', { container: plain, src: file, path: 'tmp' }));
      expect(relative.message).toContain('path');
      const noDest = await failure(() => dc.execute('copy_from_container', { container: plain, path: '/etc/hostname', dest: join(work, 'nope') }));
      expect(noDest.message).toContain('dest');
      expect(existsSync(join(work, 'nope'))).toBe(false);

      const single = await dc.execute('copy_to_container', { container: plain, src: file, path: '/tmp' });
      expect(single).toEqual({ files: 1, bytes: 4 });
      const check = await dc.execute('exec_container', { container: plain, command: `cat /tmp/plain-${engine.name}.txt` });
      expect(check.stdout).toBe('data');
    });
  });
});

describe('exec with stdin (hijacked connection) over TLS and through an authenticating proxy', () => {
  const env = harness();
  const engine = env.engines.find((e) => e.name === env.tls.engine)!;
  const proxied = env.engines.find((e) => e.name === env.proxy.engine)!;
  let onTls: string;
  let onProxied: string;

  beforeAll(() => {
    onTls = runFixture(engine, 'sleep 600');
    onProxied = runFixture(proxied, 'sleep 600');
  });

  afterAll(() => {
    docker(engine, ['rm', '-f', onTls]);
    docker(proxied, ['rm', '-f', onProxied]);
  });

  it('upgrades a TLS connection with the client certificate', async () => {
    const t = env.tls;
    const dc = new DockerConnector({ host: t.host.replace('tcp://', 'https://'), ca_cert: t.caCert, client_cert: t.clientCert, client_key: t.clientKey, rate_limit: 0, env: {} });
    try {
      const r = await dc.execute('exec_container', { container: onTls, command: 'tr a-z A-Z', stdin: 'over tls\n' });
      expect(r).toMatchObject({ exit_code: 0, stdout: 'OVER TLS\n', stderr: '' });
    } finally {
      dc.close();
    }
  });

  it('sends the proxy credentials on the upgrade request, and reports a refusal without the secret', async () => {
    const p = env.proxy;
    // With a TTY the input side stays open (no half-close), which nginx's upgraded proxying needs.
    const dc = new DockerConnector({ host: p.basicHost, username: p.username, password: p.password, rate_limit: 0, env: {} });
    try {
      const r = await dc.execute('exec_container', { container: onProxied, command: 'read line; echo "got $line"', stdin: 'through the proxy\n', tty: true });
      expect(r.exit_code).toBe(0);
      expect(r.stdout).toContain('got through the proxy');
    } finally {
      dc.close();
    }
    const wrong = new DockerConnector({ host: p.basicHost, username: p.username, password: 'not-the-password-789', rate_limit: 0, retry_attempts: 0, env: {} });
    try {
      const err = await failure(() => wrong.execute('exec_container', { container: onProxied, command: 'cat', stdin: 'x' }));
      expect(err.code).toBe('UNAUTHORIZED');
      expect(JSON.stringify(err.toJSON())).not.toContain('not-the-password-789');
    } finally {
      wrong.close();
    }
  });
});
