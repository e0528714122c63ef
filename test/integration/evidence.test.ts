import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerConnector } from 'docker-connector';
import { CLI_BIN, runCli } from '../support/cli.js';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { failure } from '../support/expect-error.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';
import { rawRequest, startServed } from '../support/served.js';

const IMAGE = harness().image;
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const ALL_FILES = ['inspect.json', 'top.json', 'changes.json', 'export.tar', 'logs.txt', 'stats.json', 'image.json', 'image-history.json', 'networks.json'];

type Json = any;

describe.each(engines())('evidence on Engine $version (API $apiVersion)', (engine: HarnessEngine) => {
  const dc = connectorFor(engine);
  const docker = (...args: string[]) => execFileSync('docker', ['-H', engine.host, ...args], { encoding: 'utf8' }).trim();
  const state = (c: string) => JSON.parse(docker('inspect', '-f', '{{json .State}}', c)) as { Running: boolean; Paused: boolean; Status: string };
  const exists = (c: string) => docker('ps', '-aq', '--no-trunc', '--filter', `id=${c}`) !== '';
  const run = uniqueName('ev');
  const tag = ['--label', `${TEST_LABEL}=evidence`, '--label', `run=${run}`];
  const tmp = mkdtempSync(join(tmpdir(), 'dc-evidence-'));
  const live = uniqueName('dcev');
  let liveId = '';

  beforeAll(async () => {
    docker('run', '-d', '--name', live, ...tag, IMAGE, 'sh', '-c', 'echo hello-out; echo hello-err >&2; echo planted > /tmp/evidence-marker; exec sleep 300');
    liveId = docker('inspect', '-f', '{{.Id}}', live);
    // The marker file and both log lines exist once the shell has reached sleep.
    for (let i = 0; i < 50 && !docker('logs', live).includes('hello-out'); i++) await new Promise((r) => setTimeout(r, 100));
  });

  afterAll(() => {
    const ids = docker('ps', '-aq', '--filter', `label=run=${run}`).split('\n').filter(Boolean);
    if (ids.length) docker('rm', '-f', ...ids);
    rmSync(tmp, { recursive: true, force: true });
    dc.close();
  });

  it('collects a bundle of a running container whose hashes verify_evidence confirms; the export lists its files; it keeps running', async () => {
    const path = join(tmp, 'b1');
    const r = await dc.execute('collect_evidence', { container: live, path, case_id: 'IR-2026-0042', operator: 'soar-playbook' });
    expect(r.path).toBe(path);
    expect(r.failed).toEqual([]);
    expect(r.artifacts.map((a) => a.file).sort()).toEqual([...ALL_FILES].sort());
    expect(readdirSync(path).sort()).toEqual([...ALL_FILES, 'manifest.json'].sort());
    for (const a of r.artifacts) expect({ file: a.file, sha256: sha256(join(path, a.file)), bytes: readFileSync(join(path, a.file)).length }).toEqual({ file: a.file, sha256: a.sha256, bytes: a.bytes });
    expect(r.manifest_sha256).toBe(sha256(join(path, 'manifest.json')));
    expect(r.bytes).toBe(r.artifacts.reduce((s, a) => s + a.bytes, readFileSync(join(path, 'manifest.json')).length));

    const m = JSON.parse(readFileSync(join(path, 'manifest.json'), 'utf8')) as Json;
    const info = JSON.parse(docker('info', '--format', '{{json .}}')) as { ID: string; Name: string };
    expect(m).toMatchObject({
      case_id: 'IR-2026-0042',
      operator: 'soar-playbook',
      tool: { name: 'docker-connector', version: PACKAGE_VERSION },
      engine: { id: info.ID, name: info.Name, version: engine.version, api_version: engine.apiVersion, endpoint: engine.host },
      container: { id: liveId, name: live, image: IMAGE, image_id: docker('inspect', '-f', '{{.Image}}', live) },
      pause: { requested: false, applied: false },
    });
    expect(m.swarm).toBeUndefined();
    expect(Date.parse(m.collected_at.start)).toBeLessThanOrEqual(Date.parse(m.collected_at.end));
    expect(m.collected_at.end).toMatch(/Z$/);
    expect(m.artifacts.map((a: Json) => ({ name: a.name, file: a.file, bytes: a.bytes, sha256: a.sha256 }))).toEqual(r.artifacts);

    // Each artifact is what it says.
    const tarList = execFileSync('tar', ['-tf', join(path, 'export.tar')], { encoding: 'utf8' }).split('\n');
    expect(tarList).toContain('tmp/evidence-marker');
    expect(tarList.some((f) => /^bin\/(busybox|sh)$/.test(f))).toBe(true);
    expect(JSON.parse(readFileSync(join(path, 'inspect.json'), 'utf8')).Id).toBe(liveId);
    expect(JSON.stringify(JSON.parse(readFileSync(join(path, 'top.json'), 'utf8')).Processes)).toContain('sleep 300');
    expect(JSON.parse(readFileSync(join(path, 'changes.json'), 'utf8'))).toEqual(expect.arrayContaining([expect.objectContaining({ Path: '/tmp/evidence-marker' })]));
    const logs = readFileSync(join(path, 'logs.txt'), 'utf8');
    expect(logs).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z hello-(out|err)$/m);
    expect(logs).toContain('hello-out');
    expect(logs).toContain('hello-err');
    expect(JSON.parse(readFileSync(join(path, 'stats.json'), 'utf8')).pids_stats.current).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(path, 'image.json'), 'utf8')).Id).toBe(m.container.image_id);
    expect(Array.isArray(JSON.parse(readFileSync(join(path, 'image-history.json'), 'utf8')))).toBe(true);
    expect(JSON.parse(readFileSync(join(path, 'networks.json'), 'utf8')).map((n: Json) => n.Name)).toEqual(['bridge']);

    const v = await dc.execute('verify_evidence', { path, manifest_sha256: r.manifest_sha256 });
    expect(v).toEqual({ ok: true, checked: ALL_FILES.length, mismatches: [], missing: [], manifest_sha256: r.manifest_sha256 });
    expect(state(live)).toMatchObject({ Running: true, Paused: false });
  });

  it('a changed byte in any artifact turns ok false naming that file; a missing file is listed; a rewritten manifest is caught', async () => {
    const path = join(tmp, 'b2');
    const r = await dc.execute('collect_evidence', { container: liveId, path });
    for (const a of r.artifacts) {
      const file = join(path, a.file);
      const original = readFileSync(file);
      const changed = Buffer.from(original);
      changed[Math.floor(changed.length / 2)]! ^= 0x01;
      writeFileSync(file, changed);
      const v = await dc.execute('verify_evidence', { path });
      expect(v).toEqual({ ok: false, checked: r.artifacts.length, mismatches: [{ file: a.file, expected: a.sha256, actual: sha256(file) }], missing: [], manifest_sha256: r.manifest_sha256 });
      writeFileSync(file, original);
    }
    expect((await dc.execute('verify_evidence', { path })).ok).toBe(true);

    renameSync(join(path, 'export.tar'), join(tmp, 'moved.tar'));
    expect(await dc.execute('verify_evidence', { path })).toMatchObject({ ok: false, mismatches: [], missing: ['export.tar'] });
    renameSync(join(tmp, 'moved.tar'), join(path, 'export.tar'));

    // Altering an artifact and its manifest entry together passes the manifest alone, never the hash the collection reported.
    const manifestFile = join(path, 'manifest.json');
    const m = JSON.parse(readFileSync(manifestFile, 'utf8')) as Json;
    writeFileSync(join(path, 'logs.txt'), 'nothing to see\n');
    m.artifacts.find((a: Json) => a.file === 'logs.txt').sha256 = sha256(join(path, 'logs.txt'));
    writeFileSync(manifestFile, JSON.stringify(m, null, 2));
    expect((await dc.execute('verify_evidence', { path })).ok).toBe(true);
    const v = await dc.execute('verify_evidence', { path, manifest_sha256: r.manifest_sha256 });
    expect(v).toMatchObject({ ok: false, mismatches: [{ file: 'manifest.json', expected: r.manifest_sha256, actual: sha256(manifestFile) }] });
  });

  it('pause: true freezes a running container for the file system and unpauses it; one paused before stays paused', async () => {
    const r = await dc.execute('collect_evidence', { container: live, path: join(tmp, 'b3'), pause: true, include: ['top', 'changes', 'export'] });
    expect(r.artifacts.map((a) => a.name)).toEqual(['top', 'changes', 'export']);
    expect(JSON.parse(readFileSync(join(r.path, 'manifest.json'), 'utf8')).pause).toEqual({ requested: true, applied: true });
    expect(state(live)).toMatchObject({ Running: true, Paused: false });

    docker('pause', live);
    try {
      const again = await dc.execute('collect_evidence', { container: live, path: join(tmp, 'b4'), pause: true, include: ['inspect', 'export'] });
      expect(JSON.parse(readFileSync(join(again.path, 'manifest.json'), 'utf8'))).toMatchObject({ pause: { requested: true, applied: false }, container: { state: { paused: true } } });
      expect(state(live)).toMatchObject({ Running: true, Paused: true });
    } finally {
      docker('unpause', live);
    }
  });

  it('records an artifact it cannot collect with its error (top of a stopped container) and still verifies', async () => {
    const stopped = uniqueName('dcevs');
    docker('create', '--name', stopped, ...tag, IMAGE, 'true');
    const r = await dc.execute('collect_evidence', { container: stopped, path: join(tmp, 'b5') });
    expect(r.failed).toEqual([{ name: 'top', code: expect.any(String), message: expect.stringMatching(/not running|is not running|stopped/i) }]);
    const m = JSON.parse(readFileSync(join(r.path, 'manifest.json'), 'utf8')) as Json;
    expect(m.artifacts.find((a: Json) => a.name === 'top')).toEqual({ name: 'top', error: { code: r.failed[0]!.code, message: r.failed[0]!.message }, collected_at: expect.any(String) });
    expect(readdirSync(r.path)).not.toContain('top.json');
    expect(await dc.execute('verify_evidence', { path: r.path })).toMatchObject({ ok: true, checked: ALL_FILES.length - 1 });
    expect(state(stopped).Status).toBe('created');
  });

  it('records the Swarm service and task a task container belongs to', async () => {
    const task = uniqueName('dcevt');
    const swarmLabels = { 'com.docker.swarm.service.id': 'svc123', 'com.docker.swarm.service.name': 'web', 'com.docker.swarm.task.id': 'task456', 'com.docker.swarm.task.name': 'web.1.task456' };
    docker('create', '--name', task, ...tag, ...Object.entries(swarmLabels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), IMAGE, 'true');
    const r = await dc.execute('collect_evidence', { container: task, path: join(tmp, 'b-task'), include: ['inspect'] });
    expect(JSON.parse(readFileSync(join(r.path, 'manifest.json'), 'utf8')).swarm).toEqual({ service_id: 'svc123', service_name: 'web', task_id: 'task456', task_name: 'web.1.task456' });
  });

  it('refuses a folder that is not empty, fails only when inspect fails (nothing created), and verifies with no Engine', async () => {
    const full = join(tmp, 'full');
    execFileSync('mkdir', ['-p', full]);
    writeFileSync(join(full, 'x'), 'x');
    const e1 = await failure(dc.execute('collect_evidence', { container: live, path: full }));
    expect(e1.code).toBe('INVALID_PARAMS');
    expect(e1.message).toMatch(/parameter path: .*full exists and is not empty/);

    const e2 = await failure(dc.execute('collect_evidence', { container: uniqueName('gone'), path: join(tmp, 'none') }));
    expect(e2.code).toBe('NOT_FOUND');
    expect(readdirSync(tmp)).not.toContain('none');

    const e3 = await failure(dc.execute('verify_evidence', { path: full }));
    expect(e3.code).toBe('INVALID_PARAMS');
    expect(e3.message).toMatch(/parameter path: .*no manifest\.json/);

    // verify_evidence reads local files only: it works with the Engine unreachable.
    const offline = new DockerConnector({ host: 'unix:///nonexistent/docker.sock', env: {}, retry_attempts: 0 });
    try {
      expect((await offline.execute('verify_evidence', { path: join(tmp, 'b1') })).ok).toBe(true);
    } finally {
      offline.close();
    }
  });

  describe('evidence_before_destroy', () => {
    const makeStopped = (group: string, n: number) =>
      Array.from({ length: n }, () => {
        const name = uniqueName('dcevd');
        docker('run', '--name', name, ...tag, '--label', `group=${group}`, IMAGE, 'sh', '-c', `echo last-words-${name}; mkdir -p /loot; echo x > /loot/${name}`);
        return docker('inspect', '-f', '{{.Id}}', name);
      });
    const expectVerifiedBundles = async (evidence: { container: string; path: string; manifest_sha256: string }[], ids: string[], dir: string, ours = true) => {
      expect(evidence.map((e) => e.container).sort()).toEqual([...ids].sort());
      for (const e of evidence) {
        expect(e.path.startsWith(join(dir, `${e.container}-`))).toBe(true);
        expect(await dc.execute('verify_evidence', { path: e.path, manifest_sha256: e.manifest_sha256 })).toMatchObject({ ok: true, missing: [], mismatches: [] });
        if (!ours) continue;
        expect(readFileSync(join(e.path, 'logs.txt'), 'utf8')).toMatch(/last-words-/);
        expect(execFileSync('tar', ['-tf', join(e.path, 'export.tar')], { encoding: 'utf8' })).toMatch(/^loot\/dcevd-/m);
      }
    };

    it('prune_containers through the CLI with a config file: a verifiable bundle for every container it removed', async () => {
      const group = uniqueName('g');
      const ids = makeStopped(group, 2);
      const dir = join(tmp, 'cli-evidence');
      const config = join(tmp, 'cli-config.json');
      writeFileSync(config, JSON.stringify({ evidence_before_destroy: { dir } }));
      const cli = await runCli(['run', 'prune_containers', '--config', config, '--host', engine.host, '--params', JSON.stringify({ filters: { label: [`group=${group}`] } })], { DOCKER_CONNECTOR_RATE_LIMIT: '0' }, 120_000);
      expect(cli.stderr).toBe('');
      expect(cli.code).toBe(0);
      const r = JSON.parse(cli.stdout) as Json;
      expect(r.deleted.map((d: Json) => d.id).sort()).toEqual([...ids].sort());
      await expectVerifiedBundles(r.evidence, ids, dir);
      for (const id of ids) expect(exists(id)).toBe(false);

      // A dry run collects nothing.
      const dry = await runCli(['run', 'prune_containers', '--config', config, '--host', engine.host, '--params', JSON.stringify({ filters: { label: [`group=${group}`] }, dry_run: true })], { DOCKER_CONNECTOR_RATE_LIMIT: '0' });
      expect(JSON.parse(dry.stdout).evidence).toBeUndefined();
      expect(readdirSync(dir)).toHaveLength(2);
    });

    it('prune_containers and remove_container through the HTTP service: bundles, and the audit line carries them', async () => {
      const group = uniqueName('g');
      const ids = makeStopped(group, 2);
      const dir = join(tmp, 'svc-evidence');
      const audit = join(tmp, 'svc-audit.log');
      const config = join(tmp, 'svc-config.json');
      writeFileSync(config, JSON.stringify({ evidence_before_destroy: { dir }, service: { local_files: true } }));
      const served = await startServed(['serve', '--config', config, '--host', engine.host, '--listen', '127.0.0.1:0', '--no-auth', '--audit-log', audit]);
      try {
        const post = (op: string, body: unknown) => rawRequest(served.port, { method: 'POST', path: `/v1/operations/${op}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const res = await post('prune_containers', { filters: { label: [`group=${group}`] } });
        expect(res.status).toBe(200);
        const r = res.json() as Json;
        expect(r.deleted.map((d: Json) => d.id).sort()).toEqual([...ids].sort());
        await expectVerifiedBundles(r.evidence, ids, dir);
        for (const id of ids) expect(exists(id)).toBe(false);

        const [one] = makeStopped(group, 1);
        const rm = await post('remove_container', { container: one });
        expect(rm.status).toBe(200);
        await expectVerifiedBundles(rm.json().evidence, [one!], dir);
        expect(exists(one!)).toBe(false);

        const col = await post('collect_evidence', { container: live, path: join(tmp, 'via-http'), include: ['inspect', 'logs'] });
        expect(col.status).toBe(200);

        const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Json);
        const pruneLine = lines.find((l) => l.operation === 'prune_containers');
        expect(pruneLine.result.evidence).toEqual(r.evidence);
        expect(lines.find((l) => l.operation === 'collect_evidence').result).toEqual({ manifest_sha256: col.json().manifest_sha256, path: join(tmp, 'via-http') });
      } finally {
        await served.stop();
      }
    });

    it('applies to every named endpoint of the service unless it sets its own', async () => {
      const group = uniqueName('g');
      const [one] = makeStopped(group, 1);
      const dir = join(tmp, 'endpoints-evidence');
      const config = join(tmp, 'endpoints-config.json');
      writeFileSync(config, JSON.stringify({ evidence_before_destroy: { dir }, endpoints: { lab: { host: engine.host, rate_limit: 0 } }, audit_log: 'off' }));
      const served = await startServed(['serve', '--config', config, '--listen', '127.0.0.1:0', '--no-auth']);
      try {
        const rm = await rawRequest(served.port, { method: 'POST', path: '/v1/operations/remove_container?endpoint=lab', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ container: one }) });
        expect(rm.status).toBe(200);
        await expectVerifiedBundles(rm.json().evidence, [one!], dir);
        expect(exists(one!)).toBe(false);
      } finally {
        await served.stop();
      }
    });

    it('a collection that fails destroys nothing: FORBIDDEN naming the rule (prune, remove, kill)', async () => {
      const group = uniqueName('g');
      const ids = makeStopped(group, 2);
      const blocker = join(tmp, 'a-file');
      writeFileSync(blocker, 'not a folder');
      // Its parent is a file: no folder can be made there, whoever runs the test.
      const guarded = connectorFor(engine, { evidence_before_destroy: { dir: join(blocker, 'evidence') } });
      try {
        const e = await failure(guarded.execute('prune_containers', { filters: { label: [`group=${group}`] } }));
        expect(e.code).toBe('FORBIDDEN');
        expect(e.message).toMatch(/refused by evidence_before_destroy: the evidence of container [0-9a-f]{64} could not be collected.*nothing was destroyed/);
        expect(e.details).toMatchObject({ rule: 'evidence_before_destroy' });
        for (const id of ids) expect(exists(id)).toBe(true);

        const r = await failure(guarded.execute('remove_container', { container: ids[0]! }));
        expect(r.code).toBe('FORBIDDEN');
        expect(exists(ids[0]!)).toBe(true);

        const k = await failure(guarded.execute('kill_container', { container: live }));
        expect(k.code).toBe('FORBIDDEN');
        expect(state(live).Running).toBe(true);

        // A dry run is not guarded: it destroys nothing.
        expect((await guarded.execute('prune_containers', { filters: { label: [`group=${group}`] }, dry_run: true })).deleted).toHaveLength(2);
      } finally {
        guarded.close();
      }
    });

    it('kill_container and collect_evidence through the MCP server: bundles, and audit lines that carry their hashes', async () => {
      const victim = uniqueName('dcevm');
      docker('run', '-d', '--name', victim, ...tag, IMAGE, 'sh', '-c', 'exec sleep 300');
      const id = docker('inspect', '-f', '{{.Id}}', victim);
      const dir = join(tmp, 'mcp-evidence');
      const config = join(tmp, 'mcp-config.json');
      writeFileSync(config, JSON.stringify({ evidence_before_destroy: { dir } }));
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [CLI_BIN, 'mcp', '--config', config, '--host', engine.host, '--allow-destructive', '--audit-log', 'stderr'],
        env: { PATH: process.env.PATH ?? '', DOCKER_CONNECTOR_RATE_LIMIT: '0' },
        stderr: 'pipe',
      });
      let stderr = '';
      (transport.stderr as import('node:stream').Readable).on('data', (d: Buffer) => (stderr += d.toString()));
      const client = new Client({ name: 'evidence-test', version: '1.0.0' });
      await client.connect(transport);
      try {
        const killed = await client.callTool({ name: 'kill_container', arguments: { container: victim } });
        expect(killed.isError).toBeFalsy();
        const evidence = (killed.structuredContent as Json).evidence;
        await expectVerifiedBundles(evidence, [id], dir, false);
        expect(state(victim).Running).toBe(false);

        const path = join(tmp, 'via-mcp');
        const col = await client.callTool({ name: 'collect_evidence', arguments: { container: live, path, include: ['inspect', 'networks'] } });
        expect(col.isError).toBeFalsy();
        const sha = (col.structuredContent as Json).manifest_sha256;
        expect(sha).toBe(sha256(join(path, 'manifest.json')));

        const audit = stderr.split('\n').filter((l) => l.includes('"log":"audit"')).map((l) => JSON.parse(l) as Json);
        expect(audit.find((l) => l.operation === 'kill_container').result).toEqual({ evidence });
        expect(audit.find((l) => l.operation === 'collect_evidence').result).toEqual({ manifest_sha256: sha, path });
      } finally {
        await client.close();
      }
    });

    it('kill_container through the library collects the running container first', async () => {
      const victim = uniqueName('dcevk');
      docker('run', '-d', '--name', victim, ...tag, IMAGE, 'sh', '-c', 'echo about-to-die; exec sleep 300');
      const id = docker('inspect', '-f', '{{.Id}}', victim);
      const dir = join(tmp, 'kill-evidence');
      const guarded = connectorFor(engine, { evidence_before_destroy: { dir } });
      try {
        const r = await guarded.execute('kill_container', { container: victim });
        expect(r.evidence).toHaveLength(1);
        expect(r.evidence![0]!.container).toBe(id);
        expect(await guarded.execute('verify_evidence', { path: r.evidence![0]!.path })).toMatchObject({ ok: true });
        // Collected while it was running: the process list is in the bundle.
        expect(readFileSync(join(r.evidence![0]!.path, 'top.json'), 'utf8')).toContain('sleep 300');
        expect(state(victim).Running).toBe(false);
      } finally {
        guarded.close();
      }
    });
  });
});
