import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOperations, type OperationName, type ParamsOf } from 'docker-connector/catalogue';
import { runCli } from '../support/cli.js';
import { TEST_LABEL, uniqueName } from '../support/connector.js';
import { harness } from '../support/harness.js';
import { podman } from '../support/podman.js';

/*
 * Every operation of the catalogue against Podman's Docker-compatible API
 * (Debian's podman 4.3, API 1.41), through the built CLI. Each operation is
 * either `works` (its result checked, and its effect through the docker CLI
 * pointed at Podman where that is cheap) or `unsupported` (Podman lacks the
 * endpoint): then the call must fail with a clear error saying the Engine
 * does not support it, never crash or succeed wrongly. The README's Podman
 * table is checked against this one, so it cannot drift.
 *
 * Cases run in the table's order (some use what an earlier one left).
 */

const HEX64 = /^[0-9a-f]{64}$/;
type Json = any;

interface Fx {
  tmp: string;
  value: string;
  labels: Record<string, string>;
  labelFilter: { label: string[] };
  image: string;
  c: Record<'main' | 'created' | 'toStop' | 'toKill' | 'toPause' | 'toRename' | 'toRemove' | 'exited' | 'iso', string>;
  net: string;
  newNet: string;
  newVol: string;
  tagRepo: string;
  pushRef: string;
  saved: Record<string, Json>;
}

interface Works<N extends OperationName> {
  title?: string;
  params: (fx: Fx) => ParamsOf<N>;
  check: (result: Json, fx: Fx) => void;
}
interface Unsupported<N extends OperationName> {
  /** What Podman lacks, as the README says it. */
  unsupported: string;
  params: (fx: Fx) => ParamsOf<N>;
}
/** Podman has the endpoint, but not for what the harness can offer it: the call fails and says why. */
interface Limited<N extends OperationName> {
  limited: string;
  params: (fx: Fx) => ParamsOf<N>;
  error: (err: { code: string; message: string }) => void;
}
type Row<N extends OperationName> = Works<N> | Works<N>[] | Unsupported<N> | Limited<N>;
type Table = { [N in OperationName]: Row<N> };

