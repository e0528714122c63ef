import { execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';
import { failure } from '../support/expect-error.js';

const FILE_LABEL = `${TEST_LABEL}=networks-volumes`;
const IMAGE = harness().image;
/** A plan id every destructive dry run returns (src/plans.ts). */
const PLAN_ID = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/;


describe.each(engines())('networks and volumes on Engine $version (API $apiVersion)', (engine: HarnessEngine) => {
  const dc = connectorFor(engine);
  const docker = (...args: string[]) => execFileSync('docker', ['-H', engine.host, ...args], { encoding: 'utf8' }).trim();
  const run = uniqueName('nv');
  const labels = { [TEST_LABEL]: 'networks-volumes', run };
  const pruneFilter = { label: [FILE_LABEL, `run=${run}`] };
  const subnet = `10.${randomInt(100, 250)}.${randomInt(0, 255)}.0/24`;
  const prefix = subnet.slice(0, subnet.lastIndexOf('.'));
  const netName = uniqueName('dcnet');

  const startContainer = (name: string, ...args: string[]) =>
    docker('run', '-d', '--name', name, '--label', FILE_LABEL, '--label', `run=${run}`, ...args, IMAGE, 'sleep', '300');

  beforeAll(async () => {
    await dc.execute('create_network', { name: netName, subnet, gateway: `${prefix}.1`, labels });
  });

  afterAll(() => {
    const ids = docker('ps', '-aq', '--filter', `label=run=${run}`).split('\n').filter(Boolean);
    if (ids.length) docker('rm', '-f', ...ids);
    for (const id of docker('network', 'ls', '-q', '--filter', `label=run=${run}`).split('\n').filter(Boolean)) spawnSync('docker', ['-H', engine.host, 'network', 'rm', id]);
    const vols = docker('volume', 'ls', '-q', '--filter', `label=run=${run}`).split('\n').filter(Boolean);
    if (vols.length) spawnSync('docker', ['-H', engine.host, 'volume', 'rm', '-f', ...vols]);
    dc.close();
  });

  it('creates a network the Engine then shows, and refuses its name twice', async () => {
    const net = await dc.execute('inspect_network', { network: netName });
    const n = net as unknown as { Name: string; Labels: Record<string, string>; IPAM: { Config: { Subnet: string; Gateway: string }[] } };
    expect(n.Name).toBe(netName);
    expect(n.Labels).toMatchObject(labels);
    expect(n.IPAM.Config[0]).toMatchObject({ Subnet: subnet, Gateway: `${prefix}.1` });
    const listed = (await dc.execute('list_networks', { filters: { label: `run=${run}` } })) as { Name: string }[];
    expect(listed.map((x) => x.Name)).toContain(netName);

    const dup = await failure(dc.execute('create_network', { name: netName, labels }));
    expect(dup.code).toBe('CONFLICT');
    // Exactly one network carries that name afterwards (20.10 would have made a second one unasked).
    expect(docker('network', 'ls', '-q', '--filter', `name=^${netName}$`).split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('rejects a subnet that is not CIDR before sending anything', async () => {
    const name = uniqueName('dcbad');
    const err = await failure(dc.execute('create_network', { name, subnet: '10.1.2.3', labels }));
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toMatch(/subnet/);
    expect(err.status).toBeUndefined();
    expect(docker('network', 'ls', '-q', '--filter', `name=^${name}$`)).toBe('');
  });

  it('connects and disconnects containers, idempotently, with aliases', async () => {
    const a = uniqueName('dcnva');
    const b = uniqueName('dcnvb');
    startContainer(a, '--network', netName, '--network-alias', 'alpha');
    startContainer(b);
    const other = uniqueName('dcnet2');
    await dc.execute('create_network', { name: other, labels });

    const first = await dc.execute('connect_network', { network: other, container: b, aliases: ['bravo'] });
    expect(first).toMatchObject({ changed: true, container: { name: b }, network: { name: other } });
    const aliases = JSON.parse(docker('inspect', '-f', `{{json (index .NetworkSettings.Networks "${other}").Aliases}}`, b)) as string[];
    expect(aliases).toContain('bravo');
    expect(await dc.execute('connect_network', { network: other, container: b, aliases: ['bravo'] })).toMatchObject({ changed: false });

    // Reachable by alias on the shared user-defined network.
    await dc.execute('connect_network', { network: netName, container: b, aliases: ['bravo2'], ipv4_address: `${prefix}.77` });
    expect(docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${netName}").IPAddress}}`, b)).toBe(`${prefix}.77`);
    expect(spawnSync('docker', ['-H', engine.host, 'exec', b, 'ping', '-c1', '-W2', 'alpha']).status).toBe(0);
    expect(spawnSync('docker', ['-H', engine.host, 'exec', a, 'ping', '-c1', '-W2', 'bravo2']).status).toBe(0);

    expect(await dc.execute('disconnect_network', { network: other, container: b })).toMatchObject({ changed: true });
    expect(docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', b)).not.toContain(other);
    expect(await dc.execute('disconnect_network', { network: other, container: b })).toMatchObject({ changed: false });

    expect((await failure(dc.execute('connect_network', { network: uniqueName('nonet'), container: b }))).code).toBe('NOT_FOUND');
    expect((await failure(dc.execute('connect_network', { network: other, container: uniqueName('noc') }))).code).toBe('NOT_FOUND');
    expect((await failure(dc.execute('disconnect_network', { network: other, container: uniqueName('noc') }))).code).toBe('NOT_FOUND');
  });

  it('removes a network only when no running container uses it', async () => {
    const name = uniqueName('dcnetrm');
    await dc.execute('create_network', { name, labels });
    const c = uniqueName('dcnvc');
    startContainer(c, '--network', name);

    for (const dry_run of [true, false]) {
      const err = await failure(dc.execute('remove_network', { network: name, dry_run }));
      expect(err.code).toBe('CONFLICT');
      expect(err.message).toContain(c);
      expect(err.details?.containers).toEqual([expect.objectContaining({ name: c })]);
    }
    docker('rm', '-f', c);

    const id = (await dc.execute('inspect_network', { network: name })) as { Id: string };
    expect(await dc.execute('remove_network', { network: name, dry_run: true })).toEqual({ deleted: [{ id: id.Id, name }], dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
    expect(docker('network', 'inspect', '-f', '{{.Name}}', name)).toBe(name);
    expect(await dc.execute('remove_network', { network: name })).toEqual({ deleted: [{ id: id.Id, name }], dry_run: false });
    expect((await failure(dc.execute('inspect_network', { network: name }))).code).toBe('NOT_FOUND');
    expect((await failure(dc.execute('remove_network', { network: name }))).code).toBe('NOT_FOUND');
    expect((await failure(dc.execute('remove_network', { network: 'bridge', dry_run: true }))).code).toBe('CONFLICT');
  });

  it('prune_networks: the dry run lists exactly what the prune removes', async () => {
    const batch = uniqueName('b');
    const mk = async (extra: Record<string, string> = {}) => {
      const name = uniqueName('dcnetp');
      const { id } = (await dc.execute('create_network', { name, labels: { ...labels, batch, ...extra } })) as { id: string };
      return { id, name };
    };
    const unused = await mk();
    const keptByLabel = await mk({ keep: 'yes' });
    const withStopped = await mk();
    const inUse = await mk();
    docker('create', '--name', uniqueName('dcnvs'), '--label', FILE_LABEL, '--label', `run=${run}`, '--network', withStopped.name, IMAGE, 'true');
    startContainer(uniqueName('dcnvr'), '--network', inUse.name);

    const filters = { label: [...pruneFilter.label, `batch=${batch}`], 'label!': ['keep=yes'] };
    const dry = (await dc.execute('prune_networks', { filters, dry_run: true })) as { deleted: { id: string; name: string }[] };
    const expected = [unused, withStopped].sort((x, y) => x.name.localeCompare(y.name));
    expect(dry).toEqual({ deleted: expected, dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
    // Nothing went.
    expect(docker('network', 'ls', '-q', '--filter', `label=batch=${batch}`).split('\n').filter(Boolean)).toHaveLength(4);

    const real = await dc.execute('prune_networks', { filters });
    expect(real).toEqual({ deleted: dry.deleted, dry_run: false });
    const left = docker('network', 'ls', '--format', '{{.Name}}', '--filter', `label=batch=${batch}`).split('\n').filter(Boolean).sort();
    expect(left).toEqual([keptByLabel.name, inUse.name].sort());
  });

  it('creates, lists, inspects and removes volumes', async () => {
    const name = uniqueName('dcvol');
    const created = (await dc.execute('create_volume', { name, labels })) as { Name: string; Driver: string };
    expect(created).toMatchObject({ Name: name, Driver: 'local' });
    expect(docker('volume', 'inspect', '-f', '{{json .Labels}}', name)).toContain(run);
    const listed = (await dc.execute('list_volumes', { filters: { label: `run=${run}`, name } })) as { volumes: { Name: string }[]; warnings: string[] };
    expect(listed.volumes.map((v) => v.Name)).toEqual([name]);
    expect(await dc.execute('inspect_volume', { volume: name })).toMatchObject({ Name: name, Labels: labels });

    expect(await dc.execute('remove_volume', { volume: name, dry_run: true })).toEqual({ deleted: [{ name }], dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
    expect(docker('volume', 'inspect', '-f', '{{.Name}}', name)).toBe(name);
    expect(await dc.execute('remove_volume', { volume: name })).toEqual({ deleted: [{ name }], dry_run: false });
    expect((await failure(dc.execute('inspect_volume', { volume: name }))).code).toBe('NOT_FOUND');
    expect((await failure(dc.execute('remove_volume', { volume: name }))).code).toBe('NOT_FOUND');
    expect(await dc.execute('remove_volume', { volume: name, force: true })).toEqual({ deleted: [], dry_run: false });
  });

  it('remove_volume on a volume in use names the container', async () => {
    const name = uniqueName('dcvolu');
    await dc.execute('create_volume', { name, labels });
    const c = uniqueName('dcnvu');
    docker('create', '--name', c, '--label', FILE_LABEL, '--label', `run=${run}`, '-v', `${name}:/data`, IMAGE, 'true');
    for (const params of [{ dry_run: true }, {}, { force: true }]) {
      const err = await failure(dc.execute('remove_volume', { volume: name, ...params }));
      expect(err.code).toBe('CONFLICT');
      expect(err.message).toContain(c);
      expect(err.details?.containers).toEqual([expect.objectContaining({ name: c })]);
    }
    expect(docker('volume', 'inspect', '-f', '{{.Name}}', name)).toBe(name);
  });

  it('prune_volumes: the dry run lists exactly what the prune removes (anonymous vs named); before API 1.42 only with all: true', async () => {
    const batch = uniqueName('b');
    const vl = { ...labels, batch };
    const named = uniqueName('dcvn');
    const anon = uniqueName('dcva');
    const used = uniqueName('dcvu');
    const kept = uniqueName('dcvk');
    await dc.execute('create_volume', { name: named, labels: vl });
    await dc.execute('create_volume', { name: anon, labels: { ...vl, 'com.docker.volume.anonymous': '' } });
    await dc.execute('create_volume', { name: used, labels: { ...vl, 'com.docker.volume.anonymous': '' } });
    await dc.execute('create_volume', { name: kept, labels: { ...vl, 'com.docker.volume.anonymous': '', keep: 'yes' } });
    docker('create', '--name', uniqueName('dcnvv'), '--label', FILE_LABEL, '--label', `run=${run}`, '-v', `${used}:/data`, IMAGE, 'true');
    const filters = { label: [...pruneFilter.label, `batch=${batch}`], 'label!': ['keep=yes'] };

    const count = () => docker('volume', 'ls', '-q', '--filter', `label=batch=${batch}`).split('\n').filter(Boolean).length;
    if (engine.apiVersion === '1.41') {
      // Before 1.42 the Engine cannot spare named volumes: without all: true the call (and its dry run) is refused, nothing removed.
      for (const dry_run of [true, false]) {
        const refused = await failure(() => dc.execute('prune_volumes', { filters, dry_run }));
        expect(refused.code).toBe('INVALID_PARAMS');
        expect(refused.message).toMatch(/all: true/);
        expect(refused.message).toMatch(/1\.42/);
      }
      expect(count()).toBe(4);
      const dryAll = (await dc.execute('prune_volumes', { filters, all: true, dry_run: true })) as { deleted: { name: string }[] };
      expect(dryAll).toEqual({ deleted: [anon, named].sort().map((name) => ({ name })), space_reclaimed: null, dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
      expect(count()).toBe(4);
      expect((await dc.execute('prune_volumes', { filters, all: true })) as object).toMatchObject({ deleted: dryAll.deleted, dry_run: false });
    } else {
      const dry = (await dc.execute('prune_volumes', { filters, dry_run: true })) as { deleted: { name: string }[] };
      // API 1.42+ leaves named volumes alone unless all.
      expect(dry).toEqual({ deleted: [{ name: anon }], space_reclaimed: null, dry_run: true, plan_id: expect.stringMatching(PLAN_ID) });
      expect(count()).toBe(4);

      const real = (await dc.execute('prune_volumes', { filters })) as { deleted: { name: string }[]; space_reclaimed: number };
      expect(real.deleted).toEqual(dry.deleted);
      expect(typeof real.space_reclaimed).toBe('number');

      const dryAll = (await dc.execute('prune_volumes', { filters, all: true, dry_run: true })) as { deleted: { name: string }[] };
      expect(dryAll.deleted).toEqual([{ name: named }]);
      expect((await dc.execute('prune_volumes', { filters, all: true })) as object).toMatchObject({ deleted: dryAll.deleted });
    }
    const left = docker('volume', 'ls', '-q', '--filter', `label=batch=${batch}`).split('\n').filter(Boolean).sort();
    expect(left).toEqual([kept, used].sort());
  });
});
