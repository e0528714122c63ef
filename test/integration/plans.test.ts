import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { failure } from '../support/expect-error.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';

/**
 * Plan-bound destructive calls (issue 16 §3), on both Engines: the real call
 * given a dry run's plan_id acts on what that dry run named and nothing
 * else. Objects made after the dry run stay; planned objects removed and
 * re-created under the same name are skipped. Every object carries this
 * file's label and a batch label, and every prune filters on both.
 */
const FILE_LABEL = `${TEST_LABEL}=plans`;
const IMAGE = harness().image;
const PLAN_ID = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/;
const state = mkdtempSync(path.join(tmpdir(), 'dc-plans-it-'));
const plansDir = path.join(state, 'docker-connector', 'plans');
afterAll(() => rmSync(state, { recursive: true, force: true }));

describe.each(engines())('plan-bound calls on Engine $name (API $apiVersion)', (engine: HarnessEngine) => {
  // The library and the CLI below share one plans folder, as consecutive commands of one user do.
  const dc = connectorFor(engine, { plans_dir: plansDir });
  const cli = (...args: string[]) => docker(engine, args).trim();
  const exists = (...args: string[]) => {
    try {
      docker(engine, args);
      return true;
    } catch {
      return false;
    }
  };
  const run = uniqueName('run');
  const images: string[] = [];
  const batchOf = () => {
    const batch = uniqueName('b');
    return { batch, labels: ['--label', FILE_LABEL, '--label', `run=${run}`, '--label', `batch=${batch}`], filters: { label: [FILE_LABEL, `batch=${batch}`] } };
  };
  const cliRun = (op: string, params: object) =>
    runCli(['run', op, '--host', engine.host, '--params', JSON.stringify(params)], { DOCKER_CONNECTOR_RATE_LIMIT: '0', XDG_STATE_HOME: state }, 120_000);
  /** A stopped container that wrote `bytes` into its own layer. */
  const stopped = (labels: string[], bytes = 0, name?: string) => {
    const id = cli('run', '-d', ...(name ? ['--name', name] : []), ...labels, IMAGE, 'sh', '-c', bytes ? `head -c ${bytes} /dev/zero > /filler` : 'true');
    cli('wait', id);
    return id;
  };

  afterAll(() => {
    const mine = ['--filter', `label=run=${run}`];
    const list = (...args: string[]) => cli(...args).split('\n').filter(Boolean);
    for (const id of list('ps', '-aq', ...mine)) exists('rm', '-f', id);
    for (const id of [...images].reverse()) exists('rmi', '-f', id);
    for (const id of list('network', 'ls', '-q', ...mine)) exists('network', 'rm', id);
    for (const id of list('volume', 'ls', '-q', ...mine)) exists('volume', 'rm', '-f', id);
  });

  it('prune_containers with plan_id leaves a container created after the dry run, and skips one re-created under a planned name', async () => {
    const { batch, labels, filters } = batchOf();
    const name = uniqueName('dcplan');
    const recreatedOld = stopped(labels, 0, name);
    const planned = stopped(labels, 200_000);
    const dry = await dc.execute('prune_containers', { filters, dry_run: true });
    expect(dry.plan_id).toMatch(PLAN_ID);
    expect(dry.deleted.map((d) => d.id).sort()).toEqual([recreatedOld, planned].sort());

    // After the review: one planned container is replaced under its name, and a new one appears.
    cli('rm', recreatedOld);
    const recreated = stopped(labels, 0, name);
    const later = stopped(labels);
    // Without the plan, both would go: the Engine's prune takes whatever matches by then.
    expect((await dc.execute('prune_containers', { filters, dry_run: true })).deleted.map((d) => d.id).sort()).toEqual([planned, recreated, later].sort());

    const real = await dc.execute('prune_containers', { filters, plan_id: dry.plan_id });
    expect(real).toEqual({
      deleted: [{ id: planned, name: expect.any(String) }],
      space_reclaimed: expect.any(Number),
      dry_run: false,
      skipped: [{ what: 'container', id: recreatedOld, name, reason: expect.stringMatching(/no longer exists/) }],
    });
    // Space as the Engine's prune counts it: the container's own layer.
    expect(real.space_reclaimed).toBeGreaterThanOrEqual(200_000);
    const left = cli('ps', '-aq', '--no-trunc', '--filter', `label=batch=${batch}`).split('\n').filter(Boolean).sort();
    expect(left).toEqual([recreated, later].sort());
  });

  it('a running container the plan named is skipped, not killed', async () => {
    const { labels, filters } = batchOf();
    const c = cli('create', ...labels, IMAGE, 'sleep', '300');
    const dry = await dc.execute('prune_containers', { filters, dry_run: true });
    expect(dry.deleted.map((d) => d.id)).toEqual([c]);
    cli('start', c);
    const real = await dc.execute('prune_containers', { filters, plan_id: dry.plan_id });
    expect(real.deleted).toEqual([]);
    expect(real.skipped).toEqual([{ what: 'container', id: c, name: expect.any(String), reason: expect.stringMatching(/running/) }]);
    expect(cli('inspect', '-f', '{{.State.Running}}', c)).toBe('true');
  });

  it('a plan made by one CLI command is used by the next; the plan is then used up', async () => {
    const { batch, labels, filters } = batchOf();
    const planned = stopped(labels);
    const dry = await cliRun('prune_containers', { filters, dry_run: true });
    expect(dry.code, dry.stderr).toBe(0);
    const planId = (JSON.parse(dry.stdout) as { plan_id: string }).plan_id;
    expect(planId).toMatch(PLAN_ID);
    const later = stopped(labels);

    const real = await cliRun('prune_containers', { filters, plan_id: planId });
    expect(real.code, real.stderr).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ deleted: [{ id: planned }], dry_run: false, skipped: [] });
    expect(cli('ps', '-aq', '--no-trunc', '--filter', `label=batch=${batch}`)).toBe(later);

    const again = await cliRun('prune_containers', { filters, plan_id: planId });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/INVALID_PARAMS/);
    expect(again.stderr).toMatch(/plan_id/);
  });

  it('an expired, wrong, altered or foreign plan_id is INVALID_PARAMS naming plan_id (CLI exit 2), and nothing is removed', async () => {
    const { batch, labels, filters } = batchOf();
    const c = stopped(labels);
    const make = async () => {
      const r = await cliRun('prune_containers', { filters, dry_run: true });
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { plan_id: string }).plan_id;
    };
    const refused = async (op: string, params: object, why: RegExp) => {
      const r = await cliRun(op, params);
      expect(r.code, r.stdout).toBe(2);
      const error = (JSON.parse(r.stderr) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('INVALID_PARAMS');
      expect(error.message).toMatch(/plan_id/);
      expect(error.message).toMatch(why);
    };
    const fileOf = (planId: string) => path.join(plansDir, `${planId.split('.')[0]}.json`);

    // Expired: the stored plan's time is up.
    const expired = await make();
    const stored = JSON.parse(readFileSync(fileOf(expired), 'utf8')) as { expires_at: number; value: string };
    writeFileSync(fileOf(expired), JSON.stringify({ ...stored, expires_at: Date.now() - 1 }));
    await refused('prune_containers', { filters, plan_id: expired }, /expired/);
    // Wrong: no such plan; and not a plan id at all.
    await refused('prune_containers', { filters, plan_id: `${'A'.repeat(22)}.${'B'.repeat(22)}` }, /no such plan/);
    await refused('prune_containers', { filters, plan_id: 'nope' }, /dry run/);
    // Altered: the stored items changed.
    const altered = await make();
    const text = JSON.parse(readFileSync(fileOf(altered), 'utf8')) as { expires_at: number; value: string };
    writeFileSync(fileOf(altered), JSON.stringify({ ...text, value: text.value.replace(c, c.replace(/^./, (x) => (x === 'a' ? 'b' : 'a'))) }));
    await refused('prune_containers', { filters, plan_id: altered }, /altered/);
    // Foreign: another operation, other parameters, another Engine.
    const planId = await make();
    await refused('prune_networks', { filters, plan_id: planId }, /made by prune_containers/);
    await refused('prune_containers', { filters: { label: [FILE_LABEL] }, plan_id: planId }, /other parameters/);
    // The other Engine of the harness, also when this run is limited to one (DC_ENGINES).
    const other = harness().engines.find((e) => e.name !== engine.name)!;
    const foreign = await runCli(['run', 'prune_containers', '--host', other.host, '--params', JSON.stringify({ filters, plan_id: planId })], { XDG_STATE_HOME: state });
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/another Engine endpoint/);
    // A dry run does not take a plan.
    await refused('prune_containers', { filters, plan_id: planId, dry_run: true }, /dry_run/);

    expect(cli('ps', '-aq', '--no-trunc', '--filter', `label=batch=${batch}`)).toBe(c);
    // The plan refused for its parameters is still good for the call it was made for.
    expect(await dc.execute('prune_containers', { filters, plan_id: planId })).toMatchObject({ deleted: [{ id: c }], skipped: [] });
  });

  it('remove_container and remove_image with plan_id skip a name that now points at another object', async () => {
    const { labels } = batchOf();
    const name = uniqueName('dcplan');
    const first = cli('create', '--name', name, ...labels, IMAGE, 'true');
    const dry = await dc.execute('remove_container', { container: name, dry_run: true });
    expect(dry).toMatchObject({ id: first, would_remove: true, plan_id: expect.stringMatching(PLAN_ID) });
    cli('rm', first);
    const second = cli('create', '--name', name, ...labels, IMAGE, 'true');
    const real = await dc.execute('remove_container', { container: name, plan_id: dry.plan_id });
    expect(real).toEqual({ container: name, changed: false, dry_run: false, skipped: [{ what: 'container', id: first, name, reason: expect.stringMatching(/another object/) }] });
    expect(cli('inspect', '-f', '{{.Id}}', name)).toBe(second);
    // Still the planned one: removed by its id.
    const dry2 = await dc.execute('remove_container', { container: name, dry_run: true });
    expect(await dc.execute('remove_container', { container: name, plan_id: dry2.plan_id })).toEqual({ container: name, changed: true, dry_run: false, skipped: [] });
    expect(exists('inspect', second)).toBe(false);

    // An image tag moved to another image after the dry run.
    const repo = `dcplan-${run}`;
    const img = (bytes: number) => {
      const c = stopped(labels, bytes);
      const id = cli('commit', '--change', `LABEL run=${run}`, c);
      images.push(id);
      return id;
    };
    const a = img(1000);
    const b = img(2000);
    cli('tag', a, `${repo}:x`);
    const dryImg = await dc.execute('remove_image', { image: `${repo}:x`, dry_run: true });
    expect(dryImg).toMatchObject({ dry_run: true, id: a, plan_id: expect.stringMatching(PLAN_ID) });
    cli('tag', b, `${repo}:x`);
    const realImg = await dc.execute('remove_image', { image: `${repo}:x`, plan_id: dryImg.dry_run ? dryImg.plan_id : undefined });
    expect(realImg).toEqual({ dry_run: false, untagged: [], deleted: [], skipped: [{ what: 'image', id: a, name: `${repo}:x`, reason: expect.stringMatching(/another object/) }] });
    expect(cli('image', 'inspect', '-f', '{{.Id}}', `${repo}:x`)).toBe(b);
  });

  it('prune_images, prune_networks and prune_volumes with plan_id act on the planned objects only, reporting space as the prunes do', async () => {
    const { batch, labels, filters } = batchOf();
    // Images: dangling commits carrying the batch label.
    const commit = (bytes: number) => {
      const c = stopped(labels, bytes);
      const id = cli('commit', '--change', `LABEL ${FILE_LABEL}`, '--change', `LABEL run=${run}`, '--change', `LABEL batch=${batch}`, c);
      images.push(id);
      cli('rm', c);
      return id;
    };
    const plannedImage = commit(300_000);
    const dryImages = await dc.execute('prune_images', { filters, dry_run: true });
    expect(dryImages.deleted.map((d) => d.id)).toEqual([plannedImage]);
    const laterImage = commit(1000);
    const realImages = await dc.execute('prune_images', { filters, plan_id: dryImages.plan_id });
    expect(realImages).toEqual({ deleted: [{ id: plannedImage, tags: [] }], space_reclaimed: expect.any(Number), dry_run: false, skipped: [] });
    expect(realImages.space_reclaimed).toBeGreaterThanOrEqual(300_000);
    expect(exists('image', 'inspect', plannedImage)).toBe(false);
    expect(exists('image', 'inspect', laterImage)).toBe(true);

    // Networks.
    const net = (n: string) => cli('network', 'create', ...labels, n);
    const plannedNet = net(uniqueName('dcpn'));
    const dryNets = await dc.execute('prune_networks', { filters, dry_run: true });
    expect(dryNets.deleted.map((d) => d.id)).toEqual([plannedNet]);
    const laterNet = net(uniqueName('dcpn'));
    const realNets = await dc.execute('prune_networks', { filters, plan_id: dryNets.plan_id });
    expect(realNets).toEqual({ deleted: dryNets.deleted, dry_run: false, skipped: [] });
    expect(exists('network', 'inspect', plannedNet)).toBe(false);
    expect(exists('network', 'inspect', laterNet)).toBe(true);

    // Volumes (all: true, which API 1.41 needs): one filled, one re-created under its name after the dry run, one new.
    const filled = uniqueName('dcpv');
    const replaced = uniqueName('dcpv');
    for (const v of [filled, replaced]) cli('volume', 'create', ...labels, v);
    cli('run', '--rm', '-v', `${filled}:/d`, IMAGE, 'sh', '-c', 'head -c 150000 /dev/zero > /d/f');
    const dryVols = await dc.execute('prune_volumes', { filters, all: true, dry_run: true });
    expect(dryVols.deleted).toEqual([filled, replaced].sort().map((name) => ({ name })));
    cli('volume', 'rm', replaced);
    // Creation times have whole seconds on some Engines: let the clock move on.
    await new Promise((r) => setTimeout(r, 1100));
    cli('volume', 'create', ...labels, replaced);
    const laterVol = cli('volume', 'create', ...labels, uniqueName('dcpv'));
    const realVols = await dc.execute('prune_volumes', { filters, all: true, plan_id: dryVols.plan_id });
    expect(realVols).toEqual({
      deleted: [{ name: filled }],
      space_reclaimed: expect.any(Number),
      dry_run: false,
      skipped: [{ what: 'volume', id: replaced, name: replaced, reason: expect.stringMatching(/re-created/) }],
    });
    expect(realVols.space_reclaimed).toBeGreaterThanOrEqual(150_000);
    expect(exists('volume', 'inspect', replaced)).toBe(true);
    expect(exists('volume', 'inspect', laterVol)).toBe(true);
  });

  it('system_prune with plan_id removes the planned containers and networks, not those made after the dry run', async () => {
    const { batch, labels, filters } = batchOf();
    const c1 = stopped(labels, 100_000);
    const n1 = cli('network', 'create', ...labels, uniqueName('dcps'));
    const dry = await dc.execute('system_prune', { filters, dry_run: true });
    expect(dry.containers.deleted.map((d) => d.id)).toEqual([c1]);
    expect(dry.networks.deleted.map((d) => d.id)).toEqual([n1]);
    expect(dry.plan_id).toMatch(PLAN_ID);
    const c2 = stopped(labels);
    const n2 = cli('network', 'create', ...labels, uniqueName('dcps'));

    const real = await dc.execute('system_prune', { filters, plan_id: dry.plan_id });
    expect(real).toEqual({
      dry_run: false,
      containers: { deleted: dry.containers.deleted, space_reclaimed: expect.any(Number) },
      networks: { deleted: dry.networks.deleted },
      volumes: null,
      images: { deleted: [], space_reclaimed: 0 },
      build_cache: null,
      skipped: dry.skipped,
      space_reclaimed: expect.any(Number),
    });
    expect(real.containers.space_reclaimed).toBeGreaterThanOrEqual(100_000);
    expect(real.space_reclaimed).toBe(real.containers.space_reclaimed);
    expect(cli('ps', '-aq', '--no-trunc', '--filter', `label=batch=${batch}`)).toBe(c2);
    expect(exists('network', 'inspect', n1)).toBe(false);
    expect(exists('network', 'inspect', n2)).toBe(true);
  });

  it('remove_network and remove_volume with plan_id act on the planned object', async () => {
    const { labels } = batchOf();
    const name = uniqueName('dcpn');
    const first = cli('network', 'create', ...labels, name);
    const dry = await dc.execute('remove_network', { network: name, dry_run: true });
    cli('network', 'rm', first);
    const second = cli('network', 'create', ...labels, name);
    expect(await dc.execute('remove_network', { network: name, plan_id: dry.plan_id })).toEqual({
      deleted: [],
      dry_run: false,
      skipped: [{ what: 'network', id: first, name, reason: expect.stringMatching(/another object/) }],
    });
    expect(cli('network', 'inspect', '-f', '{{.Id}}', name)).toBe(second);

    const vol = cli('volume', 'create', ...labels, uniqueName('dcpv'));
    const dryVol = await dc.execute('remove_volume', { volume: vol, dry_run: true });
    expect(await dc.execute('remove_volume', { volume: vol, plan_id: dryVol.plan_id })).toEqual({ deleted: [{ name: vol }], dry_run: false, skipped: [] });
    expect(exists('volume', 'inspect', vol)).toBe(false);
    const err = await failure(dc.execute('remove_volume', { volume: vol, plan_id: dryVol.plan_id }));
    expect(err.code).toBe('INVALID_PARAMS');
  });
});
