import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOperations, type OperationName, type ParamsOf } from 'docker-connector/catalogue';
import { runCli } from '../support/cli.js';
import { TEST_LABEL, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';

/*
 * Every operation of the catalogue, run at least once through the CLI users run
 * (bin/docker-connector.js → dist/bundle), on each harness Engine, with a check
 * of the result's documented shape (the manifest's `result`). The table is
 * keyed by operation name: an operation without an entry fails this file.
 *
 * The cases run in the table's order, one after another, and some use what an
 * earlier one left (pause before unpause, push before pull, isolate before
 * restore, save before load); prunes come last and are always limited to this
 * run's label value, so parallel test files never lose an object.
 */

const HEX64 = /^[0-9a-f]{64}$/;
/** A plan id every destructive dry run returns (src/plans.ts). */
const PLAN_ID = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

/** A result as the CLI prints it: plain JSON, whose shape each check states field by field. */
type Json = any;

/** Names and ids this file's fixtures carry on one Engine. */
interface Fx {
  engine: HarnessEngine;
  tmp: string;
  /** This run's TEST_LABEL value: every object here carries it and every prune filters on it. */
  value: string;
  labels: Record<string, string>;
  labelFilter: { label: string[] };
  /** The harness busybox image and its id. */
  image: string;
  imageId: string;
  c: Record<'main' | 'created' | 'toStop' | 'toRestart' | 'toKill' | 'toPause' | 'toRename' | 'toRemove' | 'exited' | 'iso', string>;
  /** system_prune's own objects: another label value, so the earlier prunes leave them. */
  sp: { value: string; labels: Record<string, string>; labelFilter: { label: string[] }; container: string; net: string; imageId: string };
  net: string;
  pruneNet: string;
  newNet: string;
  vol: string;
  newVol: string;
  renamed: string;
  tagRepo: string;
  pushRepo: string;
  saveRef: string;
  /** What one case leaves for a later one (the restore record, a pushed digest, …). */
  saved: Record<string, Json>;
}

interface Case<N extends OperationName> {
  /** What this case covers, when an operation has several. */
  title?: string;
  params: (fx: Fx) => ParamsOf<N>;
  /** Asserts the documented result shape, and a second view where it is cheap. */
  check: (result: Json, fx: Fx) => void;
}

type Table = { [N in OperationName]: Case<N> | Case<N>[] };

const creds = (fx: Fx) => ({ username: harness().registry.username, password: harness().registry.password, serveraddress: fx.engine.registry });
const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const changed = (container: string) => ({ container, changed: true });
const ref = { id: expect.stringMatching(HEX64), name: expect.any(String) };

const TABLE: Table = {
  // --- system ---
  ping: {
    params: () => ({}),
    check: (r, fx) => expect(r).toMatchObject({ ok: true, api_version: fx.engine.apiVersion, engine_api_version: fx.engine.apiVersion, os_type: 'linux', experimental: expect.any(Boolean) }),
  },
  get_version: {
    params: () => ({}),
    check: (r, fx) => expect(r).toMatchObject({ Version: fx.engine.version, ApiVersion: fx.engine.apiVersion, MinAPIVersion: expect.any(String), Os: 'linux', Arch: expect.any(String), KernelVersion: expect.any(String) }),
  },
  get_info: {
    params: () => ({}),
    check: (r, fx) => expect(r).toMatchObject({ ID: expect.any(String), Containers: expect.any(Number), Images: expect.any(Number), Driver: 'overlay2', MemTotal: expect.any(Number), NCPU: expect.any(Number), ServerVersion: fx.engine.version }),
  },
  system_df: {
    params: () => ({}),
    check: (r, fx) => {
      expect(r).toMatchObject({ LayersSize: expect.any(Number), Images: expect.any(Array), Containers: expect.any(Array), Volumes: expect.any(Array) });
      expect((r.Images as { Id: string }[]).map((i) => i.Id)).toContain(fx.imageId);
    },
  },
  system_events: {
    params: () => ({ since: '10m', max_events: 3 }),
    check: (r) => {
      expect(r).toMatchObject({ events: expect.any(Array), count: expect.any(Number), truncated: expect.any(Boolean), since: expect.any(Number), until: expect.any(Number) });
      // The fixtures were just created: there are events, and at most max_events of them.
      expect(r.count).toBe(r.events.length);
      expect(r.count).toBeGreaterThan(0);
      expect(r.count).toBeLessThanOrEqual(3);
      expect(r.events[0]).toMatchObject({ Type: expect.any(String), Action: expect.any(String), time: expect.any(Number) });
    },
  },
  health: {
    params: () => ({}),
    check: (r, fx) =>
      expect(r).toMatchObject({ reachable: true, endpoint: expect.any(String), api_version: fx.engine.apiVersion, engine_api_version: fx.engine.apiVersion, engine_version: fx.engine.version, latency_ms: expect.any(Number) }),
  },

  // --- containers ---
  create_container: {
    params: (fx) => ({ image: fx.image, name: uniqueName('dceo-new'), labels: fx.labels, command: ['sleep', '600'] }),
    check: (r, fx) => {
      expect(r).toEqual({ id: expect.stringMatching(HEX64), warnings: expect.any(Array) });
      expect(docker(fx.engine, ['inspect', '-f', '{{.State.Status}}', r.id]).trim()).toBe('created');
    },
  },
  start_container: {
    params: (fx) => ({ container: fx.c.created }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.created));
      expect(docker(fx.engine, ['inspect', '-f', '{{.State.Running}}', fx.c.created]).trim()).toBe('true');
    },
  },
  list_containers: {
    params: (fx) => ({ all: true, filters: fx.labelFilter }),
    check: (r, fx) => {
      expect(r).toEqual(expect.any(Array));
      const main = (r as { Id: string }[]).find((c) => c.Id === fx.c.main);
      expect(main).toMatchObject({ Id: fx.c.main, Names: expect.any(Array), Image: fx.image, Command: expect.any(String), Created: expect.any(Number), State: 'running', Status: expect.any(String), Labels: fx.labels });
      expect((r as { Id: string }[]).map((c) => c.Id)).toEqual(expect.arrayContaining(Object.values(fx.c)));
    },
  },
  inspect_container: {
    params: (fx) => ({ container: fx.c.main }),
    check: (r, fx) =>
      expect(r).toMatchObject({ Id: fx.c.main, Name: expect.stringMatching(/^\//), State: { Running: true }, Config: { Image: fx.image, Labels: fx.labels }, HostConfig: expect.any(Object), NetworkSettings: expect.any(Object) }),
  },
  container_top: {
    params: (fx) => ({ container: fx.c.main }),
    check: (r) => {
      expect(r).toEqual({ titles: expect.arrayContaining(['PID']), processes: expect.any(Array) });
      expect(r.processes.length).toBeGreaterThan(0);
      expect(r.processes[0]).toHaveLength(r.titles.length);
      expect(r.processes.map((p: string[]) => p.join(' ')).join('\n')).toContain('sleep 600');
    },
  },
  find_containers: {
    params: (fx) => ({ image: fx.image, label: `${TEST_LABEL}=${fx.value}`, process: 'sleep', status: 'running' }),
    check: (r, fx) => {
      expect(r.errors).toEqual({});
      const main = r.matches.find((m: Json) => m.id === fx.c.main);
      expect(main).toEqual({
        endpoint: 'default', id: fx.c.main, name: expect.any(String), image: fx.image, image_id: fx.imageId, state: 'running',
        matched: ['image', `label:${TEST_LABEL}=${fx.value}`, 'status:running', 'process:sleep'],
      });
      for (const m of r.matches) expect(m).toMatchObject({ endpoint: 'default', state: 'running', image_id: fx.imageId });
      expect(r.matches.map((m: Json) => m.id)).not.toContain(fx.c.exited);
    },
  },
  find_images: {
    params: (fx) => ({ reference: fx.image }),
    check: (r, fx) => {
      expect(r).toEqual({ matches: [{ endpoint: 'default', id: fx.imageId, repo_tags: expect.arrayContaining([fx.image]), repo_digests: expect.any(Array), containers: expect.any(Number) }], errors: {} });
      // This run's ten containers at least, of any state.
      expect(r.matches[0].containers).toBeGreaterThanOrEqual(10);
    },
  },
  container_changes: {
    params: (fx) => ({ container: fx.c.main }),
    check: (r) => {
      expect(r).toEqual(expect.arrayContaining([{ path: '/data', kind: 'added' }, { path: '/data/file.txt', kind: 'added' }]));
      for (const ch of r) expect(ch).toEqual({ path: expect.stringMatching(/^\//), kind: expect.stringMatching(/^(added|changed|deleted)$/) });
    },
  },
  container_logs: [
    {
      title: 'returned inline',
      params: (fx) => ({ container: fx.c.main }),
      check: (r) => expect(r).toMatchObject({ stdout: 'hello\n', stderr: 'oops\n', truncated: false }),
    },
    {
      title: 'written to a file',
      params: (fx) => ({ container: fx.c.main, path: join(fx.tmp, 'logs.txt') }),
      check: (r, fx) => {
        const path = join(fx.tmp, 'logs.txt');
        expect(r).toEqual({ path, bytes: statSync(path).size, sha256: sha256File(path), truncated: false });
        expect(r.bytes).toBeGreaterThan(0);
      },
    },
  ],
  container_stats: {
    params: (fx) => ({ container: fx.c.main, one_shot: true }),
    check: (r) => {
      expect(r).toMatchObject({ cpu_percent: null, memory_usage: expect.any(Number), memory_limit: expect.any(Number), memory_percent: expect.any(Number), network_rx_bytes: expect.any(Number), network_tx_bytes: expect.any(Number), block_read_bytes: expect.any(Number), block_write_bytes: expect.any(Number), pids: expect.any(Number) });
      expect(r).toHaveProperty('memory_stats');
      expect(r).toHaveProperty('cpu_stats');
      expect(r.pids).toBeGreaterThanOrEqual(1);
    },
  },
  exec_container: {
    params: (fx) => ({ container: fx.c.main, command: 'echo out; echo err >&2; exit 3' }),
    check: (r) => expect(r).toEqual({ exit_code: 3, stdout: 'out\n', stderr: 'err\n', truncated: false, exec_id: expect.stringMatching(HEX64) }),
  },
  container_export: {
    params: (fx) => ({ container: fx.c.main, path: join(fx.tmp, 'export.tar') }),
    check: (r, fx) => {
      const path = join(fx.tmp, 'export.tar');
      expect(r).toEqual({ path, bytes: statSync(path).size, sha256: sha256File(path) });
      expect(execFileSync('tar', ['-tf', path]).toString().split('\n')).toContain('data/file.txt');
    },
  },
  copy_to_container: {
    params: (fx) => ({ container: fx.c.main, src: join(fx.tmp, 'upload'), path: '/tmp' }),
    check: (r, fx) => {
      // Entries: upload/, upload/a.txt, upload/sub/, upload/sub/b.txt; bytes: "alpha\n" + "bravo\n".
      expect(r).toEqual({ files: 4, bytes: 12 });
      expect(docker(fx.engine, ['exec', fx.c.main, 'cat', '/tmp/upload/a.txt', '/tmp/upload/sub/b.txt'])).toBe('alpha\nbravo\n');
    },
  },
  copy_from_container: {
    params: (fx) => ({ container: fx.c.main, path: '/data', dest: join(fx.tmp, 'down') }),
    check: (r, fx) => {
      expect(r).toMatchObject({ files: expect.any(Array), count: 2, bytes: 8, skipped: [] });
      expect(r.files).toContainEqual({ path: 'data/file.txt', size: 8, type: 'file' });
      expect(readFileSync(join(fx.tmp, 'down', 'data', 'file.txt'), 'utf8')).toBe('content\n');
    },
  },
  container_commit: {
    // No repo: a dangling image carrying this run's label, which prune_images removes below.
    params: (fx) => ({ container: fx.c.main, changes: [`LABEL ${TEST_LABEL}=${fx.value}`], comment: 'every-operation test' }),
    check: (r, fx) => {
      expect(r).toEqual({ id: expect.stringMatching(IMAGE_ID) });
      fx.saved.commitId = r.id;
      expect(docker(fx.engine, ['image', 'inspect', '-f', '{{.Comment}}', r.id]).trim()).toBe('every-operation test');
    },
  },
  update_container: {
    params: (fx) => ({ container: fx.c.main, pids_limit: 100 }),
    check: (r, fx) => {
      expect(r).toEqual({ container: fx.c.main, warnings: expect.any(Array) });
      expect(docker(fx.engine, ['inspect', '-f', '{{.HostConfig.PidsLimit}}', fx.c.main]).trim()).toBe('100');
    },
  },
  pause_container: {
    params: (fx) => ({ container: fx.c.toPause }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.toPause));
      expect(docker(fx.engine, ['inspect', '-f', '{{.State.Status}}', fx.c.toPause]).trim()).toBe('paused');
    },
  },
  unpause_container: {
    params: (fx) => ({ container: fx.c.toPause }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.toPause));
      expect(docker(fx.engine, ['inspect', '-f', '{{.State.Status}}', fx.c.toPause]).trim()).toBe('running');
    },
  },
  restart_container: {
    params: (fx) => ({ container: fx.c.toRestart, timeout: 1 }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.toRestart));
      expect(docker(fx.engine, ['inspect', '-f', '{{.State.Running}} {{.RestartCount}}', fx.c.toRestart]).trim()).toMatch(/^true /);
    },
  },
  stop_container: {
    params: (fx) => ({ container: fx.c.toStop, timeout: 1 }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.toStop));
      expect(docker(fx.engine, ['inspect', '-f', '{{.State.Running}}', fx.c.toStop]).trim()).toBe('false');
    },
  },
  kill_container: {
    params: (fx) => ({ container: fx.c.toKill, signal: 'SIGKILL' }),
    check: (r, fx) => expect(r).toEqual(changed(fx.c.toKill)),
  },
  wait_container: {
    params: (fx) => ({ container: fx.c.exited, timeout: 30 }),
    check: (r, fx) => expect(r).toEqual({ container: fx.c.exited, status_code: 3 }),
  },
  rename_container: {
    params: (fx) => ({ container: fx.c.toRename, name: fx.renamed }),
    check: (r, fx) => {
      expect(r).toEqual({ container: fx.c.toRename, name: fx.renamed, changed: true });
      expect(docker(fx.engine, ['inspect', '-f', '{{.Name}}', fx.c.toRename]).trim()).toBe(`/${fx.renamed}`);
    },
  },
  remove_container: [
    {
      title: 'dry run of a running container without force',
      params: (fx) => ({ container: fx.c.main, dry_run: true }),
      check: (r, fx) => {
        expect(r).toEqual({ container: fx.c.main, changed: false, dry_run: true, id: fx.c.main, name: expect.any(String), state: 'running', would_remove: false, reason: expect.stringContaining('force'), volumes: [], plan_id: expect.stringMatching(PLAN_ID) });
      },
    },
    {
      title: 'for real',
      params: (fx) => ({ container: fx.c.toRemove }),
      check: (r, fx) => {
        expect(r).toEqual({ container: fx.c.toRemove, changed: true, dry_run: false });
        expect(docker(fx.engine, ['ps', '-aq', '--no-trunc', '--filter', `id=${fx.c.toRemove}`]).trim()).toBe('');
      },
    },
  ],
  prune_containers: [
    {
      title: 'dry run',
      params: (fx) => ({ filters: fx.labelFilter, dry_run: true }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: expect.any(Array), space_reclaimed: expect.any(Number), dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
        const ids = (r.deleted as { id: string }[]).map((d) => d.id);
        // Stopped ones go; running ones stay.
        expect(ids).toEqual(expect.arrayContaining([fx.c.toStop, fx.c.toKill, fx.c.exited, fx.c.toRename]));
        expect(ids).not.toContain(fx.c.main);
        for (const d of r.deleted) expect(d).toEqual({ id: expect.stringMatching(HEX64), name: expect.any(String) });
        fx.saved.prunedContainers = ids;
      },
    },
    {
      title: 'for real, limited to this run\'s label',
      params: (fx) => ({ filters: fx.labelFilter }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: expect.any(Array), space_reclaimed: expect.any(Number), dry_run: false });
        expect((r.deleted as { id: string }[]).map((d) => d.id).sort()).toEqual([...fx.saved.prunedContainers].sort());
      },
    },
  ],

  // --- images ---
  tag_image: {
    params: (fx) => ({ image: fx.image, repo: fx.tagRepo, tag: 'one' }),
    check: (r, fx) => {
      expect(r).toEqual({ image: fx.image, reference: `${fx.tagRepo}:one` });
      expect(docker(fx.engine, ['image', 'inspect', '-f', '{{.Id}}', `${fx.tagRepo}:one`]).trim()).toBe(fx.imageId);
    },
  },
  list_images: {
    params: (fx) => ({ filters: { reference: [`${fx.tagRepo}:one`] } }),
    check: (r, fx) => {
      expect(r).toHaveLength(1);
      expect(r[0]).toMatchObject({ Id: fx.imageId, RepoTags: expect.arrayContaining([`${fx.tagRepo}:one`]), Created: expect.any(Number), Size: expect.any(Number) });
    },
  },
  inspect_image: {
    params: (fx) => ({ image: fx.image }),
    check: (r, fx) => expect(r).toMatchObject({ Id: fx.imageId, RepoTags: expect.arrayContaining([fx.image]), Config: expect.any(Object), RootFS: { Type: 'layers' }, Size: expect.any(Number) }),
  },
  image_history: {
    params: (fx) => ({ image: fx.image }),
    check: (r, fx) => {
      expect(r.length).toBeGreaterThan(0);
      expect(r[0]).toMatchObject({ Id: fx.imageId, Created: expect.any(Number), CreatedBy: expect.any(String), Size: expect.any(Number) });
    },
  },
  push_image: {
    params: (fx) => ({ image: fx.pushRepo, tag: 'v1', auth: creds(fx) }),
    check: (r, fx) => {
      expect(r).toEqual({ image: `${fx.pushRepo}:v1`, tag: 'v1', digest: expect.stringMatching(IMAGE_ID), size: expect.any(Number) });
      fx.saved.pushedDigest = r.digest;
    },
  },
  inspect_distribution: {
    params: (fx) => ({ image: `${fx.pushRepo}:v1`, auth: creds(fx) }),
    // The registry's answer for the tag pushed just above: its manifest, without pulling.
    check: (r, fx) => expect(r).toEqual({ digest: fx.saved.pushedDigest, media_type: expect.stringMatching(/manifest/), size: expect.any(Number), platforms: [expect.objectContaining({ architecture: expect.any(String), os: 'linux' })] }),
  },
  registry_login: {
    params: (fx) => ({ username: creds(fx).username, password: creds(fx).password, server: fx.engine.registry }),
    // The harness registry (htpasswd) gives no identity token.
    check: (r) => expect(r).toEqual({ status: 'Login Succeeded', identity_token: null }),
  },
  remove_image: [
    {
      title: 'dry run',
      params: (fx) => ({ image: `${fx.pushRepo}:v1`, dry_run: true }),
      // Only a tag goes (the image keeps its other tags): nothing deleted, no conflict.
      check: (r, fx) => expect(r).toEqual({ dry_run: true, id: fx.imageId, untagged: [`${fx.pushRepo}:v1`], deleted: [], used_by_containers: expect.any(Array), would_conflict: false, plan_id: expect.stringMatching(PLAN_ID) }),
    },
    {
      title: 'for real (an untag: the image has other tags)',
      params: (fx) => ({ image: `${fx.pushRepo}:v1` }),
      check: (r, fx) => {
        expect(r).toEqual({ dry_run: false, untagged: expect.arrayContaining([`${fx.pushRepo}:v1`]), deleted: [] });
        expect(docker(fx.engine, ['image', 'ls', '-q', `${fx.pushRepo}:v1`]).trim()).toBe('');
      },
    },
  ],
  pull_image: {
    params: (fx) => ({ image: fx.pushRepo, tag: 'v1', auth: creds(fx) }),
    check: (r, fx) => {
      // The tag was removed above: the reference now resolves again, so the local image changed.
      expect(r).toEqual({ image: `${fx.pushRepo}:v1`, id: fx.imageId, digest: fx.saved.pushedDigest, status: expect.stringMatching(/\S/), changed: true });
      expect(docker(fx.engine, ['image', 'inspect', '-f', '{{.Id}}', `${fx.pushRepo}:v1`]).trim()).toBe(fx.imageId);
    },
  },
  search_images: {
    params: (fx) => ({ term: `${fx.engine.searchRegistry}/foo`, limit: 2 }),
    check: (r) => {
      expect(r).toEqual({ results: expect.any(Array), count: 2 });
      expect(r.results).toHaveLength(2);
      for (const x of r.results) expect(x).toEqual({ name: expect.stringMatching(/^foo\//), description: expect.any(String), star_count: expect.any(Number), is_official: expect.any(Boolean), is_automated: expect.any(Boolean) });
    },
  },
  build_image: [
    {
      title: 'inline Dockerfile and files',
      params: (fx) => ({ dockerfile: `FROM ${fx.image}\nCOPY hello.txt /hello.txt\n`, files: { 'hello.txt': 'hello\n' }, labels: fx.labels, tags: [`${fx.tagRepo}:built`] }),
      check: (r, fx) => {
        expect(r).toEqual({ id: expect.stringMatching(IMAGE_ID), tags: [`${fx.tagRepo}:built`], log: expect.stringMatching(/Step 1\/\d+ : FROM/), log_truncated: false });
        expect(docker(fx.engine, ['run', '--rm', '--network', 'none', r.id, 'cat', '/hello.txt'])).toBe('hello\n');
      },
    },
    {
      title: 'inline Dockerfile alone',
      params: (fx) => ({ dockerfile: `FROM ${fx.image}\nRUN echo ${fx.value} > /marker\n`, labels: fx.labels }),
      check: (r, fx) => {
        expect(r).toEqual({ id: expect.stringMatching(IMAGE_ID), tags: [], log: expect.stringMatching(/Step 2\/\d+ : RUN echo/), log_truncated: false });
        expect(docker(fx.engine, ['run', '--rm', '--network', 'none', r.id, 'cat', '/marker'])).toBe(`${fx.value}\n`);
      },
    },
    {
      title: 'inline Dockerfile over a folder context',
      params: (fx) => ({ dockerfile: `FROM ${fx.image}\nCOPY ctx.txt /over.txt\n`, context: join(fx.tmp, 'ctx'), labels: fx.labels }),
      check: (r, fx) => {
        expect(r).toEqual({ id: expect.stringMatching(IMAGE_ID), tags: [], log: expect.stringMatching(/Step 1\/\d+ : FROM/), log_truncated: false });
        expect(docker(fx.engine, ['run', '--rm', '--network', 'none', r.id, 'cat', '/over.txt'])).toBe('from folder\n');
      },
    },
    {
      title: 'a folder context',
      params: (fx) => ({ context: join(fx.tmp, 'ctx'), labels: fx.labels }),
      check: (r, fx) => {
        expect(r).toEqual({ id: expect.stringMatching(IMAGE_ID), tags: [], log: expect.stringMatching(/Step 1\/\d+ : FROM/), log_truncated: false });
        expect(docker(fx.engine, ['run', '--rm', '--network', 'none', r.id, 'cat', '/ctx.txt'])).toBe('from folder\n');
      },
    },
    {
      title: 'a tar file context',
      params: (fx) => ({ context_tar: join(fx.tmp, 'ctx.tar'), labels: fx.labels }),
      check: (r, fx) => {
        expect(r).toEqual({ id: expect.stringMatching(IMAGE_ID), tags: [], log: expect.stringMatching(/Step 1\/\d+ : FROM/), log_truncated: false });
        expect(docker(fx.engine, ['run', '--rm', '--network', 'none', r.id, 'cat', '/ctx.txt'])).toBe('from folder\n');
      },
    },
  ],
  save_images: {
    params: (fx) => ({ images: [fx.saveRef], path: join(fx.tmp, 'saved.tar') }),
    check: (r, fx) => {
      const path = join(fx.tmp, 'saved.tar');
      expect(r).toEqual({ path, bytes: statSync(path).size, sha256: sha256File(path) });
    },
  },
  load_images: {
    params: (fx) => ({ path: join(fx.tmp, 'saved.tar') }),
    check: (r, fx) => {
      expect(r).toEqual({ loaded: expect.arrayContaining([fx.saveRef]), images: expect.arrayContaining([{ reference: fx.saveRef, id: fx.imageId }]) });
    },
  },
  prune_images: [
    {
      title: 'dry run',
      params: (fx) => ({ filters: fx.labelFilter, dry_run: true }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: expect.any(Array), space_reclaimed: expect.any(Number), dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
        expect(r.deleted).toContainEqual({ id: fx.saved.commitId, tags: [] });
        for (const d of r.deleted) expect(d).toEqual({ id: expect.stringMatching(IMAGE_ID), tags: expect.any(Array) });
        fx.saved.prunedImages = r.deleted;
      },
    },
    {
      title: 'for real, limited to this run\'s label',
      params: (fx) => ({ filters: fx.labelFilter }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: fx.saved.prunedImages, space_reclaimed: expect.any(Number), dry_run: false });
        expect(docker(fx.engine, ['image', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${fx.value}`, '--filter', 'dangling=true']).trim()).toBe('');
      },
    },
  ],

  // --- networks ---
  create_network: {
    params: (fx) => ({ name: fx.newNet, labels: fx.labels }),
    check: (r, fx) => {
      expect(r).toEqual({ id: expect.stringMatching(HEX64), name: fx.newNet, warning: null });
      expect(docker(fx.engine, ['network', 'inspect', '-f', '{{.Id}}', fx.newNet]).trim()).toBe(r.id);
    },
  },
  list_networks: {
    params: (fx) => ({ filters: fx.labelFilter }),
    check: (r, fx) => {
      expect((r as { Name: string }[]).map((n) => n.Name).sort()).toEqual([fx.net, fx.pruneNet, fx.newNet].sort());
      for (const n of r) expect(n).toMatchObject({ Name: expect.any(String), Id: expect.stringMatching(HEX64), Scope: 'local', Driver: 'bridge', IPAM: expect.any(Object), Internal: false, Labels: fx.labels });
    },
  },
  inspect_network: {
    params: (fx) => ({ network: fx.net }),
    check: (r, fx) => expect(r).toMatchObject({ Name: fx.net, Id: expect.stringMatching(HEX64), Driver: 'bridge', IPAM: expect.any(Object), Containers: expect.any(Object), Options: expect.any(Object), Labels: fx.labels }),
  },
  connect_network: {
    params: (fx) => ({ network: fx.newNet, container: fx.c.main, aliases: ['every-op'] }),
    check: (r, fx) => {
      expect(r).toEqual({ changed: true, network: { id: expect.stringMatching(HEX64), name: fx.newNet }, container: { id: fx.c.main, name: expect.any(String) } });
      expect(docker(fx.engine, ['inspect', '-f', '{{json .NetworkSettings.Networks}}', fx.c.main])).toContain(fx.newNet);
    },
  },
  disconnect_network: {
    params: (fx) => ({ network: fx.newNet, container: fx.c.main }),
    check: (r, fx) => {
      expect(r).toEqual({ changed: true, network: { id: expect.stringMatching(HEX64), name: fx.newNet }, container: { id: fx.c.main, name: expect.any(String) } });
      expect(docker(fx.engine, ['inspect', '-f', '{{json .NetworkSettings.Networks}}', fx.c.main])).not.toContain(fx.newNet);
    },
  },
  remove_network: [
    {
      title: 'dry run',
      params: (fx) => ({ network: fx.newNet, dry_run: true }),
      check: (r, fx) => expect(r).toEqual({ deleted: [{ id: expect.stringMatching(HEX64), name: fx.newNet }], dry_run: true, plan_id: expect.stringMatching(PLAN_ID) }),
    },
    {
      title: 'for real',
      params: (fx) => ({ network: fx.newNet }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ id: expect.stringMatching(HEX64), name: fx.newNet }], dry_run: false });
        expect(docker(fx.engine, ['network', 'ls', '-q', '--filter', `name=^${fx.newNet}$`]).trim()).toBe('');
      },
    },
  ],

  prune_networks: [
    {
      title: 'dry run',
      params: (fx) => ({ filters: fx.labelFilter, dry_run: true }),
      // After remove_network; fx.net is in use by a running container: only the unused one goes.
      check: (r, fx) => expect(r).toEqual({ deleted: [{ id: expect.stringMatching(HEX64), name: fx.pruneNet }], dry_run: true, plan_id: expect.stringMatching(PLAN_ID) }),
    },
    {
      title: 'for real, limited to this run\'s label',
      params: (fx) => ({ filters: fx.labelFilter }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ id: expect.stringMatching(HEX64), name: fx.pruneNet }], dry_run: false });
        expect(docker(fx.engine, ['network', 'ls', '-q', '--filter', `name=^${fx.pruneNet}$`]).trim()).toBe('');
        expect(docker(fx.engine, ['network', 'ls', '-q', '--filter', `name=^${fx.net}$`]).trim()).not.toBe('');
      },
    },
  ],

  // --- volumes ---
  create_volume: {
    params: (fx) => ({ name: fx.newVol, labels: fx.labels }),
    check: (r, fx) => expect(r).toMatchObject({ Name: fx.newVol, Driver: 'local', Mountpoint: expect.any(String), Labels: fx.labels, Scope: 'local' }),
  },
  list_volumes: {
    params: (fx) => ({ filters: fx.labelFilter }),
    check: (r, fx) => {
      expect(r).toEqual({ volumes: expect.any(Array), warnings: expect.any(Array) });
      expect((r.volumes as { Name: string }[]).map((v) => v.Name).sort()).toEqual([fx.vol, fx.newVol].sort());
      for (const v of r.volumes) expect(v).toMatchObject({ Name: expect.any(String), Driver: 'local', Mountpoint: expect.any(String), Labels: fx.labels });
    },
  },
  inspect_volume: {
    params: (fx) => ({ volume: fx.vol }),
    check: (r, fx) => expect(r).toMatchObject({ Name: fx.vol, Driver: 'local', Mountpoint: expect.any(String), Labels: fx.labels, Scope: 'local', CreatedAt: expect.any(String) }),
  },
  remove_volume: [
    {
      title: 'dry run',
      params: (fx) => ({ volume: fx.newVol, dry_run: true }),
      check: (r, fx) => expect(r).toEqual({ deleted: [{ name: fx.newVol }], dry_run: true, plan_id: expect.stringMatching(PLAN_ID) }),
    },
    {
      title: 'for real',
      params: (fx) => ({ volume: fx.newVol }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ name: fx.newVol }], dry_run: false });
        expect(docker(fx.engine, ['volume', 'ls', '-q', '--filter', `name=^${fx.newVol}$`]).trim()).toBe('');
      },
    },
  ],
  prune_volumes: [
    {
      // all: named volumes too (this run's only volume is named), on every API version.
      title: 'dry run',
      params: (fx) => ({ filters: fx.labelFilter, all: true, dry_run: true }),
      check: (r, fx) => expect(r).toEqual({ deleted: [{ name: fx.vol }], space_reclaimed: null, dry_run: true, plan_id: expect.stringMatching(PLAN_ID) }),
    },
    {
      title: 'for real, limited to this run\'s label',
      params: (fx) => ({ filters: fx.labelFilter, all: true }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ name: fx.vol }], space_reclaimed: expect.any(Number), dry_run: false });
        expect(docker(fx.engine, ['volume', 'ls', '-q', '--filter', `name=^${fx.vol}$`]).trim()).toBe('');
      },
    },
  ],

  // --- swarm (each harness Engine is a single-node swarm manager) ---
  inspect_swarm: {
    params: () => ({}),
    check: (r, fx) => {
      expect(r).toMatchObject({ ID: docker(fx.engine, ['info', '--format', '{{.Swarm.Cluster.ID}}']).trim(), Version: { Index: expect.any(Number) }, Spec: expect.any(Object) });
      expect(r).not.toHaveProperty('JoinTokens');
    },
  },
  list_nodes: {
    params: () => ({ filters: { role: 'manager' } }),
    check: (r, fx) => expect(r.nodes.map((n: Json) => n.ID)).toContain(docker(fx.engine, ['info', '--format', '{{.Swarm.NodeID}}']).trim()),
  },
  inspect_node: {
    params: () => ({ node: 'self' }),
    check: (r, fx) => expect(r).toMatchObject({ ID: docker(fx.engine, ['info', '--format', '{{.Swarm.NodeID}}']).trim(), Spec: { Role: 'manager' }, Status: { State: 'ready' } }),
  },
  update_node: {
    // The node other test files run services on: only a change that changes nothing.
    params: () => ({ node: 'self', availability: 'active' }),
    check: (r, fx) => {
      expect(r).toMatchObject({ Spec: { Role: 'manager', Availability: 'active' } });
      expect(docker(fx.engine, ['node', 'inspect', r.ID, '--format', '{{.Spec.Availability}}']).trim()).toBe('active');
    },
  },
  create_service: {
    // dnsrr and no published port: the kernel here has no IPVS (no virtual IP, no routing mesh).
    params: (fx) => ({ name: (fx.saved.svc ??= uniqueName('dceo-svc')), image: fx.image, command: ['sleep', '600'], replicas: 1, endpoint_mode: 'dnsrr', labels: fx.labels, env: { A: '1' } }),
    check: (r, fx) => {
      expect(r).toEqual({ id: expect.stringMatching(/^[a-z0-9]{25}$/), name: fx.saved.svc, warnings: [] });
      expect(docker(fx.engine, ['service', 'inspect', r.id, '--format', '{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}} {{.Spec.EndpointSpec.Mode}}']).trim()).toBe(`${fx.saved.svc} 1 dnsrr`);
    },
  },
  list_services: {
    params: (fx) => ({ filters: fx.labelFilter, status: true }),
    check: (r, fx) => {
      expect(r.services.map((s: Json) => s.Spec.Name)).toEqual([fx.saved.svc]);
      expect(r.services[0].ServiceStatus).toMatchObject({ DesiredTasks: 1, RunningTasks: expect.any(Number) });
    },
  },
  inspect_service: {
    params: (fx) => ({ service: fx.saved.svc }),
    check: (r, fx) => expect(r).toMatchObject({ ID: expect.any(String), Spec: { Name: fx.saved.svc, Labels: fx.labels, TaskTemplate: { ContainerSpec: { Image: fx.image, Env: ['A=1'] } } } }),
  },
  update_service: {
    params: (fx) => ({ service: fx.saved.svc, env: { B: '2' } }),
    check: (r, fx) => {
      expect(r).toEqual({ service: expect.objectContaining({ Spec: expect.objectContaining({ Name: fx.saved.svc }) }), warnings: expect.any(Array) });
      expect(docker(fx.engine, ['service', 'inspect', fx.saved.svc, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}']).trim()).toBe('["A=1","B=2"]');
    },
  },
  scale_service: {
    params: (fx) => ({ service: fx.saved.svc, replicas: 2 }),
    check: (r, fx) => {
      expect(r.service.Spec.Mode).toEqual({ Replicated: { Replicas: 2 } });
      expect(docker(fx.engine, ['service', 'inspect', fx.saved.svc, '--format', '{{.Spec.Mode.Replicated.Replicas}}']).trim()).toBe('2');
    },
  },
  rollback_service: {
    params: (fx) => ({ service: fx.saved.svc }),
    check: (r, fx) => {
      expect(r.service.Spec.Mode).toEqual({ Replicated: { Replicas: 1 } });
      expect(docker(fx.engine, ['service', 'inspect', fx.saved.svc, '--format', '{{.Spec.Mode.Replicated.Replicas}} {{.PreviousSpec.Mode.Replicated.Replicas}}']).trim()).toBe('1 2');
    },
  },
  remove_service: [
    {
      title: 'dry run',
      params: (fx) => ({ service: fx.saved.svc, dry_run: true }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ id: expect.any(String), name: fx.saved.svc, tasks: expect.any(Number) }], dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
        expect(docker(fx.engine, ['service', 'ls', '-q', '--filter', `name=${fx.saved.svc}`]).trim()).not.toBe('');
      },
    },
    {
      title: 'for real',
      params: (fx) => ({ service: fx.saved.svc }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ id: expect.any(String), name: fx.saved.svc, tasks: expect.any(Number) }], dry_run: false });
        expect(docker(fx.engine, ['service', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${fx.value}`]).trim()).toBe('');
      },
    },
  ],

  // --- swarm tasks, service logs, secrets, configs (fixture: fx.saved.logSvc, a service that logs one line per stream) ---
  list_tasks: {
    params: (fx) => ({ filters: { service: [fx.saved.logSvc], 'desired-state': ['running'] } }),
    check: (r, fx) => {
      const serviceId = docker(fx.engine, ['service', 'inspect', '-f', '{{.ID}}', fx.saved.logSvc]).trim();
      expect(r).toEqual([expect.objectContaining({ ID: expect.any(String), ServiceID: serviceId, Slot: 1, DesiredState: 'running', Status: expect.objectContaining({ State: 'running' }) })]);
      fx.saved.taskId = r[0].ID;
    },
  },
  inspect_task: {
    params: (fx) => ({ task: fx.saved.taskId }),
    check: (r, fx) => {
      expect(r).toMatchObject({ ID: fx.saved.taskId, Status: { State: 'running', ContainerStatus: { ContainerID: expect.stringMatching(HEX64) } } });
      expect(docker(fx.engine, ['service', 'ps', '-q', '--no-trunc', fx.saved.logSvc]).trim()).toBe(fx.saved.taskId);
    },
  },
  service_logs: {
    params: (fx) => ({ service: fx.saved.logSvc }),
    check: (r) => expect(r).toEqual({ stdout: 'every-op-out\n', stderr: 'every-op-err\n', truncated: false }),
  },
  create_secret: {
    params: (fx) => ({ name: (fx.saved.secret ??= uniqueName('dceo-sec')), data: 'every-op-secret-value', labels: fx.labels }),
    check: (r, fx) => {
      expect(r).toEqual({ id: expect.stringMatching(/^[a-z0-9]{25}$/), name: fx.saved.secret });
      expect(docker(fx.engine, ['secret', 'ls', '-q', '--filter', `name=${fx.saved.secret}`]).trim()).toBe(r.id);
      fx.saved.secretId = r.id;
    },
  },
  list_secrets: {
    params: (fx) => ({ filters: fx.labelFilter }),
    check: (r, fx) => {
      expect(r).toEqual([expect.objectContaining({ ID: fx.saved.secretId, Spec: expect.objectContaining({ Name: fx.saved.secret, Labels: fx.labels }) })]);
      expect(JSON.stringify(r)).not.toContain('every-op-secret-value');
    },
  },
  inspect_secret: {
    params: (fx) => ({ secret: fx.saved.secret }),
    check: (r, fx) => {
      expect(r).toMatchObject({ ID: fx.saved.secretId, Version: { Index: expect.any(Number) }, Spec: { Name: fx.saved.secret, Labels: fx.labels } });
      expect(r.Spec).not.toHaveProperty('Data');
    },
  },
  remove_secret: [
    {
      title: 'dry run',
      params: (fx) => ({ secret: fx.saved.secret, dry_run: true }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ id: fx.saved.secretId, name: fx.saved.secret }], dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
        expect(docker(fx.engine, ['secret', 'ls', '-q', '--filter', `name=${fx.saved.secret}`]).trim()).toBe(fx.saved.secretId);
      },
    },
    {
      title: 'for real',
      params: (fx) => ({ secret: fx.saved.secretId }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ id: fx.saved.secretId, name: fx.saved.secret }], dry_run: false });
        expect(docker(fx.engine, ['secret', 'ls', '-q', '--filter', `name=${fx.saved.secret}`]).trim()).toBe('');
      },
    },
  ],
  create_config: {
    params: (fx) => ({ name: (fx.saved.config ??= uniqueName('dceo-cfg')), data_base64: Buffer.from('key = 1\n').toString('base64'), labels: fx.labels }),
    check: (r, fx) => {
      expect(r).toEqual({ id: expect.stringMatching(/^[a-z0-9]{25}$/), name: fx.saved.config });
      // The docker CLI adds a newline after the formatted value.
      expect(docker(fx.engine, ['config', 'inspect', '-f', '{{printf "%s" .Spec.Data}}', fx.saved.config])).toBe('key = 1\n\n');
      fx.saved.configId = r.id;
    },
  },
  list_configs: {
    params: (fx) => ({ filters: fx.labelFilter }),
    check: (r, fx) => expect(r).toEqual([expect.objectContaining({ ID: fx.saved.configId, Spec: expect.objectContaining({ Name: fx.saved.config, Labels: fx.labels }) })]),
  },
  inspect_config: {
    params: (fx) => ({ config: fx.saved.configId }),
    check: (r, fx) => expect(r).toMatchObject({ ID: fx.saved.configId, Spec: { Name: fx.saved.config, Data: Buffer.from('key = 1\n').toString('base64') } }),
  },
  remove_config: [
    {
      title: 'dry run',
      params: (fx) => ({ config: fx.saved.config, dry_run: true }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ id: fx.saved.configId, name: fx.saved.config }], dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
        expect(docker(fx.engine, ['config', 'ls', '-q', '--filter', `name=${fx.saved.config}`]).trim()).toBe(fx.saved.configId);
      },
    },
    {
      title: 'for real',
      params: (fx) => ({ config: fx.saved.config }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ id: fx.saved.configId, name: fx.saved.config }], dry_run: false });
        expect(docker(fx.engine, ['config', 'ls', '-q', '--filter', `name=${fx.saved.config}`]).trim()).toBe('');
      },
    },
  ],

  // --- containment ---
  isolate_container: {
    params: (fx) => ({ container: fx.c.iso }),
    check: (r, fx) => {
      expect(r).toEqual({
        changed: true,
        container: { id: fx.c.iso, name: expect.any(String) },
        disconnected: [{ id: expect.stringMatching(HEX64), name: fx.net }],
        paused: false,
        restore: expect.objectContaining({ networks: [expect.objectContaining({ network_name: fx.net })] }),
        warnings: expect.any(Array),
      });
      expect(docker(fx.engine, ['inspect', '-f', '{{json .NetworkSettings.Networks}}', fx.c.iso]).trim()).toBe('{}');
      fx.saved.restore = r.restore;
    },
  },
  restore_container: {
    params: (fx) => ({ container: fx.c.iso, restore: fx.saved.restore }),
    check: (r, fx) => {
      expect(r).toEqual({
        changed: true,
        container: { id: fx.c.iso, name: expect.any(String) },
        networks: [expect.objectContaining({ network_id: expect.stringMatching(HEX64), network_name: fx.net, changed: true, aliases: expect.any(Array) })],
        unpaused: false,
        warnings: expect.any(Array),
      });
      expect(docker(fx.engine, ['inspect', '-f', '{{json .NetworkSettings.Networks}}', fx.c.iso])).toContain(fx.net);
    },
  },
  collect_evidence: {
    params: (fx) => ({ container: fx.c.main, path: join(fx.tmp, 'evidence'), case_id: 'case-1', operator: 'cli-test' }),
    check: (r, fx) => {
      const path = join(fx.tmp, 'evidence');
      expect(r).toEqual({ path, manifest_sha256: sha256File(join(path, 'manifest.json')), artifacts: expect.any(Array), failed: [], bytes: expect.any(Number) });
      expect(r.artifacts.map((a: Json) => a.name)).toEqual(['inspect', 'top', 'changes', 'export', 'logs', 'stats', 'image', 'image_history', 'networks']);
      for (const a of r.artifacts) expect(sha256File(join(path, a.file))).toBe(a.sha256);
      expect(execFileSync('tar', ['-tf', join(path, 'export.tar')]).toString().split('\n')).toContain('data/file.txt');
      fx.saved.evidence = r;
    },
  },
  verify_evidence: {
    params: (fx) => ({ path: join(fx.tmp, 'evidence'), manifest_sha256: fx.saved.evidence.manifest_sha256 }),
    check: (r, fx) => expect(r).toEqual({ ok: true, checked: 9, mismatches: [], missing: [], manifest_sha256: fx.saved.evidence.manifest_sha256 }),
  },
  system_prune: [
    {
      title: 'dry run',
      params: (fx) => ({ filters: fx.sp.labelFilter, dry_run: true }),
      check: (r, fx) => {
        expect(r).toEqual({
          dry_run: true,
          containers: { deleted: [{ id: fx.sp.container, name: expect.any(String) }], space_reclaimed: null },
          networks: { deleted: [{ id: expect.stringMatching(HEX64), name: fx.sp.net }] },
          volumes: null,
          // The committed image goes too: the only container using it goes first.
          images: { deleted: [{ id: fx.sp.imageId, name: null }], space_reclaimed: null },
          build_cache: null,
          skipped: [
            { what: 'volumes', reason: expect.any(String) },
            { what: 'build_cache', reason: expect.stringMatching(/label/) },
          ],
          space_reclaimed: null,
          plan_id: expect.stringMatching(PLAN_ID),
        });
        fx.saved.systemPrune = r;
      },
    },
    {
      title: 'for real, limited to its own label',
      params: (fx) => ({ filters: fx.sp.labelFilter }),
      check: (r, fx) => {
        const dry = fx.saved.systemPrune;
        expect(r).toEqual({
          dry_run: false,
          containers: { deleted: dry.containers.deleted, space_reclaimed: expect.any(Number) },
          networks: { deleted: dry.networks.deleted },
          volumes: null,
          images: { deleted: dry.images.deleted, space_reclaimed: expect.any(Number) },
          build_cache: null,
          skipped: dry.skipped,
          space_reclaimed: expect.any(Number),
        });
        expect(docker(fx.engine, ['ps', '-aq', '--filter', `label=${TEST_LABEL}=${fx.sp.value}`]).trim()).toBe('');
        expect(docker(fx.engine, ['network', 'ls', '-q', '--filter', `name=^${fx.sp.net}$`]).trim()).toBe('');
      },
    },
  ],
};