const pm = () => podman();
const dk = (args: string[]) => execFileSync('docker', ['-H', pm().host, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const changed = (container: string) => ({ container, changed: true });
const creds = () => ({ username: harness().registry.username, password: harness().registry.password, serveraddress: pm().registry });

const TABLE: Table = {
  // --- system ---
  ping: { params: () => ({}), check: (r) => expect(r).toMatchObject({ ok: true, api_version: '1.41', engine_api_version: '1.41' }) },
  get_version: { params: () => ({}), check: (r) => expect(r).toMatchObject({ Version: pm().version, ApiVersion: '1.41', Os: 'linux' }) },
  get_info: { params: () => ({}), check: (r) => expect(r).toMatchObject({ ID: expect.any(String), Containers: expect.any(Number), Images: expect.any(Number), Driver: 'overlay' }) },
  system_df: { params: () => ({}), check: (r) => expect(r).toMatchObject({ Images: expect.any(Array), Containers: expect.any(Array), Volumes: expect.any(Array) }) },
  system_events: {
    params: () => ({ since: '10m', max_events: 3 }),
    check: (r) => {
      expect(r.count).toBe(r.events.length);
      expect(r.count).toBeGreaterThan(0);
    },
  },
  health: { params: () => ({}), check: (r) => expect(r).toMatchObject({ reachable: true, engine_version: pm().version, api_version: '1.41' }) },

  // --- containers ---
  create_container: {
    params: (fx) => ({ image: fx.image, name: uniqueName('dcpm-new'), labels: fx.labels, command: ['sleep', '600'] }),
    check: (r) => {
      expect(r).toEqual({ id: expect.stringMatching(HEX64), warnings: expect.any(Array) });
      expect(dk(['inspect', '-f', '{{.State.Status}}', r.id]).trim()).toBe('created');
    },
  },
  start_container: {
    params: (fx) => ({ container: fx.c.created }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.created));
      expect(dk(['inspect', '-f', '{{.State.Running}}', fx.c.created]).trim()).toBe('true');
    },
  },
  list_containers: {
    params: (fx) => ({ all: true, filters: fx.labelFilter }),
    check: (r, fx) => {
      const main = (r as { Names: string[] }[]).find((c) => c.Names.includes(`/${fx.c.main}`));
      expect(main).toMatchObject({ Id: expect.stringMatching(HEX64), State: 'running', Labels: expect.objectContaining(fx.labels) });
    },
  },
  inspect_container: {
    params: (fx) => ({ container: fx.c.main }),
    check: (r, fx) => expect(r).toMatchObject({ Id: expect.stringMatching(HEX64), Name: `/${fx.c.main}`, State: { Running: true }, Config: expect.any(Object), HostConfig: expect.any(Object) }),
  },
  container_top: {
    params: (fx) => ({ container: fx.c.main }),
    check: (r) => expect(r.processes.map((p: string[]) => p.join(' ')).join('\n')).toContain('sleep'),
  },
  container_changes: {
    params: (fx) => ({ container: fx.c.main }),
    check: (r) => expect(r).toEqual(expect.arrayContaining([{ path: '/data/file.txt', kind: 'added' }])),
  },
  container_logs: {
    params: (fx) => ({ container: fx.c.main }),
    check: (r) => expect(r).toMatchObject({ stdout: 'hello\n', stderr: 'oops\n', truncated: false }),
  },
  container_stats: {
    params: (fx) => ({ container: fx.c.main, one_shot: true }),
    check: (r) => expect(r).toMatchObject({ memory_usage: expect.any(Number), pids: expect.any(Number) }),
  },
  exec_container: [
    {
      params: (fx) => ({ container: fx.c.main, command: 'echo out; echo err >&2; exit 3' }),
      check: (r) => expect(r).toEqual({ exit_code: 3, stdout: 'out\n', stderr: 'err\n', truncated: false, exec_id: expect.stringMatching(HEX64) }),
    },
    {
      title: 'with stdin (an upgraded connection)',
      params: (fx) => ({ container: fx.c.main, command: ['cat'], stdin: 'fed through stdin\n' }),
      check: (r) => expect(r).toMatchObject({ exit_code: 0, stdout: 'fed through stdin\n' }),
    },
  ],
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
      expect(r).toEqual({ files: 2, bytes: 6 });
      expect(dk(['exec', fx.c.main, 'cat', '/tmp/upload/a.txt'])).toBe('alpha\n');
    },
  },
  copy_from_container: {
    params: (fx) => ({ container: fx.c.main, path: '/data', dest: join(fx.tmp, 'down') }),
    check: (r, fx) => {
      expect(r).toMatchObject({ count: 2, bytes: 8, skipped: [] });
      expect(readFileSync(join(fx.tmp, 'down', 'data', 'file.txt'), 'utf8')).toBe('content\n');
    },
  },
  container_commit: {
    params: (fx) => ({ container: fx.c.main, changes: [`LABEL ${TEST_LABEL}=${fx.value}`], comment: 'podman test' }),
    check: (r) => {
      expect(r).toEqual({ id: expect.stringMatching(/^(sha256:)?[0-9a-f]{64}$/) });
      expect(dk(['image', 'inspect', '-f', `{{index .Config.Labels "${TEST_LABEL}"}}`, r.id]).trim()).not.toBe('');
    },
  },
  update_container: {
    unsupported: 'Podman 4.3 has no POST /containers/{id}/update',
    params: (fx) => ({ container: fx.c.main, pids_limit: 100 }),
  },
  pause_container: {
    params: (fx) => ({ container: fx.c.toPause }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.toPause));
      expect(dk(['inspect', '-f', '{{.State.Status}}', fx.c.toPause]).trim()).toBe('paused');
    },
  },
  unpause_container: {
    params: (fx) => ({ container: fx.c.toPause }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.toPause));
      expect(dk(['inspect', '-f', '{{.State.Status}}', fx.c.toPause]).trim()).toBe('running');
    },
  },
  restart_container: {
    params: (fx) => ({ container: fx.c.toPause, timeout: 1 }),
    check: (r, fx) => expect(r).toEqual(changed(fx.c.toPause)),
  },
  stop_container: {
    params: (fx) => ({ container: fx.c.toStop, timeout: 1 }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.toStop));
      expect(dk(['inspect', '-f', '{{.State.Running}}', fx.c.toStop]).trim()).toBe('false');
    },
  },
  kill_container: {
    params: (fx) => ({ container: fx.c.toKill, signal: 'SIGKILL' }),
    check: (r, fx) => {
      expect(r).toEqual(changed(fx.c.toKill));
      expect(dk(['inspect', '-f', '{{.State.Running}}', fx.c.toKill]).trim()).toBe('false');
    },
  },
  wait_container: {
    params: (fx) => ({ container: fx.c.exited, timeout: 30 }),
    check: (r, fx) => expect(r).toEqual({ container: fx.c.exited, status_code: 3 }),
  },
  rename_container: {
    params: (fx) => ({ container: fx.c.toRename, name: `${fx.c.toRename}-renamed` }),
    check: (r, fx) => {
      expect(r).toEqual({ container: fx.c.toRename, name: `${fx.c.toRename}-renamed`, changed: true });
      fx.c.toRename = `${fx.c.toRename}-renamed`;
    },
  },
  remove_container: [
    {
      title: 'dry run',
      params: (fx) => ({ container: fx.c.toRemove, dry_run: true }),
      check: (r, fx) => expect(r).toMatchObject({ container: fx.c.toRemove, changed: false, dry_run: true, would_remove: true }),
    },
    {
      title: 'for real',
      params: (fx) => ({ container: fx.c.toRemove }),
      check: (r, fx) => {
        expect(r).toEqual({ container: fx.c.toRemove, changed: true, dry_run: false });
        expect(dk(['ps', '-aq', '--filter', `name=^${fx.c.toRemove}$`]).trim()).toBe('');
      },
    },
  ],
  prune_containers: [
    {
      title: 'dry run',
      params: (fx) => ({ filters: fx.labelFilter, dry_run: true }),
      check: (r, fx) => {
        const ids = (r.deleted as { id: string }[]).map((d) => d.id);
        expect(ids.length).toBeGreaterThanOrEqual(3);
        expect(ids).not.toContain(dk(['inspect', '-f', '{{.Id}}', fx.c.main]).trim());
        fx.saved.pruned = ids;
      },
    },
    {
      title: 'for real',
      params: (fx) => ({ filters: fx.labelFilter }),
      check: (r, fx) => {
        expect((r.deleted as { id: string }[]).map((d) => d.id).sort()).toEqual([...fx.saved.pruned].sort());
        expect(dk(['ps', '-q', '--filter', `name=^${fx.c.main}$`]).trim()).not.toBe('');
      },
    },
  ],

  // --- images ---
  tag_image: {
    params: (fx) => ({ image: fx.image, repo: fx.tagRepo, tag: 'one' }),
    check: (r, fx) => {
      expect(r).toEqual({ image: fx.image, reference: `${fx.tagRepo}:one` });
      expect(dk(['image', 'ls', '-q', `${fx.tagRepo}:one`]).trim()).not.toBe('');
    },
  },
  list_images: { params: () => ({}), check: (r, fx) => expect((r as { RepoTags: string[] | null }[]).flatMap((i) => i.RepoTags ?? [])).toContain(fx.image) },
  inspect_image: { params: (fx) => ({ image: fx.image }), check: (r, fx) => expect(r).toMatchObject({ Id: expect.any(String), RepoTags: expect.arrayContaining([fx.image]) }) },
  image_history: { params: (fx) => ({ image: fx.image }), check: (r) => expect(r.length).toBeGreaterThan(0) },
  push_image: {
    params: (fx) => ({ image: fx.pushRef, tag: 'v1', auth: creds() }),
    check: (r, fx) => {
      expect(r).toMatchObject({ digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      fx.saved.digest = r.digest;
    },
  },
  pull_image: {
    params: (fx) => ({ image: fx.pushRef, tag: 'v1', auth: creds() }),
    // Podman files every digest an image ever had under every name it has, so after a push from the
    // same store the digest pulled cannot be told: the connector says null rather than guess.
    check: (r, fx) => expect([fx.saved.digest, null]).toContain(r.digest),
  },
  inspect_distribution: {
    unsupported: 'Podman 4.3 has no GET /distribution/{name}/json',
    params: (fx) => ({ image: `${fx.pushRef}:v1`, auth: creds() }),
  },
  registry_login: {
    limited: "Podman's POST /auth reaches registries over HTTPS only (it ignores registries.conf `insecure`); the harness registry speaks plain HTTP",
    params: () => ({ username: harness().registry.username, password: harness().registry.password, server: pm().registry }),
    error: (e) => {
      expect(e.message).toMatch(/HTTPS|https/);
      expect(e.message).not.toContain(harness().registry.password);
    },
  },
  search_images: {
    params: () => ({ term: `${pm().searchRegistry}/dc`, limit: 5 }),
    check: (r) => expect(JSON.stringify(r)).toContain('dc/busybox'),
  },
  build_image: {
    params: (fx) => ({ dockerfile: `FROM ${fx.image}\nCOPY hello.txt /hello.txt\n`, files: { 'hello.txt': 'hello\n' }, labels: fx.labels, tags: [`${fx.tagRepo}:built`] }),
    check: (r, fx) => {
      expect(r).toMatchObject({ id: expect.any(String) });
      expect(dk(['run', '--rm', `${fx.tagRepo}:built`, 'cat', '/hello.txt'])).toBe('hello\n');
    },
  },
  save_images: {
    params: (fx) => ({ images: [fx.image], path: join(fx.tmp, 'saved.tar') }),
    check: (r, fx) => expect(r).toMatchObject({ path: join(fx.tmp, 'saved.tar'), sha256: sha256File(join(fx.tmp, 'saved.tar')) }),
  },
  load_images: {
    params: (fx) => ({ path: join(fx.tmp, 'saved.tar') }),
    check: (r) => expect(JSON.stringify(r)).toContain('dc-busybox'),
  },
  remove_image: [
    {
      title: 'dry run',
      params: (fx) => ({ image: `${fx.tagRepo}:one`, dry_run: true }),
      check: (r) => expect(r).toMatchObject({ dry_run: true }),
    },
    {
      title: 'for real',
      params: (fx) => ({ image: `${fx.tagRepo}:one` }),
      check: (r, fx) => {
        expect(r).toMatchObject({ dry_run: false });
        expect(dk(['image', 'ls', '-q', `${fx.tagRepo}:one`]).trim()).toBe('');
      },
    },
  ],
  prune_images: {
    params: (fx) => ({ filters: fx.labelFilter, dry_run: true }),
    check: (r) => expect(r).toMatchObject({ deleted: expect.any(Array), dry_run: true }),
  },

  // --- networks ---
  create_network: {
    params: (fx) => ({ name: fx.newNet, labels: fx.labels }),
    check: (r, fx) => {
      expect(r).toMatchObject({ id: expect.any(String), name: fx.newNet });
      expect(dk(['network', 'inspect', '-f', '{{.Name}}', fx.newNet]).trim()).toBe(fx.newNet);
    },
  },
  list_networks: { params: (fx) => ({ filters: fx.labelFilter }), check: (r, fx) => expect((r as { Name: string }[]).map((n) => n.Name)).toContain(fx.newNet) },
  inspect_network: { params: (fx) => ({ network: fx.newNet }), check: (r, fx) => expect(r).toMatchObject({ Name: fx.newNet }) },
  connect_network: {
    params: (fx) => ({ network: fx.newNet, container: fx.c.main }),
    check: (r, fx) => {
      expect(r).toMatchObject({ changed: true });
      expect(dk(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', fx.c.main])).toContain(fx.newNet);
    },
  },
  disconnect_network: {
    params: (fx) => ({ network: fx.newNet, container: fx.c.main }),
    check: (r, fx) => {
      expect(r).toMatchObject({ changed: true });
      expect(dk(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', fx.c.main])).not.toContain(fx.newNet);
    },
  },
  remove_network: [
    { title: 'dry run', params: (fx) => ({ network: fx.newNet, dry_run: true }), check: (r) => expect(r).toMatchObject({ dry_run: true }) },
    {
      title: 'for real',
      params: (fx) => ({ network: fx.newNet }),
      check: (r, fx) => {
        expect(r).toMatchObject({ dry_run: false });
        expect(dk(['network', 'ls', '-q', '--filter', `name=^${fx.newNet}$`]).trim()).toBe('');
      },
    },
  ],
  prune_networks: { params: (fx) => ({ filters: fx.labelFilter, dry_run: true }), check: (r) => expect(r).toMatchObject({ dry_run: true }) },

  // --- volumes ---
  create_volume: {
    params: (fx) => ({ name: fx.newVol, labels: fx.labels }),
    check: (r, fx) => {
      expect(r).toMatchObject({ Name: fx.newVol });
      expect(dk(['volume', 'ls', '-q']).split('\n')).toContain(fx.newVol);
    },
  },
  list_volumes: { params: (fx) => ({ filters: fx.labelFilter }), check: (r, fx) => expect(JSON.stringify(r)).toContain(fx.newVol) },
  inspect_volume: { params: (fx) => ({ volume: fx.newVol }), check: (r, fx) => expect(r).toMatchObject({ Name: fx.newVol, Driver: 'local' }) },
  remove_volume: {
    params: (fx) => ({ volume: fx.newVol }),
    check: (r, fx) => {
      expect(r).toMatchObject({ dry_run: false });
      expect(dk(['volume', 'ls', '-q']).split('\n')).not.toContain(fx.newVol);
    },
  },
  prune_volumes: { params: (fx) => ({ filters: fx.labelFilter, all: true, dry_run: true }), check: (r) => expect(r).toMatchObject({ dry_run: true }) },

  // --- containment ---
  isolate_container: {
    params: (fx) => ({ container: fx.c.iso }),
    check: (r, fx) => {
      expect(r).toMatchObject({ restore: expect.any(Object) });
      fx.saved.restore = r.restore;
      expect(dk(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', fx.c.iso])).not.toContain(fx.net);
    },
  },
  restore_container: {
    params: (fx) => ({ container: fx.c.iso, restore: fx.saved.restore }),
    check: (r, fx) => {
      expect(r).toMatchObject({ changed: true, container: { name: fx.c.iso } });
      expect(dk(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', fx.c.iso])).toContain(fx.net);
    },
  },
  collect_evidence: {
    params: (fx) => ({ container: fx.c.main, path: join(fx.tmp, 'evidence'), pause: true }),
    check: (r, fx) => {
      expect(r).toMatchObject({ path: join(fx.tmp, 'evidence'), manifest_sha256: sha256File(join(fx.tmp, 'evidence', 'manifest.json')), failed: [] });
      expect(r.artifacts.map((a: Json) => a.name)).toEqual(['inspect', 'top', 'changes', 'export', 'logs', 'stats', 'image', 'image_history', 'networks']);
      expect(dk(['inspect', '-f', '{{.State.Status}}', fx.c.main]).trim()).toBe('running');
      fx.saved.evidence = r;
    },
  },
  verify_evidence: {
    params: (fx) => ({ path: join(fx.tmp, 'evidence') }),
    check: (r, fx) => expect(r).toEqual({ ok: true, checked: 9, mismatches: [], missing: [], manifest_sha256: fx.saved.evidence.manifest_sha256 }),
  },
  inspect_swarm: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({}) },
  list_nodes: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({}) },
  inspect_node: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({ node: 'self' }) },
  update_node: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({ node: 'self', availability: 'drain' }) },
  list_services: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({ status: true }) },
  inspect_service: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({ service: 'dc-no-service' }) },
  create_service: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: (fx) => ({ name: 'dc-podman-svc', image: fx.image, labels: fx.labels }) },
  update_service: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({ service: 'dc-no-service', env: { A: '1' } }) },
  scale_service: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({ service: 'dc-no-service', replicas: 2 }) },
  rollback_service: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({ service: 'dc-no-service' }) },
  remove_service: { unsupported: 'Podman 4.3 has no Swarm (no /swarm, /nodes or /services endpoints)', params: () => ({ service: 'dc-no-service', dry_run: true }) },
  list_tasks: { unsupported: 'Podman 4.3 has no Swarm (no /tasks or /configs endpoints, no service logs)', params: () => ({ filters: { service: ['dc-no-service'] } }) },
  inspect_task: { unsupported: 'Podman 4.3 has no Swarm (no /tasks or /configs endpoints, no service logs)', params: () => ({ task: 'dc-no-task' }) },
  service_logs: { unsupported: 'Podman 4.3 has no Swarm (no /tasks or /configs endpoints, no service logs)', params: () => ({ service: 'dc-no-service' }) },
  // Podman has secrets of its own (for containers) behind the same endpoints: they work, without labels or label filters.
  create_secret: {
    params: (fx) => ({ name: (fx.saved.secret ??= uniqueName('dcpm-sec')), data: 'podman-secret-value' }),
    check: (r, fx) => {
      expect(r).toEqual({ id: expect.any(String), name: fx.saved.secret });
      expect(dk(['secret', 'ls', '--format', '{{.ID}} {{.Name}}'])).toContain(`${r.id} ${fx.saved.secret}`);
      fx.saved.secretId = r.id;
    },
  },
  list_secrets: {
    params: (fx) => ({ filters: { name: [fx.saved.secret] } }),
    check: (r, fx) => expect(r).toEqual([expect.objectContaining({ ID: fx.saved.secretId, Spec: expect.objectContaining({ Name: fx.saved.secret }) })]),
  },
  inspect_secret: {
    params: (fx) => ({ secret: fx.saved.secret }),
    check: (r, fx) => {
      expect(r).toMatchObject({ ID: fx.saved.secretId, Spec: { Name: fx.saved.secret } });
      expect(JSON.stringify(r)).not.toContain('podman-secret-value');
    },
  },
  remove_secret: [
    {
      title: 'dry run',
      params: (fx) => ({ secret: fx.saved.secret, dry_run: true }),
      check: (r, fx) => expect(r).toEqual({ deleted: [{ id: fx.saved.secretId, name: fx.saved.secret }], dry_run: true, plan_id: expect.any(String) }),
    },
    {
      title: 'for real',
      params: (fx) => ({ secret: fx.saved.secret }),
      check: (r, fx) => {
        expect(r).toEqual({ deleted: [{ id: fx.saved.secretId, name: fx.saved.secret }], dry_run: false });
        expect(dk(['secret', 'ls', '--format', '{{.Name}}'])).not.toContain(fx.saved.secret);
      },
    },
  ],
  list_configs: { unsupported: 'Podman 4.3 has no Swarm (no /tasks or /configs endpoints, no service logs)', params: () => ({}) },
  inspect_config: { unsupported: 'Podman 4.3 has no Swarm (no /tasks or /configs endpoints, no service logs)', params: () => ({ config: 'dc-no-config' }) },
  create_config: { unsupported: 'Podman 4.3 has no Swarm (no /tasks or /configs endpoints, no service logs)', params: () => ({ name: 'dc-podman-cfg', data: 'x' }) },
  remove_config: { unsupported: 'Podman 4.3 has no Swarm (no /tasks or /configs endpoints, no service logs)', params: () => ({ config: 'dc-no-config', dry_run: true }) },
  find_containers: {
    params: (fx) => ({ image: fx.image, name: 'dcpm-main-*', label: `${TEST_LABEL}=${fx.value}`, process: 'sleep' }),
    check: (r, fx) => {
      expect(r).toEqual({
        matches: [{ endpoint: 'default', id: expect.stringMatching(HEX64), name: fx.c.main, image: expect.any(String), image_id: expect.any(String), state: 'running', matched: ['image', 'name', `label:${TEST_LABEL}=${fx.value}`, 'process:sleep'] }],
        errors: {},
      });
    },
  },
  find_images: {
    params: (fx) => ({ reference: fx.image }),
    check: (r) => {
      expect(r).toEqual({ matches: [{ endpoint: 'default', id: expect.any(String), repo_tags: expect.any(Array), repo_digests: expect.any(Array), containers: expect.any(Number) }], errors: {} });
      expect(r.matches[0].containers).toBeGreaterThan(0);
    },
  },
  system_prune: {
    params: (fx) => ({ filters: fx.labelFilter, dry_run: true }),
    check: (r) => expect(r).toMatchObject({ dry_run: true }),
  },
};

