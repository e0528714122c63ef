/**
 * Cut streams are failures: a connection reset in the middle of an export,
 * a log, a save, a copy or a pull gives STREAM_ERROR (a silent one, TIMEOUT)
 * and leaves no partial file. Files are never overwritten unless asked.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DockerConnector } from 'docker-connector';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { engines, harness } from '../support/harness.js';
import { failure } from '../support/expect-error.js';

const LABELS = { [TEST_LABEL]: uniqueName('reliability-streams') };


describe.each(engines())('cut streams on Engine $name', (engine) => {
  let proxy: FaultProxy;
  let dc: DockerConnector;
  let direct: DockerConnector;
  const tmp = mkdtempSync(join(tmpdir(), 'dc-rel-streams-'));
  let container: string;
  let n = 0;
  /** A fresh empty folder per case: "nothing left" is "still empty". */
  const folder = () => {
    const d = join(tmp, `case-${++n}`);
    mkdirSync(d);
    return d;
  };

  beforeAll(async () => {
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    const host = await proxy.start();
    dc = connectorFor(engine, { host, timeout: 2, retry_attempts: 2, retry_delay: 0.02 });
    direct = connectorFor(engine);
    // ~90 KB of log and a file system to export and copy.
    container = uniqueName('dct-rel-streams');
    await direct.execute('create_container', {
      image: harness().image,
      name: container,
      command: [
        'sh',
        '-c',
        // Links that point out of any folder they are copied into, and a harmless file beside them.
        'mkdir -p /data/sub /links && echo hi > /data/ok.txt && echo deep > /data/sub/f && ln -s /etc/passwd /links/abs && ln -s ../../../../../../../../etc /links/rel && ln -s ../../.. /data/sub/up && ' +
          'i=0; while [ $i -lt 6000 ]; do echo "line $i of the log"; i=$((i+1)); done; sleep 600',
      ],
      labels: LABELS,
    });
    await direct.execute('start_container', { container });
    for (let i = 0; i < 50; i++) {
      const logs = (await direct.execute('container_logs', { container, tail: 1 })) as { stdout: string };
      if (logs.stdout.includes('line 5999')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await direct.execute('remove_container', { container, force: true }).catch(() => undefined);
    dc.close();
    direct.close();
    await proxy.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const cut = (path: RegExp, afterBodyBytes: number) => {
    proxy.clear();
    proxy.add({ match: (_m, p) => path.test(p), action: 'reset-mid-response', afterBodyBytes });
  };

  it('container_export cut midway: STREAM_ERROR, no file, no .part', async () => {
    const dir = folder();
    cut(/\/export$/, 64 * 1024);
    const e = await failure(dc.execute('container_export', { container, path: join(dir, 'fs.tar') }));
    expect(e.code).toBe('STREAM_ERROR');
    expect(readdirSync(dir)).toEqual([]);
    expect(proxy.forwarded('GET', /\/export$/)).toHaveLength(1); // a started stream is not silently restarted
  });

  it('container_export that goes silent midway: TIMEOUT, no file', async () => {
    const dir = folder();
    proxy.clear();
    proxy.add({ match: (_m, p) => p.endsWith('/export'), action: 'stall-mid-response', afterBodyBytes: 32 * 1024 });
    const started = performance.now();
    const e = await failure(dc.execute('container_export', { container, path: join(dir, 'fs.tar') }));
    expect(e.code).toBe('TIMEOUT');
    expect(performance.now() - started).toBeLessThan(2000 + 1000);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('container_logs to a file, cut midway: STREAM_ERROR, no file', async () => {
    const dir = folder();
    cut(/\/logs\?/, 4096);
    const e = await failure(dc.execute('container_logs', { container, path: join(dir, 'log.txt') }));
    expect(e.code).toBe('STREAM_ERROR');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('container_logs into the result, cut midway: STREAM_ERROR, not a short log passed off as whole', async () => {
    cut(/\/logs\?/, 4096);
    const e = await failure(dc.execute('container_logs', { container }));
    expect(e.code).toBe('STREAM_ERROR');
  });

  it('save_images cut midway: STREAM_ERROR, no file', async () => {
    const dir = folder();
    cut(/\/images\/get\?/, 100 * 1024);
    const e = await failure(dc.execute('save_images', { images: [harness().image], path: join(dir, 'img.tar') }));
    expect(e.code).toBe('STREAM_ERROR');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('copy_from_container cut midway: STREAM_ERROR, nothing extracted', async () => {
    const dir = folder();
    cut(/\/archive\?/, 64 * 1024);
    const e = await failure(dc.execute('copy_from_container', { container, path: '/bin', dest: dir }));
    expect(e.code).toBe('STREAM_ERROR');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('system_events cut midway: STREAM_ERROR', async () => {
    // Events of this container exist (create, start): the body has something to cut.
    cut(/\/events\?/, 10);
    const e = await failure(dc.execute('system_events', { since: '10m', filters: { container: [container] } }));
    expect(e.code).toBe('STREAM_ERROR');
  });

  it('pull_image cut in the middle of its progress: STREAM_ERROR, not success', async () => {
    const auth = { username: harness().registry.username, password: harness().registry.password, serveraddress: engine.registry };
    const repo = `${engine.registry}/dct/${uniqueName('rel-cutpull')}`;
    await direct.execute('tag_image', { image: harness().image, repo, tag: 'v1' });
    try {
      await direct.execute('push_image', { image: repo, tag: 'v1', auth });
      await direct.execute('remove_image', { image: `${repo}:v1` });
      cut(/\/images\/create\?/, 20);
      const e = await failure(dc.execute('pull_image', { image: repo, tag: 'v1', auth }));
      expect(e.code).toBe('STREAM_ERROR');
      expect(e.message).toMatch(/cut before its end/);
    } finally {
      await direct.execute('remove_image', { image: `${repo}:v1`, force: true }).catch(() => undefined);
    }
  });

  it('copy_from_container of folders holding links that point out: refused, nothing written anywhere', async () => {
    proxy.clear();
    const parent = folder();
    const dest = join(parent, 'dest');
    mkdirSync(dest);
    for (const path of ['/links', '/data']) {
      const e = await failure(dc.execute('copy_from_container', { container, path, dest }));
      expect(e.code).toBe('STREAM_ERROR');
      expect(e.message).toMatch(/symlink/);
      expect(readdirSync(dest)).toEqual([]);
      expect(readdirSync(parent)).toEqual(['dest']);
    }
    // The harmless parts copy fine.
    const ok = (await dc.execute('copy_from_container', { container, path: '/data/ok.txt', dest })) as { count: number };
    expect(ok.count).toBe(1);
    expect(readFileSync(join(dest, 'ok.txt'), 'utf8')).toBe('hi\n');
  });

  it('export, save and logs refuse to overwrite an existing file unless overwrite: true; nothing is sent first', async () => {
    const dir = folder();
    const file = join(dir, 'existing');
    writeFileSync(file, 'keep me');
    proxy.clear();
    const attempts: [string, Record<string, unknown>][] = [
      ['container_export', { container, path: file }],
      ['save_images', { images: [harness().image], path: file }],
      ['container_logs', { container, path: file }],
    ];
    for (const [op, params] of attempts) {
      const e = await failure(dc.executeDynamic(op, params));
      expect(e.code).toBe('INVALID_PARAMS');
      expect(e.message).toMatch(/exists; pass overwrite: true/);
      expect(readFileSync(file, 'utf8')).toBe('keep me');
    }
    expect(proxy.seen.filter((r) => /export|images\/get|logs/.test(r.path))).toHaveLength(0);
    // With overwrite the file is replaced, atomically, and no temporary file remains.
    const saved = (await dc.execute('save_images', { images: [harness().image], path: file, overwrite: true })) as { bytes: number };
    expect(readFileSync(file).length).toBe(saved.bytes);
    expect(readdirSync(dir)).toEqual(['existing']);
  });

  it('a cut overwrite leaves the old file as it was', async () => {
    const dir = folder();
    const file = join(dir, 'existing.tar');
    writeFileSync(file, 'old content');
    cut(/\/export$/, 64 * 1024);
    const e = await failure(dc.execute('container_export', { container, path: file, overwrite: true }));
    expect(e.code).toBe('STREAM_ERROR');
    expect(readFileSync(file, 'utf8')).toBe('old content');
    expect(readdirSync(dir)).toEqual(['existing.tar']);
  });
});