describe.each(engines())('every operation through the built CLI on Engine $name (API $apiVersion)', (engine) => {
  const run = uniqueName('every-op');
  const fx: Fx = {
    engine,
    tmp: mkdtempSync(join(tmpdir(), 'dc-every-op-')),
    value: run,
    labels: { [TEST_LABEL]: run },
    labelFilter: { label: [`${TEST_LABEL}=${run}`] },
    image: harness().image,
    imageId: '',
    c: { main: '', created: '', toStop: '', toRestart: '', toKill: '', toPause: '', toRename: '', toRemove: '', exited: '', iso: '' },
    net: uniqueName('dceo-net'),
    pruneNet: uniqueName('dceo-prune'),
    newNet: uniqueName('dceo-newnet'),
    vol: uniqueName('dceo-vol'),
    newVol: uniqueName('dceo-newvol'),
    renamed: uniqueName('dceo-renamed'),
    tagRepo: uniqueName('dceo-tag'),
    pushRepo: `${engine.registry}/${uniqueName('dceo')}/busybox`,
    saveRef: `${uniqueName('dceo-save')}:v1`,
    sp: { value: `${run}-sp`, labels: { [TEST_LABEL]: `${run}-sp` }, labelFilter: { label: [`${TEST_LABEL}=${run}-sp`] }, container: '', net: uniqueName('dceo-spnet'), imageId: '' },
    saved: {},
  };

  /** The CLI as users run it, against this Engine; stderr is part of every failure message. */
  async function cli(op: string, params: unknown): Promise<{ code: number; stdout: string; stderr: string }> {
    return runCli(['run', op, '--host', engine.host, '--params', JSON.stringify(params)], { DOCKER_CONNECTOR_RATE_LIMIT: '0' }, 120_000);
  }

  /** A fixture step: must succeed, and says which one did not. */
  async function must(op: OperationName, params: Record<string, unknown>): Promise<Json> {
    const r = await cli(op, params);
    if (r.code !== 0) throw new Error(`fixture ${op} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
  }

  /** At most four CLI processes at a time: the machine is shared. */
  async function batches<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < jobs.length; i += 4) out.push(...(await Promise.all(jobs.slice(i, i + 4).map((j) => j()))));
    return out;
  }

  beforeAll(async () => {
    // Local files: an upload tree, a build context as a folder and as a tar file.
    mkdirSync(join(fx.tmp, 'upload', 'sub'), { recursive: true });
    writeFileSync(join(fx.tmp, 'upload', 'a.txt'), 'alpha\n');
    writeFileSync(join(fx.tmp, 'upload', 'sub', 'b.txt'), 'bravo\n');
    mkdirSync(join(fx.tmp, 'ctx'));
    writeFileSync(join(fx.tmp, 'ctx', 'Dockerfile'), `FROM ${fx.image}\nCOPY ctx.txt /ctx.txt\n`);
    writeFileSync(join(fx.tmp, 'ctx', 'ctx.txt'), 'from folder\n');
    execFileSync('tar', ['-cf', join(fx.tmp, 'ctx.tar'), '-C', join(fx.tmp, 'ctx'), '.']);
    mkdirSync(join(fx.tmp, 'down'));

    // A Swarm service that logs one line per stream (list_tasks, inspect_task, service_logs), under its own
    // label value (list_services and remove_service count this run's services). Made first: it converges meanwhile.
    fx.saved.logSvc = uniqueName('dceo-logsvc');
    docker(engine, ['service', 'create', '-d', '--name', fx.saved.logSvc, '--no-resolve-image', '--endpoint-mode', 'dnsrr', '--label', `${TEST_LABEL}=${run}-swarm`,
      fx.image, 'sh', '-c', 'echo every-op-out; echo every-op-err >&2; exec sleep 600']);
    // Objects, made with the CLI itself.
    fx.imageId = (await must('inspect_image', { image: fx.image })).Id;
    await batches([
      () => must('create_network', { name: fx.net, labels: fx.labels }),
      () => must('create_network', { name: fx.pruneNet, labels: fx.labels }),
      () => must('create_network', { name: fx.sp.net, labels: fx.sp.labels }),
      () => must('create_volume', { name: fx.vol, labels: fx.labels }),
      () => must('tag_image', { image: fx.image, repo: fx.pushRepo, tag: 'v1' }),
      () => must('tag_image', { image: fx.image, repo: fx.saveRef.split(':')[0]!, tag: 'v1' }),
    ]);
    const sleeper = ['sleep', '600'];
    const specs: [keyof Fx['c'], Record<string, unknown>][] = [
      // Writes /data/file.txt (changes, copy_from, export) and one line on each stream (logs), then sleeps.
      ['main', { command: ['sh', '-c', 'mkdir /data && echo content > /data/file.txt && echo hello && echo oops >&2 && exec sleep 600'] }],
      ['created', { command: sleeper }],
      ['toStop', { command: sleeper }],
      ['toRestart', { command: sleeper }],
      ['toKill', { command: sleeper }],
      ['toPause', { command: sleeper }],
      ['toRename', { command: sleeper }],
      ['toRemove', { command: sleeper }],
      ['exited', { command: ['sh', '-c', 'exit 3'] }],
      ['iso', { command: sleeper, network: fx.net }],
    ];
    const ids = await batches(specs.map(([, p]) => () => must('create_container', { image: fx.image, labels: fx.labels, ...p })));
    specs.forEach(([key], i) => (fx.c[key] = ids[i].id));
    // For system_prune: a stopped container and an image only it uses, under their own label value.
    fx.sp.container = (await must('create_container', { image: fx.image, labels: fx.sp.labels, command: sleeper })).id;
    fx.sp.imageId = (await must('container_commit', { container: fx.sp.container, changes: [`LABEL ${TEST_LABEL}=${fx.sp.value}`] })).id;
    const toStart = (['main', 'toStop', 'toRestart', 'toKill', 'toPause', 'exited', 'iso'] as const).map((k) => fx.c[k]);
    await batches(toStart.map((container) => () => must('start_container', { container })));
    // The main container has written its file and its two log lines before any case reads them.
    for (let i = 0; !docker(engine, ['logs', fx.c.main]).includes('hello'); i++) {
      if (i > 100) throw new Error('fixture main never logged');
      execFileSync('sleep', ['0.1']);
    }
    for (let i = 0; docker(engine, ['inspect', '-f', '{{.State.Running}}', fx.c.exited]).trim() !== 'false'; i++) {
      if (i > 100) throw new Error('fixture exited never exited');
      execFileSync('sleep', ['0.1']);
    }
    // The task's stderr line (written after its stdout line) is on the CLI's stderr; until the task runs, the CLI fails.
    // (Up to 90 s: another test file may drain this node for a moment, which holds the task back.)
    for (const end = Date.now() + 90_000; !spawnSync('docker', ['-H', engine.host, 'service', 'logs', fx.saved.logSvc], { encoding: 'utf8' }).stderr.includes('every-op-err'); ) {
      if (Date.now() > end) throw new Error(`fixture service never logged: ${docker(engine, ['service', 'ps', '--no-trunc', fx.saved.logSvc])}`);
      execFileSync('sleep', ['0.2']);
    }
  });

  afterAll(() => {
    // The docker CLI cleans up, so a broken connector cannot leave objects behind.
    const list = (args: string[]) => docker(engine, args).split('\n').filter(Boolean);
    for (const s of list(['service', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${run}-swarm`])) docker(engine, ['service', 'rm', s]);
    for (const kind of ['secret', 'config']) for (const id of list([kind, 'ls', '-q', '--filter', `label=${TEST_LABEL}=${run}`])) docker(engine, [kind, 'rm', id]);
    for (const value of [run, fx.sp.value]) {
      for (const svc of list(['service', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${value}`])) docker(engine, ['service', 'rm', svc]);
      const containers = list(['ps', '-aq', '--filter', `label=${TEST_LABEL}=${value}`]);
      if (containers.length) docker(engine, ['rm', '-f', '-v', ...containers]);
      for (const n of list(['network', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${value}`])) docker(engine, ['network', 'rm', n]);
      const volumes = list(['volume', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${value}`]);
      if (volumes.length) docker(engine, ['volume', 'rm', '-f', ...volumes]);
      // Images this run built or committed carry its label; the tags of the shared busybox go by name only.
      const images = [...new Set(list(['image', 'ls', '-q', '--no-trunc', '--filter', `label=${TEST_LABEL}=${value}`]))];
      if (images.length) docker(engine, ['rmi', '-f', ...images]);
    }
    for (const tag of [`${fx.tagRepo}:one`, `${fx.pushRepo}:v1`, fx.saveRef]) {
      if (list(['image', 'ls', '-q', tag]).length) docker(engine, ['rmi', tag]);
    }
    rmSync(fx.tmp, { recursive: true, force: true });
  });

  it('the table has an entry for every operation of the catalogue, and only those', () => {
    expect(Object.keys(TABLE).sort()).toEqual(listOperations().map((op) => op.name).sort());
  });

  for (const [op, entry] of Object.entries(TABLE) as [OperationName, Case<OperationName> | Case<OperationName>[]][]) {
    for (const c of Array.isArray(entry) ? entry : [entry]) {
      it(c.title ? `${op}: ${c.title}` : op, async () => {
        const r = await cli(op, c.params(fx));
        expect(r.code, `${op} exited ${r.code}; stderr: ${r.stderr.trim()}`).toBe(0);
        c.check(JSON.parse(r.stdout), fx);
      });
    }
  }
});
