import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { runCli } from '../support/cli.js';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { failure } from '../support/expect-error.js';
import { engines, harness } from '../support/harness.js';
import { startServed } from '../support/served.js';

/*
 * Swarm secrets and configs, tasks and service logs, on both private Engines
 * (each a single-node swarm manager, test/harness/up.sh). Objects are made
 * through the connector where it has the operation and with the docker CLI
 * otherwise (the service that mounts them); every effect is checked through
 * the docker CLI or inside the task. A secret's content must never come back:
 * not in a result, a log line (trace level), an audit line or CLI output.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

describe.each(engines())('Swarm secrets, configs, tasks and service logs on Engine $name (API $apiVersion)', (engine) => {
  const run = uniqueName('sws');
  const labels = { [TEST_LABEL]: run };
  // Random per run: a match anywhere below can only be this secret.
  const SECRET_VALUE = `s3cret-${randomBytes(12).toString('hex')}`;
  const CONFIG_TEXT = `listen ${randomBytes(4).toString('hex')}\n`;
  const sec = uniqueName('sws-sec');
  const cfg = uniqueName('sws-cfg');
  const svc = uniqueName('sws-svc');
  let dc: DockerConnector;
  let secretId = '';
  let configId = '';
  let serviceId = '';
  let task: any;
  let tmp = '';

  beforeAll(async () => {
    dc = connectorFor(engine);
    tmp = mkdtempSync(join(tmpdir(), 'dc-sws-'));
    const s = await dc.execute('create_secret', { name: sec, data: SECRET_VALUE, labels });
    expect(s).toEqual({ id: expect.stringMatching(/^[a-z0-9]{25}$/), name: sec });
    secretId = s.id;
    const c = await dc.execute('create_config', { name: cfg, data_base64: Buffer.from(CONFIG_TEXT).toString('base64'), labels });
    expect(c).toEqual({ id: expect.stringMatching(/^[a-z0-9]{25}$/), name: cfg });
    configId = c.id;
    // The service that mounts both (services are SW1's family; the docker CLI makes this one).
    serviceId = docker(engine, [
      'service', 'create', '-d', '--name', svc, '--no-resolve-image', '--endpoint-mode', 'dnsrr', '--replicas', '1',
      '--label', `${TEST_LABEL}=${run}`, '--container-label', `${TEST_LABEL}=${run}`,
      '--secret', sec, '--config', `source=${cfg},target=/etc/app.conf`,
      harness().image, 'sh', '-c', 'echo svc-out-line; echo svc-err-line >&2; exec sleep 600',
    ]).trim();
    task = await until('the task to run', async () => {
      const tasks = await dc.execute('list_tasks', { filters: { service: [svc], 'desired-state': ['running'] } });
      return tasks.find((t: any) => t.Status?.State === 'running' && t.Status?.ContainerStatus?.ContainerID);
    });
  });

  afterAll(() => {
    const list = (args: string[]) => docker(engine, args).split('\n').filter(Boolean);
    for (const s of list(['service', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${run}`])) docker(engine, ['service', 'rm', s]);
    for (const s of list(['secret', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${run}`])) docker(engine, ['secret', 'rm', s]);
    for (const c of list(['config', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${run}`])) docker(engine, ['config', 'rm', c]);
    dc.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the secret and the config are mounted into the task with the content given', () => {
    const container = task.Status.ContainerStatus.ContainerID as string;
    expect(docker(engine, ['exec', container, 'cat', `/run/secrets/${sec}`])).toBe(SECRET_VALUE);
    expect(docker(engine, ['exec', container, 'cat', '/etc/app.conf'])).toBe(CONFIG_TEXT);
    expect(docker(engine, ['secret', 'ls', '--format', '{{.ID}} {{.Name}}'])).toContain(`${secretId} ${sec}`);
    expect(docker(engine, ['config', 'ls', '--format', '{{.ID}} {{.Name}}'])).toContain(`${configId} ${cfg}`);
  });

  it('lists and inspects secrets and configs; a secret never carries its data', async () => {
    const listed = await dc.execute('list_secrets', { filters: { names: [sec] } });
    expect(listed).toEqual([expect.objectContaining({ ID: secretId, Spec: expect.objectContaining({ Name: sec, Labels: labels }) })]);
    const byLabel = await dc.execute('list_secrets', { filters: { label: [`${TEST_LABEL}=${run}`] } });
    expect(byLabel.map((s) => s.ID)).toEqual([secretId]);
    for (const ref of [sec, secretId]) {
      const s = await dc.execute('inspect_secret', { secret: ref });
      expect(s).toMatchObject({ ID: secretId, Version: { Index: expect.any(Number) }, CreatedAt: expect.any(String), Spec: { Name: sec, Labels: labels } });
      expect(s.Spec).not.toHaveProperty('Data');
    }
    expect(JSON.stringify([listed, byLabel])).not.toContain(SECRET_VALUE);
    expect(JSON.stringify([listed, byLabel])).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'));

    const configs = await dc.execute('list_configs', { filters: { name: [cfg] } });
    expect(configs).toEqual([expect.objectContaining({ ID: configId, Spec: expect.objectContaining({ Name: cfg, Labels: labels }) })]);
    const c = await dc.execute('inspect_config', { config: cfg });
    // A config is not secret: its data comes back, base64.
    expect(Buffer.from(c.Spec.Data!, 'base64').toString()).toBe(CONFIG_TEXT);
    expect((await failure(dc.execute('inspect_secret', { secret: uniqueName('sws-none') }))).code).toBe('NOT_FOUND');
  });

  it('lists tasks with the Engine filters and inspects one by id, short id and name', async () => {
    const serviceIdCli = docker(engine, ['service', 'inspect', '-f', '{{.ID}}', svc]).trim();
    expect(serviceIdCli).toBe(serviceId);
    const byService = await dc.execute('list_tasks', { filters: { service: [svc] } });
    expect(byService.map((t) => t.ID)).toEqual([task.ID]);
    expect(byService[0]).toMatchObject({ ServiceID: serviceId, Slot: 1, NodeID: expect.any(String), DesiredState: 'running', Status: { State: 'running' } });
    const nodeId = docker(engine, ['info', '-f', '{{.Swarm.NodeID}}']).trim();
    const combined = await dc.execute('list_tasks', { filters: { service: svc, node: [nodeId], 'desired-state': 'running' } });
    expect(combined.map((t) => t.ID)).toEqual([task.ID]);
    expect(await dc.execute('list_tasks', { filters: { service: [svc], 'desired-state': ['shutdown'] } })).toEqual([]);

    for (const ref of [task.ID, task.ID.slice(0, 12), `${svc}.1.${task.ID}`]) {
      const t = await dc.execute('inspect_task', { task: ref });
      expect(t).toMatchObject({ ID: task.ID, ServiceID: serviceId, Status: { ContainerStatus: { ContainerID: task.Status.ContainerStatus.ContainerID } } });
    }
    // The docker CLI sees the same task.
    expect(docker(engine, ['service', 'ps', '-q', '--no-trunc', svc]).trim()).toBe(task.ID);
    expect((await failure(dc.execute('inspect_task', { task: 'nosuchtask000000' }))).code).toBe('NOT_FOUND');
  });

  it("service_logs returns the task's output: both streams, timestamps, tail, until, a file", async () => {
    const logs = await until('the service log', async () => {
      const r = await dc.execute('service_logs', { service: svc });
      return 'stdout' in r && r.stdout.includes('svc-out-line') && r.stderr.includes('svc-err-line') ? r : undefined;
    });
    expect(logs).toEqual({ stdout: 'svc-out-line\n', stderr: 'svc-err-line\n', truncated: false });

    const stamped = await dc.execute('service_logs', { service: serviceId, timestamps: true, stderr: false });
    expect(stamped).toMatchObject({ stderr: '', lines: [{ stream: 'stdout', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), text: 'svc-out-line' }] });

    // `until` is the connector's: before the task started nothing, now everything (and no timestamps unless asked).
    expect(await dc.execute('service_logs', { service: svc, until: '2000-01-01T00:00:00Z' })).toEqual({ stdout: '', stderr: '', truncated: false });
    expect(await dc.execute('service_logs', { service: svc, until: '0s' })).toEqual({ stdout: 'svc-out-line\n', stderr: 'svc-err-line\n', truncated: false });
    const t = 'lines' in stamped ? stamped.lines![0]!.timestamp : '';
    expect(await dc.execute('service_logs', { service: svc, until: t, stderr: false, timestamps: true })).toMatchObject({ lines: [{ timestamp: t, text: 'svc-out-line' }] });
    // `since` after the lines were written: nothing.
    expect(await dc.execute('service_logs', { service: svc, since: Math.floor(Date.now() / 1000) + 1 })).toMatchObject({ stdout: '', stderr: '' });

    const last = await dc.execute('service_logs', { service: svc, tail: 1 });
    expect('stdout' in last && last.stdout + last.stderr).toMatch(/^svc-(out|err)-line\n$/);
    expect(await dc.execute('service_logs', { service: svc, max_bytes: 4 })).toMatchObject({ truncated: true });
    const path = join(tmp, 'svc.log');
    const file = await dc.execute('service_logs', { service: svc, path });
    expect(file).toMatchObject({ path, bytes: 26, truncated: false });
    expect(readFileSync(path, 'utf8').split('\n').sort()).toEqual(['', 'svc-err-line', 'svc-out-line']);
    // The stream form (the service's text/plain answer): both streams, interleaved, `until` applied.
    const { stream, contentType } = await dc.executeStream('service_logs', { service: svc, until: '0s' });
    expect(contentType).toMatch(/^text\/plain/);
    let streamed = '';
    for await (const chunk of stream) streamed += String(chunk);
    expect(streamed.split('\n').sort()).toEqual(['', 'svc-err-line', 'svc-out-line']);
    expect((await failure(dc.execute('service_logs', { service: uniqueName('sws-none') }))).code).toBe('NOT_FOUND');
  });

  it('isolate_container on the task container warns that Swarm will replace the task and names the service-level measures', async () => {
    const container = task.Status.ContainerStatus.ContainerID as string;
    const iso = await dc.execute('isolate_container', { container });
    try {
      const warning = iso.warnings.find((w) => w.includes('Swarm'));
      expect(warning).toBeDefined();
      expect(warning).toContain(task.ID);
      expect(warning).toContain(svc);
      expect(warning).toMatch(/will replace/);
      expect(warning).toMatch(/scale_service/);
      expect(warning).toMatch(/update_node.*drain/);
    } finally {
      if (iso.restore.networks.length) await dc.execute('restore_container', { container, restore: iso.restore });
    }
    // A plain container gets no such warning.
    const plain = docker(engine, ['run', '-d', '--label', `${TEST_LABEL}=${run}`, harness().image, 'sleep', '60']).trim();
    try {
      expect((await dc.execute('isolate_container', { container: plain })).warnings.join(' ')).not.toMatch(/Swarm/);
    } finally {
      docker(engine, ['rm', '-f', plain]);
    }
  });

  it('removing a secret or config in use is a CONFLICT, dry run or not; then a dry run, then the removal', async () => {
    for (const [op, ref] of [['remove_secret', { secret: sec }], ['remove_config', { config: cfg }]] as const) {
      for (const dry_run of [true, false]) {
        const err = await failure(dc.executeDynamic(op, { ...ref, dry_run }));
        expect(err.code, `${op} dry_run=${dry_run}: ${err.message}`).toBe('CONFLICT');
        expect(err.message).toMatch(/in use/);
      }
    }
    expect(docker(engine, ['secret', 'ls', '-q', '--filter', `name=${sec}`]).trim()).toBe(secretId);

    docker(engine, ['service', 'rm', svc]);
    expect(await dc.execute('remove_secret', { secret: sec, dry_run: true })).toEqual({ deleted: [{ id: secretId, name: sec }], dry_run: true, plan_id: expect.any(String) });
    expect(docker(engine, ['secret', 'ls', '-q', '--filter', `name=${sec}`]).trim()).toBe(secretId);
    expect(await dc.execute('remove_secret', { secret: sec })).toEqual({ deleted: [{ id: secretId, name: sec }], dry_run: false });
    expect(docker(engine, ['secret', 'ls', '-q', '--filter', `name=${sec}`]).trim()).toBe('');
    expect((await failure(dc.execute('inspect_secret', { secret: secretId }))).code).toBe('NOT_FOUND');

    expect(await dc.execute('remove_config', { config: configId, dry_run: true })).toEqual({ deleted: [{ id: configId, name: cfg }], dry_run: true, plan_id: expect.any(String) });
    expect(await dc.execute('remove_config', { config: configId })).toEqual({ deleted: [{ id: configId, name: cfg }], dry_run: false });
    expect(docker(engine, ['config', 'ls', '-q', '--filter', `name=${cfg}`]).trim()).toBe('');
    expect((await failure(dc.execute('remove_config', { config: cfg }))).code).toBe('NOT_FOUND');
  });

  it('remove_secret with the plan_id of its dry run removes the planned secret only', async () => {
    const name = uniqueName('sws-plan');
    const first = await dc.execute('create_secret', { name, data: 'one', labels });
    const plan = await dc.execute('remove_secret', { secret: name, dry_run: true });
    expect(plan).toEqual({ deleted: [{ id: first.id, name }], dry_run: true, plan_id: expect.any(String) });
    // Re-created under the same name since the dry run: another secret, which the plan does not cover.
    docker(engine, ['secret', 'rm', name]);
    const second = docker(engine, ['secret', 'create', '--label', `${TEST_LABEL}=${run}`, name, '-'], Buffer.from('two')).trim();
    const skipped = await dc.execute('remove_secret', { secret: name, plan_id: plan.plan_id });
    expect(skipped).toEqual({ deleted: [], dry_run: false, skipped: [{ what: 'secret', id: first.id, name, reason: expect.stringMatching(/another/) }] });
    expect(docker(engine, ['secret', 'ls', '-q', '--filter', `name=${name}`]).trim()).toBe(second);
    const again = await dc.execute('remove_secret', { secret: name, dry_run: true });
    expect(await dc.execute('remove_secret', { secret: name, plan_id: again.plan_id })).toEqual({ deleted: [{ id: second, name }], dry_run: false, skipped: [] });
    expect(docker(engine, ['secret', 'ls', '-q', '--filter', `name=${name}`]).trim()).toBe('');
  });

  it("a secret's content never reaches a log line (trace), an audit line or CLI output", async () => {
    const value = `leak-probe-${randomBytes(12).toString('hex')}`;
    const b64 = Buffer.from(value).toString('base64');
    const name = uniqueName('sws-leak');
    const audit = join(tmp, 'audit.log');
    const served = await startServed(['serve', '--host', engine.host, '--listen', '127.0.0.1:0', '--no-auth', '--audit-log', audit], { DOCKER_CONNECTOR_LOG_LEVEL: 'trace' });
    try {
      const call = (op: string, params: unknown) =>
        fetch(`${served.url}/v1/operations/${op}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
      const first = await call('create_secret', { name, data: value, labels });
      expect(first.status).toBe(200);
      const firstText = await first.text();
      // Again: a CONFLICT, whose failure is logged with its parameters.
      const again = await call('create_secret', { name, data_base64: b64, labels });
      expect(again.status).toBe(409);
      const againText = await again.text();
      for (const text of [firstText, againText, readFileSync(audit, 'utf8'), served.stderr()]) {
        expect(text).not.toContain(value);
        expect(text).not.toContain(b64);
      }
      // The audit lines are there, with the other parameters and the content redacted.
      const lines = readFileSync(audit, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(lines.filter((l) => l.operation === 'create_secret').map((l) => [l.outcome, l.params])).toEqual([
        ['ok', { name, data: '[REDACTED]', labels }],
        ['CONFLICT', { name, data_base64: '[REDACTED]', labels }],
      ]);
      // The trace log has the failure with its parameters, redacted.
      expect(served.stderr()).toMatch(/"operation":"create_secret".*"params":\{"name":"[^"]+","data_base64":"\[REDACTED\]"/);
    } finally {
      await served.stop();
    }
    // The CLI: output, error and trace log of a create that fails and of the removal.
    const cli = await runCli(['run', 'create_secret', '--host', engine.host, '--params', JSON.stringify({ name, data: value, labels })], { DOCKER_CONNECTOR_LOG_LEVEL: 'trace' });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/"params":\{"name":"[^"]+","data":"\[REDACTED\]"/);
    for (const text of [cli.stdout, cli.stderr]) expect(text).not.toContain(value);
    const rm = await runCli(['run', 'remove_secret', '--host', engine.host, '--params', JSON.stringify({ secret: name })], { DOCKER_CONNECTOR_LOG_LEVEL: 'trace' });
    expect(rm.code, rm.stderr).toBe(0);
    expect(`${rm.stdout}${rm.stderr}`).not.toContain(value);
    expect(existsSync(audit)).toBe(true);
  });
});
