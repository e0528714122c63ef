import { execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreRecord } from '../../src/operations/containment.js';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';
import { failure } from '../support/expect-error.js';

const FILE_LABEL = `${TEST_LABEL}=containment`;
const IMAGE = harness().image;


interface Endpoint {
  IPAMConfig: { IPv4Address?: string } | null;
  Aliases: string[] | null;
  IPAddress: string;
  MacAddress: string;
}

describe.each(engines())('containment on Engine $version (API $apiVersion)', (engine: HarnessEngine) => {
  const dc = connectorFor(engine);
  const docker = (...args: string[]) => execFileSync('docker', ['-H', engine.host, ...args], { encoding: 'utf8' }).trim();
  // `timeout` caps the wait when a name no longer resolves and the Engine's DNS asks upstream servers that never answer.
  const reaches = (from: string, to: string) => spawnSync('docker', ['-H', engine.host, 'exec', from, 'timeout', '3', 'ping', '-c1', '-W2', to]).status === 0;
  const networksOf = (c: string) => JSON.parse(docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', c)) as Record<string, Endpoint>;
  const shortId = (c: string) => docker('inspect', '-f', '{{.Id}}', c).slice(0, 12);
  const userAliases = (ep: Endpoint | undefined, c: string) => (ep?.Aliases ?? []).filter((a) => a !== shortId(c)).sort();

  const run = uniqueName('ct');
  const tag = ['--label', FILE_LABEL, '--label', `run=${run}`];
  const subnet = `10.${randomInt(100, 250)}.${randomInt(0, 255)}.0/24`;
  const prefix = subnet.slice(0, subnet.lastIndexOf('.'));
  const net1 = uniqueName('dcct1');
  const net2 = uniqueName('dcct2');
  const a = uniqueName('dccta');
  const b = uniqueName('dcctb');

  beforeAll(() => {
    docker('network', 'create', ...tag, '--subnet', subnet, net1);
    docker('network', 'create', ...tag, net2);
    docker('run', '-d', '--name', a, ...tag, '--network', net1, '--network-alias', 'alpha', '--network-alias', 'a2', IMAGE, 'sleep', '300');
    docker('network', 'connect', '--alias', 'gamma', net2, a);
    docker('run', '-d', '--name', b, ...tag, '--network', net1, '--ip', `${prefix}.50`, '--network-alias', 'beta', IMAGE, 'sleep', '300');
  });

  afterAll(() => {
    const ids = docker('ps', '-aq', '--filter', `label=run=${run}`).split('\n').filter(Boolean);
    if (ids.length) docker('rm', '-f', ...ids);
    for (const id of docker('network', 'ls', '-q', '--filter', `label=run=${run}`).split('\n').filter(Boolean)) spawnSync('docker', ['-H', engine.host, 'network', 'rm', id]);
    const vols = docker('volume', 'ls', '-q', '--filter', `label=run=${run}`).split('\n').filter(Boolean);
    if (vols.length) spawnSync('docker', ['-H', engine.host, 'volume', 'rm', '-f', ...vols]);
    const images = docker('image', 'ls', '-q', '--filter', `label=run=${run}`).split('\n').filter(Boolean);
    if (images.length) spawnSync('docker', ['-H', engine.host, 'rmi', '-f', ...new Set(images)]);
    dc.close();
  });

  it('isolates a container from every network and restores it exactly', async () => {
    expect(reaches(b, 'alpha')).toBe(true);
    expect(reaches(a, 'beta')).toBe(true);
    const before = networksOf(a);

    const iso = (await dc.execute('isolate_container', { container: a })) as { changed: boolean; disconnected: { name: string }[]; paused: boolean; restore: RestoreRecord };
    expect(iso.changed).toBe(true);
    expect(iso.paused).toBe(false);
    expect(iso.disconnected.map((n) => n.name).sort()).toEqual([net1, net2].sort());
    const rec = iso.restore;
    const entry1 = rec.networks.find((n) => n.network_name === net1)!;
    expect(entry1.aliases.sort()).toEqual(['a2', 'alpha']);
    expect(entry1.ipv4_address).toBe(before[net1]!.IPAddress);
    expect(entry1.static_ipv4).toBeNull();
    expect(rec.networks.find((n) => n.network_name === net2)!.aliases).toEqual(['gamma']);

    // Second view: the Engine shows no network, and neither side reaches the other.
    expect(networksOf(a)).toEqual({});
    expect(reaches(b, 'alpha')).toBe(false);
    expect(reaches(a, `${prefix}.50`)).toBe(false);

    const again = (await dc.execute('isolate_container', { container: a })) as { changed: boolean; restore: RestoreRecord; warnings: string[] };
    expect(again.changed).toBe(false);
    expect(again.restore.networks).toEqual([]);
    expect(again.warnings.join(' ')).toMatch(/already isolated/);

    // The record survives a trip through JSON (it is what a playbook stores).
    const restored = (await dc.execute('restore_container', { container: a, restore: JSON.parse(JSON.stringify(rec)) })) as { changed: boolean; networks: { network_name: string; changed: boolean }[] };
    expect(restored.changed).toBe(true);
    expect(restored.networks.every((n) => n.changed)).toBe(true);

    const after = networksOf(a);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const name of [net1, net2]) {
      expect(after[name]!.IPAddress).toBe(before[name]!.IPAddress);
      expect(userAliases(after[name], a)).toEqual(userAliases(before[name], a));
      expect(after[name]!.IPAMConfig?.IPv4Address ?? null).toBe(before[name]!.IPAMConfig?.IPv4Address ?? null);
      // 20.10 derives the MAC from the address; 25+ picks a random one on every connect (as on every restart).
      if (engine.apiVersion === '1.41') expect(after[name]!.MacAddress).toBe(before[name]!.MacAddress);
    }
    expect(reaches(b, 'alpha')).toBe(true);
    expect(reaches(b, 'a2')).toBe(true);
    expect(reaches(a, 'beta')).toBe(true);

    const repeat = (await dc.execute('restore_container', { container: a, restore: rec })) as { changed: boolean; networks: { changed: boolean }[] };
    expect(repeat.changed).toBe(false);
    expect(repeat.networks.some((n) => n.changed)).toBe(false);
    expect(networksOf(a)[net1]!.IPAddress).toBe(before[net1]!.IPAddress);
  });

  it('pauses on request, keeps a static address static, and unpauses on restore', async () => {
    const before = networksOf(b);
    const iso = (await dc.execute('isolate_container', { container: b, pause: true })) as { changed: boolean; paused: boolean; restore: RestoreRecord };
    expect(iso).toMatchObject({ changed: true, paused: true });
    expect(iso.restore).toMatchObject({ was_paused: false, paused_by_isolate: true });
    expect(iso.restore.networks[0]).toMatchObject({ network_name: net1, static_ipv4: `${prefix}.50`, ipv4_address: `${prefix}.50`, aliases: ['beta'] });
    expect(docker('inspect', '-f', '{{.State.Paused}}', b)).toBe('true');
    expect(networksOf(b)).toEqual({});

    // Already isolated and paused: nothing to do.
    expect(((await dc.execute('isolate_container', { container: b, pause: true })) as { changed: boolean }).changed).toBe(false);

    const restored = (await dc.execute('restore_container', { container: b, restore: iso.restore })) as { changed: boolean; unpaused: boolean };
    expect(restored).toMatchObject({ changed: true, unpaused: true });
    expect(docker('inspect', '-f', '{{.State.Paused}}', b)).toBe('false');
    const after = networksOf(b)[net1]!;
    expect(after.IPAddress).toBe(`${prefix}.50`);
    expect(after.IPAMConfig?.IPv4Address).toBe(`${prefix}.50`);
    expect(userAliases(after, b)).toEqual(userAliases(before[net1], b));
    expect(reaches(a, 'beta')).toBe(true);
  });

  it('restore keeps the container reachable when its old dynamic address was taken meanwhile', async () => {
    const d = uniqueName('dcctd');
    docker('run', '-d', '--name', d, ...tag, '--network', net1, '--network-alias', 'delta', IMAGE, 'sleep', '300');
    const old = networksOf(d)[net1]!.IPAddress;
    const { restore } = (await dc.execute('isolate_container', { container: d })) as { restore: RestoreRecord };
    // The lowest free address is d's old one: a newcomer takes it.
    const e = uniqueName('dccte');
    docker('run', '-d', '--name', e, ...tag, '--network', net1, IMAGE, 'sleep', '300');
    expect(networksOf(e)[net1]!.IPAddress).toBe(old);

    const restored = (await dc.execute('restore_container', { container: d, restore })) as { changed: boolean; warnings: string[]; networks: { ipv4_address: string | null }[] };
    expect(restored.changed).toBe(true);
    expect(restored.warnings.join(' ')).toMatch(/could not be had back/);
    const now = networksOf(d)[net1]!;
    expect(now.IPAddress).not.toBe(old);
    expect(restored.networks[0]!.ipv4_address).toBe(now.IPAddress);
    // Still dynamic, with its alias, and reachable by it.
    expect(now.IPAMConfig?.IPv4Address ?? null).toBeNull();
    expect(userAliases(now, d)).toEqual(['delta']);
    expect(reaches(b, 'delta')).toBe(true);
  });

  it('refuses what it cannot do: unknown container, foreign record, host network, vanished network', async () => {
    expect((await failure(dc.execute('isolate_container', { container: uniqueName('nope') }))).code).toBe('NOT_FOUND');

    const c = uniqueName('dcctc');
    const cnet = uniqueName('dcct3');
    docker('network', 'create', ...tag, cnet);
    docker('run', '-d', '--name', c, ...tag, '--network', cnet, IMAGE, 'sleep', '300');
    const { restore } = (await dc.execute('isolate_container', { container: c })) as { restore: RestoreRecord };

    const foreign = await failure(dc.execute('restore_container', { container: a, restore }));
    expect(foreign.code).toBe('INVALID_PARAMS');
    expect(foreign.message).toMatch(/restore/);
    const bad = await failure(dc.execute('restore_container', { container: c, restore: { ...restore, networks: [{ ...restore.networks[0]!, ipv4_address: 'x' }] } }));
    expect(bad.code).toBe('INVALID_PARAMS');
    expect(bad.message).toMatch(/restore\.networks\.0\.ipv4_address/);

    docker('network', 'rm', cnet);
    const gone = await failure(dc.execute('restore_container', { container: c, restore }));
    expect(gone.code).toBe('NOT_FOUND');
    expect(gone.message).toContain(cnet);
    expect(networksOf(c)).toEqual({});

    const h = uniqueName('dccth');
    docker('run', '-d', '--name', h, ...tag, '--network', 'host', IMAGE, 'sleep', '300');
    const host = await failure(dc.execute('isolate_container', { container: h }));
    expect(host.code).toBe('CONFLICT');
    expect(host.message).toMatch(/host/);
  });

  it('system_prune: the dry run lists exactly what the prune removes, per type', async () => {
    const batch = uniqueName('b');
    const bl = [...tag, '--label', `batch=${batch}`];
    const filters = { label: [FILE_LABEL, `run=${run}`, `batch=${batch}`], 'label!': ['keep=yes'] };

    // A stopped container that is the only user of an (anonymous-labelled) volume and a network.
    const anonVol = uniqueName('dcctva');
    const namedVol = uniqueName('dcctvn');
    docker('volume', 'create', ...bl, '--label', 'com.docker.volume.anonymous=', anonVol);
    docker('volume', 'create', ...bl, namedVol);
    const stoppedNet = uniqueName('dcctn');
    docker('network', 'create', ...bl, stoppedNet);
    const stopped = uniqueName('dccts');
    docker('create', '--name', stopped, ...bl, '-v', `${anonVol}:/data`, '--network', stoppedNet, IMAGE, 'true');
    // Kept: a running container, its network, a container marked keep, a volume a kept container uses.
    const runningNet = uniqueName('dcctn');
    docker('network', 'create', ...bl, runningNet);
    const keptVol = uniqueName('dcctvk');
    docker('volume', 'create', ...bl, '--label', 'com.docker.volume.anonymous=', keptVol);
    const running = uniqueName('dcctr');
    docker('run', '-d', '--name', running, ...bl, '--network', runningNet, '-v', `${keptVol}:/data`, IMAGE, 'sleep', '300');
    const keep = uniqueName('dcctk');
    docker('create', '--name', keep, ...bl, '--label', 'keep=yes', IMAGE, 'true');
    // A dangling image carrying the labels: commit twice under one tag.
    const repo = `${uniqueName('dcctimg')}:v1`;
    const change = ['--change', `LABEL ${FILE_LABEL}`, '--change', `LABEL run=${run}`, '--change', `LABEL batch=${batch}`];
    const dangling = docker('commit', ...change, stopped, repo);
    const tagged = docker('commit', ...change, '--change', 'LABEL second=1', stopped, repo);

    type Out = Record<'containers' | 'networks' | 'images', { deleted: { id: string | null; name: string | null }[] }> & {
      volumes: { deleted: { name: string }[] } | null;
      build_cache: unknown;
      skipped: { what: string }[];
    };
    // Before API 1.42 a volume prune cannot spare named volumes: volumes: true is refused (the dry run too), as prune_volumes refuses it without all: true.
    const withVolumes = engine.apiVersion !== '1.41';
    if (!withVolumes) {
      for (const dry_run of [true, false]) {
        const refused = await failure(dc.execute('system_prune', { filters, volumes: true, dry_run }));
        expect(refused.code).toBe('INVALID_PARAMS');
        expect(refused.message).toMatch(/^Invalid parameter volumes: .*before 1\.42 a volume prune cannot spare named volumes.*prune_volumes and all: true/);
      }
    }
    const dry = (await dc.execute('system_prune', { filters, volumes: withVolumes, dry_run: true })) as Out;
    const ids = (s: { deleted: { id: string | null }[] }) => s.deleted.map((d) => d.id).sort();
    expect(dry.containers.deleted).toEqual([{ id: docker('inspect', '-f', '{{.Id}}', stopped), name: stopped }]);
    expect(dry.networks.deleted.map((n) => n.name)).toEqual([stoppedNet]);
    // The anonymous volume is freed by removing the stopped container; the named one stays.
    if (withVolumes) expect(dry.volumes!.deleted.map((v) => v.name)).toEqual([anonVol]);
    else expect(dry.volumes).toBeNull();
    expect(ids(dry.images)).toEqual([dangling]);
    expect(dry.build_cache).toBeNull();
    expect(dry.skipped.map((s) => s.what)).toContain('build_cache');
    // Nothing went.
    expect(docker('ps', '-aq', '--filter', `label=batch=${batch}`).split('\n').filter(Boolean)).toHaveLength(3);
    expect(docker('image', 'inspect', '-f', '{{.Id}}', dangling)).toBe(dangling);

    const real = (await dc.execute('system_prune', { filters, volumes: withVolumes })) as Out & { space_reclaimed: number };
    expect(ids(real.containers)).toEqual(ids(dry.containers));
    expect(real.networks.deleted).toEqual(dry.networks.deleted);
    expect(real.volumes?.deleted ?? null).toEqual(dry.volumes?.deleted ?? null);
    expect(ids(real.images)).toEqual(ids(dry.images));
    expect(typeof real.space_reclaimed).toBe('number');

    // Second view: what was listed is gone, the rest is there.
    expect(docker('ps', '-a', '--format', '{{.Names}}', '--filter', `label=batch=${batch}`).split('\n').filter(Boolean).sort()).toEqual([keep, running].sort());
    expect(docker('network', 'ls', '--format', '{{.Name}}', '--filter', `label=batch=${batch}`)).toBe(runningNet);
    expect(spawnSync('docker', ['-H', engine.host, 'image', 'inspect', dangling]).status).not.toBe(0);
    expect(docker('image', 'inspect', '-f', '{{.Id}}', tagged)).toBe(tagged);
    const vols = docker('volume', 'ls', '-q', '--filter', `label=batch=${batch}`).split('\n').filter(Boolean).sort();
    expect(vols).toEqual((withVolumes ? [keptVol, namedVol] : [keptVol, anonVol, namedVol]).sort());

    // all_images: the tagged image no container uses goes too, and only it.
    const dryAll = (await dc.execute('system_prune', { filters, all_images: true, dry_run: true })) as Out;
    expect(ids(dryAll.images)).toEqual([tagged]);
    expect(dryAll.images.deleted[0]!.name).toBe(repo);
    const realAll = (await dc.execute('system_prune', { filters, all_images: true })) as Out;
    expect(ids(realAll.images)).toEqual([tagged]);
    expect(spawnSync('docker', ['-H', engine.host, 'image', 'inspect', tagged]).status).not.toBe(0);
  });

  it('system_prune dry run covers the build cache when asked and no label filter is given', async () => {
    // A dry run changes nothing, so it may look at everything; "until" ten years back selects nothing.
    const dry = (await dc.execute('system_prune', { dry_run: true, build_cache: true, filters: { until: '87600h' } })) as Record<string, unknown>;
    expect(dry).toMatchObject({
      dry_run: true,
      containers: { deleted: [] },
      networks: { deleted: [] },
      volumes: null,
      images: { deleted: [] },
      build_cache: { deleted: [], space_reclaimed: null },
    });
  });
});