type AnyRow = Works<OperationName> | Unsupported<OperationName> | Limited<OperationName>;
const rows = (name: OperationName): AnyRow[] => {
  const row = TABLE[name] as Row<OperationName>;
  return Array.isArray(row) ? row : [row];
};
const isUnsupported = (r: AnyRow): r is Unsupported<OperationName> => 'unsupported' in r;
const isLimited = (r: AnyRow): r is Limited<OperationName> => 'limited' in r;
const status = (r: AnyRow) => (isUnsupported(r) ? 'unsupported' : isLimited(r) ? 'limited' : 'works');

/** The README's Podman table: operation → "works" | "limited" | "unsupported". */
function readmeTable(): Map<string, string> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split(/^### Podman\b/m)[1]?.split(/^#{2,3} /m)[0] ?? '';
  const out = new Map<string, string>();
  for (const m of section.matchAll(/^\| `([a-z_]+)` \| (works|limited|unsupported)\b/gm)) out.set(m[1]!, m[2]!);
  return out;
}

describe('Podman (Docker-compatible API)', () => {
  const fx = {} as Fx;
  const order = Object.keys(TABLE) as OperationName[];

  beforeAll(() => {
    const value = uniqueName('pm');
    Object.assign(fx, {
      tmp: mkdtempSync(join(tmpdir(), 'dc-podman-')),
      value,
      labels: { [TEST_LABEL]: value },
      labelFilter: { label: [`${TEST_LABEL}=${value}`] },
      image: pm().image,
      net: uniqueName('dcpm-net'),
      newNet: uniqueName('dcpm-newnet'),
      newVol: uniqueName('dcpm-vol'),
      tagRepo: `dcpm-tag-${value}`,
      pushRef: `${pm().registry}/dc/pm-${value}`,
      saved: {},
    });
    mkdirSync(join(fx.tmp, 'upload'));
    writeFileSync(join(fx.tmp, 'upload', 'a.txt'), 'alpha\n');
    mkdirSync(join(fx.tmp, 'down'));
    const label = ['--label', `${TEST_LABEL}=${value}`];
    dk(['network', 'create', ...label, fx.net]);
    const run = (name: string, extra: string[], cmd: string) => {
      dk(['run', '-d', ...label, '--name', name, ...extra, fx.image, 'sh', '-c', cmd]);
      return name;
    };
    const sleeper = (p: string) => run(uniqueName(p), [], 'sleep 600');
    fx.c = {
      main: run(uniqueName('dcpm-main'), [], 'echo hello; echo oops >&2; mkdir /data; echo content > /data/file.txt; sleep 600'),
      created: uniqueName('dcpm-created'),
      toStop: sleeper('dcpm-stop'),
      toKill: sleeper('dcpm-kill'),
      toPause: sleeper('dcpm-pause'),
      toRename: sleeper('dcpm-rename'),
      toRemove: uniqueName('dcpm-remove'),
      exited: run(uniqueName('dcpm-exited'), [], 'exit 3'),
      iso: run(uniqueName('dcpm-iso'), ['--network', fx.net], 'sleep 600'),
    };
    dk(['create', ...label, '--name', fx.c.created, fx.image, 'sleep', '600']);
    dk(['create', ...label, '--name', fx.c.toRemove, fx.image, 'true']);
    dk(['tag', fx.image, `${fx.pushRef}:v1`]);
    // The main container has written its file before the cases look for it.
    for (let i = 0; i < 50 && !dk(['logs', fx.c.main]).includes('hello'); i++) execFileSync('sleep', ['0.1']);
  }, 120_000);

  afterAll(() => {
    try {
      const ids = dk(['ps', '-aq', '--filter', `label=${TEST_LABEL}=${fx.value}`]).split('\n').filter(Boolean);
      if (ids.length) dk(['rm', '-f', ...ids]);
      dk(['network', 'rm', fx.net]);
      const refs = dk(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter((r) => r.includes(fx.value));
      if (refs.length) dk(['rmi', ...refs]);
      dk(['image', 'prune', '-f', '--filter', `label=${TEST_LABEL}=${fx.value}`]);
    } catch {
      // best effort: the harness removes Podman's whole state at teardown
    }
    rmSync(fx.tmp, { recursive: true, force: true });
  });

  it('has a row for every operation of the catalogue, and the README says the same', () => {
    expect(order.sort()).toEqual(listOperations().map((o) => o.name).sort());
    const readme = readmeTable();
    const expected = new Map(order.map((n) => [n as string, status(rows(n)[0]!)]));
    expect(Object.fromEntries(readme)).toEqual(Object.fromEntries(expected));
  });

  for (const name of Object.keys(TABLE) as OperationName[]) {
    for (const row of rows(name)) {
      const title = `${name}${'title' in row && row.title ? ` (${row.title})` : ''}: ${isUnsupported(row) ? 'unsupported, with a clear error' : isLimited(row) ? 'limited, with a clear error' : 'works'}`;
      it(title, async () => {
        const run = await runCli(['run', name, '--host', pm().host, '--params', JSON.stringify(row.params(fx))], { DOCKER_CONNECTOR_RATE_LIMIT: '0' }, 120_000);
        if (isUnsupported(row)) {
          expect(run.code, run.stdout + run.stderr).toBe(1);
          const err = JSON.parse(run.stdout || run.stderr).error;
          expect(err.code).toBe('UNSUPPORTED');
          expect(err.message).toMatch(/does not support/);
          return;
        }
        if (isLimited(row)) {
          expect(run.code, run.stdout + run.stderr).toBe(1);
          row.error(JSON.parse(run.stdout || run.stderr).error);
          return;
        }
        expect(run.code, run.stderr || run.stdout).toBe(0);
        row.check(JSON.parse(run.stdout), fx);
      }, 120_000);
    }
  }
});
