import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorOptions, DockerConnector } from 'docker-connector';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';

/*
 * Swarm services and nodes on both harness Engines, each a single-node swarm
 * manager (test/harness/up.sh). The kernel here has no IPVS, so services use
 * endpoint_mode "dnsrr" and host-mode publishing (no virtual IP, no routing
 * mesh): a fact of this machine, not of the connector. Every effect is
 * checked with the docker CLI. Draining the node stops every service's
 * tasks, so that case lives in swarm-drain.test.ts, run after the others.
 */

type Logger = NonNullable<ConnectorOptions['logger']>;
const silent = () => undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true (tasks converge in a few seconds); fails naming what it waited for. */
async function until(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (probe()) return;
    } catch (err) {
      last = err;
    }
    await sleep(300);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

describe.each(engines())('Swarm services and nodes on Engine $name (API $apiVersion)', (engine: HarnessEngine) => {
  const value = uniqueName('swarm-svc');
  const labels = { [TEST_LABEL]: value };
  const image = harness().image;
  const created: string[] = [];
  let dc: DockerConnector;

  const inspect = (svc: string, format: string) => docker(engine, ['service', 'inspect', svc, '--format', format]).trim();
  const running = (svc: string) => docker(engine, ['service', 'ps', svc, '--filter', 'desired-state=running', '--format', '{{.CurrentState}}']).split('\n').filter((l) => l.startsWith('Running')).length;
  const replicasShown = (svc: string) => docker(engine, ['service', 'ls', '--filter', `name=${svc}`, '--format', '{{.Name}} {{.Replicas}}']).split('\n').find((l) => l.startsWith(`${svc} `))?.split(' ')[1];

  async function newService(extra: Record<string, unknown> = {}): Promise<string> {
    const name = uniqueName('dcsw');
    created.push(name);
    const r = await dc.execute('create_service', {
      name,
      image,
      command: ['sleep', '600'],
      replicas: 2,
      endpoint_mode: 'dnsrr',
      // Host-mode publishing without a fixed node port: several tasks on one node each get a port.
      publish: [{ target: 8080, mode: 'host' }],
      labels,
      env: { A: '1', B: '2' },
      // Raw spec underneath the named parameters: \`sleep\` ignores SIGTERM, so tasks are killed after 1 s, not the default 10 s.
      spec: { TaskTemplate: { ContainerSpec: { StopGracePeriod: 1_000_000_000 } } },
      ...extra,
    } as never);
    expect(r).toEqual({ id: expect.stringMatching(/^[a-z0-9]{25}$/), name, warnings: expect.any(Array) });
    return name;
  }

  beforeAll(() => {
    dc = connectorFor(engine);
  });

  afterAll(() => {
    dc.close();
    // The docker CLI cleans up, so a broken connector cannot leave services (and their tasks) behind.
    const left = docker(engine, ['service', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${value}`]).split('\n').filter(Boolean);
    if (left.length) docker(engine, ['service', 'rm', ...left]);
  });

  it('creates a replicated service that converges, and lists it with its task counts', async () => {
    const svc = await newService();
    await until(`${svc} at 2/2`, () => replicasShown(svc) === '2/2');
    expect(inspect(svc, '{{.Spec.EndpointSpec.Mode}} {{json .Spec.EndpointSpec.Ports}}')).toBe('dnsrr [{"Protocol":"tcp","TargetPort":8080,"PublishMode":"host"}]');
    expect(inspect(svc, '{{json .Spec.TaskTemplate.ContainerSpec.Command}} {{json .Spec.TaskTemplate.ContainerSpec.Env}} {{.Spec.TaskTemplate.ContainerSpec.Image}} {{.Spec.TaskTemplate.ContainerSpec.StopGracePeriod}}')).toBe(`["sleep","600"] ["A=1","B=2"] ${image} 1s`);

    const listed = await dc.execute('list_services', { filters: { label: [`${TEST_LABEL}=${value}`], name: [svc] }, status: true });
    const mine = listed.services.find((s) => s.Spec.Name === svc);
    expect(mine?.ServiceStatus).toMatchObject({ RunningTasks: 2, DesiredTasks: 2 });
    // Without status the Engine leaves the counts out.
    const plain = await dc.execute('list_services', { filters: { name: [svc] } });
    expect(plain.services.find((s) => s.Spec.Name === svc)?.ServiceStatus).toBeUndefined();

    const one = await dc.execute('inspect_service', { service: svc });
    expect(one).toMatchObject({ ID: mine?.ID, Spec: { Name: svc, Labels: labels, Mode: { Replicated: { Replicas: 2 } } } });
    expect(one.PreviousSpec).toBeUndefined();
  });

  it('update_service changes only what it names: env adds, replaces and removes by name; labels likewise', async () => {
    const svc = await newService({ replicas: 1, container_labels: { keep: 'k', drop: 'd' } });
    const before = await dc.execute('inspect_service', { service: svc });
    const r = await dc.execute('update_service', { service: svc, env: { C: '3', A: '9' }, env_remove: ['B'], labels: { extra: 'x' }, container_labels_remove: ['drop'] });
    expect(r.service.Version.Index).toBeGreaterThan(before.Version.Index);
    expect(inspect(svc, '{{json .Spec.TaskTemplate.ContainerSpec.Env}}')).toBe('["A=9","C=3"]');
    expect(JSON.parse(inspect(svc, '{{json .Spec.Labels}}'))).toEqual({ ...labels, extra: 'x' });
    expect(JSON.parse(inspect(svc, '{{json .Spec.TaskTemplate.ContainerSpec.Labels}}'))).toEqual({ keep: 'k' });
    // What was not named is as it was.
    expect(inspect(svc, '{{.Spec.Mode.Replicated.Replicas}} {{json .Spec.TaskTemplate.ContainerSpec.Command}} {{.Spec.EndpointSpec.Mode}} {{.Spec.TaskTemplate.ContainerSpec.Image}}')).toBe(`1 ["sleep","600"] dnsrr ${image}`);

    await dc.execute('update_service', { service: svc, labels_remove: ['extra'], command: ['sleep', '700'] });
    expect(JSON.parse(inspect(svc, '{{json .Spec.Labels}}'))).toEqual(labels);
    expect(inspect(svc, '{{json .Spec.TaskTemplate.ContainerSpec.Command}} {{json .Spec.TaskTemplate.ContainerSpec.Env}}')).toBe('["sleep","700"] ["A=9","C=3"]');
    // The new spec reaches the tasks.
    await until(`${svc}'s task running sleep 700`, () => {
      const ids = docker(engine, ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${svc}`]).split('\n').filter(Boolean);
      // A service's command is its containers' entrypoint.
      return ids.length === 1 && docker(engine, ['inspect', '-f', '{{json .Config.Entrypoint}}', ids[0]!]).trim() === '["sleep","700"]';
    });
  });

  it('scale_service sets the replicas and rollback_service restores the previous spec', async () => {
    const svc = await newService({ replicas: 1 });
    await until(`${svc} at 1/1`, () => replicasShown(svc) === '1/1');
    const scaled = await dc.execute('scale_service', { service: svc, replicas: 3 });
    expect(scaled.service.Spec.Mode?.Replicated?.Replicas).toBe(3);
    await until(`${svc} at 3/3`, () => replicasShown(svc) === '3/3');
    expect(running(svc)).toBe(3);

    const back = await dc.execute('rollback_service', { service: svc });
    expect(back.service.Spec.Mode?.Replicated?.Replicas).toBe(1);
    expect(inspect(svc, '{{.Spec.Mode.Replicated.Replicas}} {{.PreviousSpec.Mode.Replicated.Replicas}}')).toBe('1 3');
    await until(`${svc} back at 1/1`, () => replicasShown(svc) === '1/1' && running(svc) === 1);

    // scale to 0 keeps the service
    await dc.execute('scale_service', { service: svc, replicas: 0 });
    await until(`${svc} at 0/0`, () => replicasShown(svc) === '0/0');
  });

  it('update_service retries when another writer got in first: concurrent updates all land', async () => {
    const svc = await newService({ replicas: 1 });
    const retries: unknown[] = [];
    const logger: Logger = {
      trace: silent,
      info: silent,
      warn: silent,
      error: silent,
      debug: (obj: object, msg?: string) => {
        if (msg?.includes('changed under us')) retries.push(obj);
      },
    };
    // Separate connectors (own connection pools): the writes really run side by side.
    const writers = ['W1', 'W2', 'W3', 'W4'].map((name) => ({ name, dc: connectorFor(engine, { logger }) }));
    try {
      const results = await Promise.all(writers.map((w) => w.dc.execute('update_service', { service: svc, env: { [w.name]: 'x' } })));
      expect(results).toHaveLength(4);
    } finally {
      for (const w of writers) w.dc.close();
    }
    const env = JSON.parse(inspect(svc, '{{json .Spec.TaskTemplate.ContainerSpec.Env}}')) as string[];
    expect(env.sort()).toEqual(['A=1', 'B=2', 'W1=x', 'W2=x', 'W3=x', 'W4=x']);
    // The race happened (writers read the same version) and was won by reading again.
    expect(retries.length).toBeGreaterThan(0);
  });

  it('remove_service: a dry run removes nothing, the real call removes the service and its tasks', async () => {
    const svc = await newService({ replicas: 1 });
    const id = inspect(svc, '{{.ID}}');
    const dry = await dc.execute('remove_service', { service: svc, dry_run: true });
    expect(dry).toEqual({ deleted: [{ id, name: svc, tasks: 1 }], dry_run: true, plan_id: expect.any(String) });
    expect(inspect(svc, '{{.ID}}')).toBe(id);
    const real = await dc.execute('remove_service', { service: svc, plan_id: dry.plan_id });
    expect(real).toEqual({ deleted: [{ id, name: svc, tasks: 1 }], dry_run: false, skipped: [] });
    expect(docker(engine, ['service', 'ls', '-q', '--filter', `id=${id}`]).trim()).toBe('');
    await expect(dc.execute('inspect_service', { service: svc })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('global services: replicas is refused before any request, scaling one is a CONFLICT; rollback without a previous spec is a CONFLICT', async () => {
    await expect(dc.execute('create_service', { image, mode: 'global', replicas: 2 })).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('replicas') });
    const svc = await newService({ mode: 'global', replicas: undefined });
    expect(inspect(svc, '{{json .Spec.Mode}}')).toBe('{"Global":{}}');
    await expect(dc.execute('scale_service', { service: svc, replicas: 3 })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('not replicated') });
    await expect(dc.execute('rollback_service', { service: svc })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('no previous spec') });
    expect(inspect(svc, '{{json .Spec.Mode}} {{.Version.Index}}')).toMatch(/^\{"Global":\{\}\} \d+$/);
  });

  it('bad references and secrets that do not exist are clear errors', async () => {
    await expect(dc.execute('inspect_service', { service: '../x' })).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('service') });
    await expect(dc.execute('update_node', { node: 'self' })).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('availability') });
    const name = uniqueName('dcsw');
    await expect(dc.execute('create_service', { name, image, labels, secrets: ['dc-no-such-secret'] })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('dc-no-such-secret') });
    expect(docker(engine, ['service', 'ls', '-q', '--filter', `name=${name}`]).trim()).toBe('');
  });
});
