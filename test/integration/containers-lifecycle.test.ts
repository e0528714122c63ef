import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, type DockerConnector } from 'docker-connector';
import { enginePath } from 'docker-connector';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { engines } from '../support/harness.js';
import { failure } from '../support/expect-error.js';

const IMAGE = 'dc-busybox:latest';
const LABEL_VALUE = 'containers-lifecycle';
const LABELS = { [TEST_LABEL]: LABEL_VALUE };

/** Runs `fn` and returns the ConnectorError it throws (fails the test if it does not throw). */

describe.each(engines())('container lifecycle on Engine $version (API $apiVersion)', (engine) => {
  let dc: DockerConnector;
  const containers: string[] = [];
  const images: string[] = [];

  /** Creates a labelled busybox container (sleep 300 unless told otherwise) and remembers it for cleanup. */
  async function create(params: Record<string, unknown> = {}): Promise<{ id: string; name: string }> {
    const name = (params.name as string | undefined) ?? uniqueName('dclc');
    const labels = Array.isArray(params.labels) ? [...(params.labels as string[]), `${TEST_LABEL}=${LABEL_VALUE}`] : { ...LABELS, ...(params.labels as object) };
    const res = await dc.execute('create_container', { image: IMAGE, name, command: ['sleep', '300'], ...params, labels });
    containers.push(res.id);
    return { id: res.id, name };
  }

  async function inspect(container: string) {
    return (await dc.execute('inspect_container', { container })) as {
      Id: string;
      Name: string;
      State: { Status: string; Running: boolean; Paused: boolean; ExitCode: number };
      Config: Record<string, unknown>;
      HostConfig: Record<string, unknown>;
    };
  }

  beforeAll(() => {
    dc = connectorFor(engine);
  });

  afterAll(async () => {
    for (const id of containers) {
      await dc.execute('remove_container', { container: id, force: true, volumes: true }).catch(() => undefined);
    }
    for (const ref of images) {
      await dc.engine.json({ method: 'DELETE', path: enginePath`/images/${ref}`, query: { force: true } }).catch(() => undefined);
    }
    dc.close();
  });

  it('creates a container from friendly parameters, as inspect and list show', async () => {
    const { id, name } = await create({
      command: "sh -c 'sleep 300'",
      env: { MODE: 'test', N: 3 },
      labels: ['extra=yes'],
      ports: ['127.0.0.1::80', '9001:90/udp'],
      volumes: ['/cache'],
      restart_policy: 'on-failure:2',
      memory: '64m',
      cpus: 0.5,
      working_dir: '/tmp',
      hostname: 'lifecycle',
      user: '0:0',
      config: { StopSignal: 'SIGINT', Labels: { raw: '1' } },
      host_config: { ShmSize: 8 * 1024 * 1024, Memory: 1 },
    });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const info = await inspect(name);
    expect(info.Id).toBe(id);
    expect(info.Config.Cmd).toEqual(['sh', '-c', 'sleep 300']);
    expect(info.Config.Env).toEqual(expect.arrayContaining(['MODE=test', 'N=3']));
    expect(info.Config.Labels).toMatchObject({ ...LABELS, extra: 'yes', raw: '1' });
    expect(info.Config.WorkingDir).toBe('/tmp');
    expect(info.Config.Hostname).toBe('lifecycle');
    expect(info.Config.User).toBe('0:0');
    expect(info.Config.StopSignal).toBe('SIGINT');
    expect(info.Config.Volumes).toEqual({ '/cache': {} });
    expect(info.HostConfig).toMatchObject({
      Memory: 64 * 1024 * 1024, // the friendly memory wins over host_config.Memory
      NanoCpus: 500_000_000,
      ShmSize: 8 * 1024 * 1024,
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
      PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }], '90/udp': [{ HostIp: '', HostPort: '9001' }] },
    });

    const listed = await dc.execute('list_containers', { all: true, filters: { name: [name], label: [`${TEST_LABEL}=${LABEL_VALUE}`] } });
    expect(listed.map((c) => c.Id)).toEqual([id]);
    const running = await dc.execute('list_containers', { filters: { name: [name] } });
    expect(running).toEqual([]);
  });

  it('refuses bad parameters before sending anything', async () => {
    // A connector pointed at no Engine: reaching the network would be CONNECTION_FAILED.
    const offline = connectorFor(engine, { host: 'unix:///tmp/dch/no-such-engine.sock', retry_attempts: 0 });
    try {
      const name = uniqueName('dclc-never');
      const cases: [string, Record<string, unknown>, string][] = [
        ['create_container', { image: IMAGE, name, memory: 'lots' }, 'memory'],
        ['create_container', { image: IMAGE, name, command: 'echo hi | wc -c' }, 'command'],
        ['create_container', { image: IMAGE, name, ports: ['99999:80'] }, 'ports'],
        ['create_container', { image: IMAGE, name, restart_policy: 'sometimes' }, 'restart_policy'],
        ['start_container', { container: '../x' }, 'container'],
        ['inspect_container', { container: 'a/../../x' }, 'container'],
        ['update_container', { container: name, memory: '12 parsecs' }, 'memory'],
      ];
      for (const [op, params, param] of cases) {
        const err = await failure(() => offline.executeDynamic(op, params));
        expect(err.code, `${op} ${JSON.stringify(params)}`).toBe('INVALID_PARAMS');
        expect((err.details?.parameters as string[])[0]).toBe(param);
        expect(err.message).toContain(param);
      }
      // And the real Engine never saw a create under that name.
      expect(await dc.execute('list_containers', { all: true, filters: { name: [name] } })).toEqual([]);
    } finally {
      offline.close();
    }
  });

  it('reports NOT_FOUND for an unknown container', async () => {
    const ghost = uniqueName('dclc-ghost');
    for (const [op, params] of [
      ['inspect_container', { container: ghost }],
      ['start_container', { container: ghost }],
      ['stop_container', { container: ghost }],
      ['remove_container', { container: ghost }],
      ['remove_container', { container: ghost, dry_run: true }],
      ['wait_container', { container: ghost, timeout: 5 }],
    ] as const) {
      const err = await failure(() => dc.execute(op, params));
      expect(err.code, op).toBe('NOT_FOUND');
      expect(err.status).toBe(404);
    }
  });

  it('starts, pauses, stops, restarts and kills, with 304 paths as changed:false', async () => {
    const { id, name } = await create();
    expect(await dc.execute('start_container', { container: name })).toEqual({ container: name, changed: true });
    expect((await inspect(id)).State.Running).toBe(true);
    expect(await dc.execute('start_container', { container: id })).toEqual({ container: id, changed: false });

    const top = await dc.execute('container_top', { container: name });
    expect(top.titles).toContain('PID');
    expect(top.processes.some((row) => row.join(' ').includes('sleep 300'))).toBe(true);

    expect(await dc.execute('pause_container', { container: name })).toEqual({ container: name, changed: true });
    expect((await inspect(id)).State.Paused).toBe(true);
    expect((await dc.execute('pause_container', { container: name })).changed).toBe(false);
    expect(await dc.execute('unpause_container', { container: name })).toEqual({ container: name, changed: true });
    expect((await inspect(id)).State.Paused).toBe(false);
    expect((await dc.execute('unpause_container', { container: name })).changed).toBe(false);

    // sleep as PID 1 ignores SIGTERM: the Engine kills it after the timeout.
    expect(await dc.execute('stop_container', { container: name, timeout: 1 })).toEqual({ container: name, changed: true });
    expect((await inspect(id)).State).toMatchObject({ Running: false, Status: 'exited' });
    expect((await dc.execute('stop_container', { container: name, timeout: 1 })).changed).toBe(false);
    // Pausing a stopped container is a real conflict, not a no-op.
    expect((await failure(() => dc.execute('pause_container', { container: name }))).code).toBe('CONFLICT');

    expect((await dc.execute('restart_container', { container: name, timeout: 1 })).changed).toBe(true);
    expect((await inspect(id)).State.Running).toBe(true);

    expect(await dc.execute('kill_container', { container: name, signal: 'SIGKILL' })).toEqual({ container: name, changed: true });
    const killed = await dc.execute('wait_container', { container: name, timeout: 30 });
    expect(killed.status_code).toBe(137);
    expect((await inspect(id)).State.Running).toBe(false);
    expect((await failure(() => dc.execute('kill_container', { container: name }))).code).toBe('CONFLICT');
  });

  it('stops with a chosen signal where the API allows it', async () => {
    const { name } = await create();
    await dc.execute('start_container', { container: name });
    if (Number(engine.apiVersion.split('.')[1]) >= 42) {
      const started = Date.now();
      expect((await dc.execute('stop_container', { container: name, signal: 'SIGKILL', timeout: 20 })).changed).toBe(true);
      // SIGKILL ends it at once, well before the 20 s grace period.
      expect(Date.now() - started).toBeLessThan(15_000);
      expect((await inspect(name)).State.Running).toBe(false);
    } else {
      const err = await failure(() => dc.execute('stop_container', { container: name, signal: 'SIGKILL' }));
      expect(err.code).toBe('API_VERSION_UNSUPPORTED');
      expect(err.message).toMatch(/signal needs Engine API 1\.42/);
      expect((await inspect(name)).State.Running).toBe(true);
    }
  });

  it('renames a container; the old name stops resolving', async () => {
    const { id, name } = await create();
    const renamed = uniqueName('dclc-renamed');
    expect(await dc.execute('rename_container', { container: name, name: renamed })).toEqual({ container: name, name: renamed, changed: true });
    expect((await inspect(renamed)).Id).toBe(id);
    expect((await failure(() => inspect(name))).code).toBe('NOT_FOUND');
    expect((await dc.execute('rename_container', { container: id, name: renamed })).changed).toBe(false);
    // Names as inspect shows them, with their leading "/", resolve too.
    expect((await inspect(`/${renamed}`)).Id).toBe(id);
    expect((await dc.execute('start_container', { container: `/${renamed}` })).changed).toBe(true);
  });

  it('removes: CONFLICT on a running container without force; dry_run reports and keeps it', async () => {
    const { id, name } = await create({ volumes: ['/scratch'] });
    await dc.execute('start_container', { container: name });

    const conflict = await failure(() => dc.execute('remove_container', { container: name }));
    expect(conflict.code).toBe('CONFLICT');
    expect(conflict.status).toBe(409);

    const blocked = await dc.execute('remove_container', { container: name, dry_run: true });
    expect(blocked).toMatchObject({ container: name, id, name, dry_run: true, changed: false, state: 'running', would_remove: false });
    expect(blocked.reason).toMatch(/force/);

    const forced = await dc.execute('remove_container', { container: name, force: true, volumes: true, dry_run: true });
    expect(forced).toMatchObject({ would_remove: true, dry_run: true, changed: false });
    expect(forced.volumes).toHaveLength(1);
    expect((await inspect(id)).State.Running).toBe(true);

    expect(await dc.execute('remove_container', { container: name, force: true, volumes: true })).toEqual({ container: name, changed: true, dry_run: false });
    expect((await failure(() => inspect(id))).code).toBe('NOT_FOUND');
    // The anonymous volume went with it.
    const volume = forced.volumes![0]!;
    const gone = await failure(() => dc.engine.json({ method: 'GET', path: enginePath`/volumes/${volume}` }));
    expect(gone.code).toBe('NOT_FOUND');
  });

  it('a dry run takes a name with a leading "/" as the real removal does', async () => {
    const { id, name } = await create();
    const dry = await dc.execute('remove_container', { container: `/${name}`, dry_run: true });
    expect(dry).toMatchObject({ container: `/${name}`, id, name, dry_run: true, changed: false, would_remove: true });
    expect((await inspect(id)).Id).toBe(id);
    expect(await dc.execute('remove_container', { container: `/${name}` })).toEqual({ container: `/${name}`, changed: true, dry_run: false });
    expect((await failure(() => inspect(id))).code).toBe('NOT_FOUND');
  });

  it('removes only a legacy link with link: true', async () => {
    const db = await create();
    const web = await create({ host_config: { Links: [`${db.name}:db`] } });
    const links = () => inspect(web.id).then((i) => (i.HostConfig.Links as string[] | null) ?? []);
    expect(await links()).toEqual([`/${db.name}:/${web.name}/db`]);

    const dry = await dc.execute('remove_container', { container: `${web.name}/db`, link: true, dry_run: true });
    expect(dry).toMatchObject({ dry_run: true, changed: false, would_remove: true, name: web.name });
    expect(await links()).toHaveLength(1);

    expect((await dc.execute('remove_container', { container: `${web.name}/db`, link: true })).changed).toBe(true);
    expect(await links()).toEqual([]);
    // Both containers are still there; only the link went.
    expect((await inspect(db.id)).Id).toBe(db.id);
    expect((await dc.execute('remove_container', { container: `${web.name}/db`, link: true, dry_run: true })).would_remove).toBe(false);
  });

  it('waits for the exit code of a run, and times out on a container that keeps running', async () => {
    const { name } = await create({ command: ['sh', '-c', 'sleep 1 && echo x > /added.txt && rm /bin/true && exit 3'] });
    // next-exit before start: the wait cannot miss the exit (the command's sleep covers the wait reaching the Engine first).
    const waiting = dc.execute('wait_container', { container: name, condition: 'next-exit', timeout: 60 });
    await new Promise((r) => setTimeout(r, 300));
    await dc.execute('start_container', { container: name });
    expect(await waiting).toEqual({ container: name, status_code: 3 });
    expect((await inspect(name)).State.ExitCode).toBe(3);

    const changes = await dc.execute('container_changes', { container: name });
    expect(changes).toContainEqual({ path: '/added.txt', kind: 'added' });
    expect(changes).toContainEqual({ path: '/bin/true', kind: 'deleted' });
    expect(changes).toContainEqual({ path: '/bin', kind: 'changed' });

    const sleeper = await create();
    await dc.execute('start_container', { container: sleeper.name });
    const started = Date.now();
    const err = await failure(() => dc.execute('wait_container', { container: sleeper.name, timeout: 1 }));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/did not reach "not-running" within 1s/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await inspect(sleeper.name)).State.Running).toBe(true);
  });

  it('commits a container into an image that runs', async () => {
    const { name } = await create({ command: ['sh', '-c', 'echo committed > /marker && sleep 300'] });
    await dc.execute('start_container', { container: name });
    for (let i = 0; i < 50; i++) {
      const changes = await dc.execute('container_changes', { container: name });
      if (changes.some((c) => c.path === '/marker')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const repo = uniqueName('dclc-commit');
    const commit = await dc.execute('container_commit', {
      container: name,
      repo,
      tag: 'v1',
      comment: 'lifecycle test',
      author: 'tests',
      changes: ['CMD ["grep", "-q", "committed", "/marker"]', 'ENV COMMITTED=1'],
    });
    images.push(`${repo}:v1`);
    expect(commit.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const image = (await dc.engine.json<{ Id: string; Comment: string; Author: string; Config: { Cmd: string[]; Env: string[] } }>({ method: 'GET', path: enginePath`/images/${`${repo}:v1`}/json` })).body;
    expect(image.Id).toBe(commit.id);
    expect(image).toMatchObject({ Comment: 'lifecycle test', Author: 'tests' });
    expect(image.Config.Cmd).toEqual(['grep', '-q', 'committed', '/marker']);

    // The new image runs its CMD and finds the file the container wrote.
    const run = await dc.execute('create_container', { image: `${repo}:v1`, labels: LABELS });
    containers.push(run.id);
    await dc.execute('start_container', { container: run.id });
    // not-running also answers for a run that already ended, with its exit code.
    expect((await dc.execute('wait_container', { container: run.id, timeout: 60 })).status_code).toBe(0);
  });

  it('updates resource limits, as inspect shows', async () => {
    const { id } = await create({ memory: '128m' });
    await dc.execute('start_container', { container: id });
    const res = await dc.execute('update_container', { container: id, memory: '96m', memory_swap: '192m', cpus: 0.25, pids_limit: 50, restart_policy: 'unless-stopped' });
    expect(res.container).toBe(id);
    expect(Array.isArray(res.warnings)).toBe(true);
    const host = (await inspect(id)).HostConfig;
    expect(host).toMatchObject({ Memory: 96 * 1024 * 1024, MemorySwap: 192 * 1024 * 1024, NanoCpus: 250_000_000, PidsLimit: 50, RestartPolicy: { Name: 'unless-stopped' } });
  });

  it('prune dry_run lists exactly what the real prune removes', async () => {
    const batch = uniqueName('batch');
    const mine = { batch };
    const created = await create({ labels: mine });
    const exited = await create({ labels: mine, command: ['true'] });
    await dc.execute('start_container', { container: exited.id });
    await dc.execute('wait_container', { container: exited.id, timeout: 30 });
    const running = await create({ labels: mine });
    await dc.execute('start_container', { container: running.id });
    const kept = await create({ labels: { ...mine, keep: 'yes' } });
    const other = await create({ labels: { batch: `${batch}-other` } });

    const filters = { label: [`${TEST_LABEL}=${LABEL_VALUE}`, `batch=${batch}`], 'label!': 'keep=yes' };
    const dry = await dc.execute('prune_containers', { filters, dry_run: true });
    expect(dry.dry_run).toBe(true);
    const expected = [created, exited].map((c) => ({ id: c.id, name: c.name }));
    expect([...dry.deleted].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...expected].sort((a, b) => a.id.localeCompare(b.id)));
    // Nothing changed yet.
    expect((await inspect(created.id)).Id).toBe(created.id);

    // `until` in the past excludes everything just created.
    expect((await dc.execute('prune_containers', { filters: { ...filters, until: '1h' }, dry_run: true })).deleted).toEqual([]);
    expect((await dc.execute('prune_containers', { filters: { ...filters, until: '1h' } })).deleted).toEqual([]);
    expect((await inspect(exited.id)).Id).toBe(exited.id);

    const real = await dc.execute('prune_containers', { filters });
    expect(real.dry_run).toBe(false);
    expect([...real.deleted].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...dry.deleted].sort((a, b) => a.id.localeCompare(b.id)));
    expect(real.space_reclaimed).toBeGreaterThanOrEqual(0);
    for (const gone of [created, exited]) expect((await failure(() => inspect(gone.id))).code).toBe('NOT_FOUND');
    for (const stays of [running, kept, other]) expect((await inspect(stays.id)).Id).toBe(stays.id);
  });
});
