import { afterAll, describe, expect, it } from 'vitest';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { failure } from '../support/expect-error.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';

/**
 * Every prune, on both Engines: a mixed state (what goes, what stays for
 * each reason), the dry run, then the real call, which must remove exactly
 * what the dry run named, checked through a second view (the docker CLI).
 * Every object carries this file's label and a batch label of its test, and
 * every prune filters on both: other test files run in parallel.
 */
const FILE_LABEL = `${TEST_LABEL}=prune`;
const IMAGE = harness().image;

describe.each(engines())('prunes on Engine $name (API $apiVersion): the dry run names exactly what the real call removes', (engine: HarnessEngine) => {
  const dc = connectorFor(engine);
  const cli = (...args: string[]) => docker(engine, args).trim();
  const list = (...args: string[]) => cli(...args).split('\n').filter(Boolean).sort();
  const exists = (...args: string[]) => {
    try {
      docker(engine, args);
      return true;
    } catch {
      return false;
    }
  };
  const run = uniqueName('run');
  const batchOf = () => {
    const batch = uniqueName('b');
    return {
      batch,
      labels: ['--label', FILE_LABEL, '--label', `run=${run}`, '--label', `batch=${batch}`],
      change: ['--change', `LABEL ${FILE_LABEL}`, '--change', `LABEL run=${run}`, '--change', `LABEL batch=${batch}`],
      filters: { label: [FILE_LABEL, `batch=${batch}`], 'label!': ['keep=yes'] },
    };
  };
  const byId = (a: { id?: string | null }, b: { id?: string | null }) => (a.id ?? '').localeCompare(b.id ?? '');
  const images: string[] = [];

  afterAll(() => {
    const mine = ['--filter', `label=run=${run}`];
    for (const id of list('ps', '-aq', ...mine)) exists('rm', '-f', id);
    for (const id of [...images].reverse()) exists('rmi', '-f', id);
    for (const id of list('network', 'ls', '-q', ...mine)) exists('network', 'rm', id);
    for (const id of list('volume', 'ls', '-q', ...mine)) exists('volume', 'rm', '-f', id);
  });

  it('prune_containers: stopped ones go, running, kept and other batches stay; `until` at the creation second decides as the Engine does', async () => {
    const { batch, labels, filters } = batchOf();
    const created = cli('create', ...labels, IMAGE, 'true');
    const exited = cli('run', '-d', ...labels, IMAGE, 'true');
    cli('wait', exited);
    const running = cli('run', '-d', ...labels, IMAGE, 'sleep', '300');
    const kept = cli('create', ...labels, '--label', 'keep=yes', IMAGE, 'true');
    const other = cli('create', '--label', FILE_LABEL, '--label', `run=${run}`, '--label', `batch=${batch}-other`, IMAGE, 'true');

    // `until` inside the second `created` was made in: the list says that second, only the exact time decides.
    const second = Math.floor(Date.parse(cli('inspect', '-f', '{{.Created}}', created)) / 1000);
    for (const [until, named] of [
      [second, false],
      [second + 1, true],
    ] as const) {
      const dryUntil = await dc.execute('prune_containers', { filters: { ...filters, until }, dry_run: true });
      expect(dryUntil.deleted.some((d) => d.id === created), `until ${until}`).toBe(named);
    }

    const dry = await dc.execute('prune_containers', { filters, dry_run: true });
    expect(dry.deleted.map((d) => d.id).sort()).toEqual([created, exited].sort());
    expect(list('ps', '-aq', '--no-trunc', '--filter', `label=batch=${batch}`)).toEqual([created, exited, running, kept].sort());

    const real = await dc.execute('prune_containers', { filters });
    expect([...real.deleted].sort(byId)).toEqual([...dry.deleted].sort(byId));
    expect(list('ps', '-aq', '--no-trunc', '--filter', `label=batch=${batch}`)).toEqual([running, kept].sort());
    expect(exists('inspect', other)).toBe(true);
  });

  it('prune_images: dangling and all; a tagged parent whose child stays is only untagged, as the Engine does', async () => {
    const { batch, labels, change, filters } = batchOf();
    const base = cli('create', ...labels, IMAGE, 'true');
    const repo = uniqueName('dcprune');
    // Dangling: committed twice under one tag, the first loses it.
    const dangling = cli('commit', ...change, base, `${repo}:d`);
    const retagged = cli('commit', ...change, '--change', 'LABEL second=1', base, `${repo}:d`);
    const keptDangling = cli('commit', ...change, '--change', 'LABEL keep=yes', base, `${repo}:k`);
    const keptTagged = cli('commit', ...change, '--change', 'LABEL keep=yes', '--change', 'LABEL second=1', base, `${repo}:k`);
    images.push(dangling, retagged, keptDangling, keptTagged);
    const tagged = cli('commit', ...change, base, `${repo}:t`);
    // A tagged parent whose child a container uses: pruning all images untags the parent and keeps it.
    const parent = cli('commit', ...change, base, `${repo}:p`);
    const fromParent = cli('create', ...labels, `${repo}:p`, 'true');
    const child = cli('commit', ...change, fromParent, `${repo}:c`);
    cli('rm', fromParent);
    cli('create', ...labels, `${repo}:c`, 'true');
    images.push(tagged, parent, child);
    expect(cli('image', 'inspect', '-f', '{{.Parent}}', child)).toBe(parent);

    const dry = await dc.execute('prune_images', { filters, dry_run: true });
    expect(dry.deleted).toEqual([{ id: dangling, tags: [] }]);
    const real = await dc.execute('prune_images', { filters });
    expect(real.deleted).toEqual(dry.deleted);
    expect(exists('image', 'inspect', dangling)).toBe(false);
    expect(exists('image', 'inspect', keptDangling)).toBe(true);

    const dryAll = await dc.execute('prune_images', { filters, dangling_only: false, dry_run: true });
    expect(dryAll.deleted).toEqual(
      [
        { id: tagged, tags: [`${repo}:t`] },
        { id: retagged, tags: [`${repo}:d`] },
      ].sort(byId),
    );
    const realAll = await dc.execute('prune_images', { filters, dangling_only: false });
    expect(realAll.deleted).toEqual(dryAll.deleted);
    expect(exists('image', 'inspect', tagged)).toBe(false);
    // The parent stays, untagged; the child its container uses stays tagged.
    expect(cli('image', 'inspect', '-f', '{{json .RepoTags}}', parent)).toBe('[]');
    expect(cli('image', 'inspect', '-f', '{{json .RepoTags}}', child)).toBe(JSON.stringify([`${repo}:c`]));
    expect(list('image', 'ls', '-aq', '--no-trunc', '--filter', `label=batch=${batch}`, '--filter', 'label=keep=yes')).toEqual([keptDangling, keptTagged].sort());
  });

  it('prune_networks: unused ones and those only stopped containers use go; in use, kept and other batches stay', async () => {
    const { batch, labels, filters } = batchOf();
    const net = (extra: string[] = []) => {
      const name = uniqueName('dcpn');
      cli('network', 'create', ...labels, ...extra, name);
      return name;
    };
    const unused = net();
    const stoppedOnly = net();
    cli('create', ...labels, '--network', stoppedOnly, IMAGE, 'true');
    const inUse = net();
    cli('run', '-d', ...labels, '--network', inUse, IMAGE, 'sleep', '300');
    const kept = net(['--label', 'keep=yes']);

    const dry = await dc.execute('prune_networks', { filters, dry_run: true });
    expect(dry.deleted.map((n) => n.name)).toEqual([unused, stoppedOnly].sort());
    const real = await dc.execute('prune_networks', { filters });
    expect(real.deleted).toEqual(dry.deleted);
    expect(list('network', 'ls', '--format', '{{.Name}}', '--filter', `label=batch=${batch}`)).toEqual([inUse, kept].sort());
  });

  it('prune_volumes: unused anonymous ones (named too with all); used and kept ones stay; before API 1.42 only with all: true', async () => {
    const { batch, labels, filters } = batchOf();
    const vol = (extra: string[] = []) => {
      const name = uniqueName('dcpv');
      cli('volume', 'create', ...labels, ...extra, name);
      return name;
    };
    const anonymous = vol(['--label', 'com.docker.volume.anonymous=']);
    const named = vol();
    const used = vol(['--label', 'com.docker.volume.anonymous=']);
    cli('create', ...labels, '-v', `${used}:/data`, IMAGE, 'true');
    const kept = vol(['--label', 'com.docker.volume.anonymous=', '--label', 'keep=yes']);
    const left = () => list('volume', 'ls', '-q', '--filter', `label=batch=${batch}`);

    if (engine.apiVersion === '1.41') {
      for (const dry_run of [true, false]) expect((await failure(dc.execute('prune_volumes', { filters, dry_run }))).code).toBe('INVALID_PARAMS');
      expect(left()).toEqual([anonymous, named, used, kept].sort());
    } else {
      const dry = await dc.execute('prune_volumes', { filters, dry_run: true });
      expect(dry.deleted).toEqual([{ name: anonymous }]);
      const real = await dc.execute('prune_volumes', { filters });
      expect(real.deleted).toEqual(dry.deleted);
      expect(left()).toEqual([named, used, kept].sort());
    }
    const dryAll = await dc.execute('prune_volumes', { filters, all: true, dry_run: true });
    expect(dryAll.deleted.map((v) => v.name)).toEqual((engine.apiVersion === '1.41' ? [anonymous, named] : [named]).sort());
    const realAll = await dc.execute('prune_volumes', { filters, all: true });
    expect(realAll.deleted).toEqual(dryAll.deleted);
    expect(left()).toEqual([used, kept].sort());
  });

  it('system_prune: per kind, what the dry run names is what goes, counting what the earlier steps free', async () => {
    const { batch, labels, change, filters } = batchOf();
    const net = uniqueName('dcpsn');
    cli('network', 'create', ...labels, net);
    const anon = uniqueName('dcpsv');
    cli('volume', 'create', ...labels, '--label', 'com.docker.volume.anonymous=', anon);
    const stopped = cli('create', ...labels, '--network', net, '-v', `${anon}:/data`, IMAGE, 'true');
    const running = cli('run', '-d', ...labels, IMAGE, 'sleep', '300');
    const repo = uniqueName('dcpsi');
    // An image only the stopped container uses: it goes once the container has gone.
    const onlyStopped = cli('commit', ...change, stopped, `${repo}:s`);
    const user = cli('create', ...labels, `${repo}:s`, 'true');
    // A tagged parent whose child a running container uses: only untagged.
    const parent = cli('commit', ...change, running, `${repo}:p`);
    const fromParent = cli('create', ...labels, `${repo}:p`, 'true');
    const child = cli('commit', ...change, fromParent, `${repo}:c`);
    cli('rm', fromParent);
    cli('run', '-d', ...labels, `${repo}:c`, 'sleep', '300');
    images.push(onlyStopped, parent, child);

    const withVolumes = engine.apiVersion !== '1.41';
    const params = { filters, all_images: true, volumes: withVolumes };
    type Section = { deleted: { id?: string | null; name: string | null }[] };
    type Out = Record<'containers' | 'networks' | 'images', Section> & { volumes: Section | null };
    const dry = (await dc.execute('system_prune', { ...params, dry_run: true })) as unknown as Out;
    expect(dry.containers.deleted.map((c) => c.id).sort()).toEqual([stopped, user].sort());
    expect(dry.networks.deleted.map((n) => n.name)).toEqual([net]);
    expect(dry.volumes?.deleted.map((v) => v.name) ?? null).toEqual(withVolumes ? [anon] : null);
    expect(dry.images.deleted.map((i) => i.id)).toEqual([onlyStopped]);

    const real = (await dc.execute('system_prune', params)) as unknown as Out;
    for (const kind of ['containers', 'networks', 'images'] as const) expect([...real[kind].deleted].sort(byId), kind).toEqual([...dry[kind].deleted].sort(byId));
    expect(real.volumes).toEqual(dry.volumes && { ...dry.volumes, space_reclaimed: expect.any(Number) });

    expect(list('ps', '-aq', '--no-trunc', '--filter', `label=batch=${batch}`)).not.toContain(stopped);
    expect(list('ps', '-aq', '--no-trunc', '--filter', `label=batch=${batch}`)).toContain(running);
    expect(exists('network', 'inspect', net)).toBe(false);
    expect(exists('volume', 'inspect', anon)).toBe(!withVolumes);
    expect(exists('image', 'inspect', onlyStopped)).toBe(false);
    expect(cli('image', 'inspect', '-f', '{{json .RepoTags}}', parent)).toBe('[]');
    expect(exists('image', 'inspect', child)).toBe(true);
  });
});
