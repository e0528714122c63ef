/**
 * system_prune: every kind of unused object at once (containers, networks,
 * volumes, images, build cache), planned and run with the same prune module
 * as the prune_* operations, so a dry run names what the real call removes.
 * A family of its own (category system): `run ping` and the other system
 * reads then load none of the prune planners.
 */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { defineOperation, type OperationContext } from './define.js';
import { firstName, listAllContainers } from './shared/container-lookup.js';
import type { ContainerSummary } from './shared/engine-types.js';
import { evidenceList } from './shared/evidence-schemas.js';
import { dryRunParam, invalidParam } from './shared/params.js';
import { planIdParam, singleItem } from './shared/plan.js';
import {
  deletedList,
  dryRunFlag,
  planIdField,
  prunedBuildCache,
  prunedContainer,
  prunedNetwork,
  prunedObject,
  prunedVolume,
  skippedItem,
  skippedPart,
  spaceReclaimedOrNull,
} from './shared/schemas/prune.js';
import {
  buildCacheRecords,
  byIdThenName,
  byName,
  containersToPrune,
  imagesToPrune,
  listAllImages,
  planBuildCachePrune,
  planNetworkPrune,
  planVolumePrune,
  pruneFiltersParam,
  removePlannedBuildCache,
  removePlannedContainers,
  removePlannedImages,
  removePlannedNetworks,
  removePlannedVolumes,
  resolvePruneFilters,
  runBuildCachePrune,
  runContainerPrune,
  runImagePrune,
  runNetworkPrune,
  runVolumePrune,
  volumeCreationTimes,
  volumePruneSparesNamed,
  type Named,
  type ResolvedPruneFilters,
} from './shared/prune.js';

const systemPruneParams = z
  .object({
    all_images: z.boolean().default(false).describe('Remove every image no container uses, not only dangling ones (also all unused build cache)'),
    volumes: z
      .boolean()
      .default(false)
      .describe('Also prune anonymous volumes no container refers to (API 1.42+: older APIs cannot spare named volumes, so there it is refused; use prune_volumes with all: true)'),
    build_cache: z
      .boolean()
      .optional()
      .describe('Also prune the build cache (default: yes, unless label filters are given: build cache records carry no labels, so a label filter cannot limit them)'),
    filters: pruneFiltersParam.optional().describe('Applied to every object type: {until, label, "label!"}'),
    dry_run: dryRunParam,
    plan_id: planIdParam,
  })
  .strict()
  .superRefine((p, issue) => {
    const f = p.filters;
    const labelled = f?.label !== undefined || f?.['label!'] !== undefined;
    if (p.build_cache === true && labelled) {
      issue.addIssue({ code: 'custom', path: ['build_cache'], message: 'build cache records carry no labels, so the label filters would not limit what goes; drop build_cache or the label filters' });
    }
    if (p.volumes && f?.until !== undefined) {
      issue.addIssue({ code: 'custom', path: ['filters', 'until'], message: 'volumes cannot be filtered by time; drop until or volumes' });
    }
  });

/** One kind's part of the report: what went and the bytes freed (null for a dry run). */
function section<T extends z.ZodType>(item: T) {
  return z.strictObject({ deleted: deletedList(item), space_reclaimed: spaceReclaimedOrNull });
}

const systemPruneResult = z.strictObject({
  dry_run: dryRunFlag,
  containers: section(prunedContainer).describe('Stopped containers'),
  networks: z.strictObject({ deleted: deletedList(prunedNetwork) }).describe('Networks no running container uses'),
  volumes: section(prunedVolume).nullable().describe('Anonymous volumes no container refers to; null unless volumes: true'),
  images: section(prunedObject).describe('Images ({id, name: first tag or null})'),
  build_cache: section(prunedBuildCache).nullable().describe('Build cache records; null when left out or the Engine reports no build cache'),
  skipped: z
    .array(z.union([skippedPart, skippedItem]))
    .describe('Kinds left out, and why ({what, reason}); with plan_id also the planned objects left alone ({what, id, name, reason})'),
  space_reclaimed: spaceReclaimedOrNull.describe('Bytes freed in all; null for a dry run'),
  plan_id: planIdField,
  evidence: evidenceList,
});

type Section<T> = { deleted: T[]; space_reclaimed: number | null };

const volumeNames = (c: ContainerSummary) => (c.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name!);

export const systemPrune = defineOperation({
  name: 'system_prune',
  category: 'system',
  title: 'Remove unused data',
  description:
    'Prunes, in this order, stopped containers, networks no running container uses, anonymous volumes no container refers to (only with volumes: true, and only on API 1.42+), unused images (dangling only unless all_images) and the build cache (where the Engine has one). The filters apply to each type. `dry_run` names everything that would go, counting what the earlier steps free (a volume or image used only by a container that goes is listed too). Image planning follows the classic image store; build cache planning is an estimate (removing a record can free its parents).',
  params: systemPruneParams,
  safety: 'destructive',
  idempotent: true,
  result:
    '{dry_run, containers: {deleted: [{id, name}], space_reclaimed}, networks: {deleted: [{id, name}]}, volumes: {deleted: [{name}], space_reclaimed} | null, images: {deleted: [{id, name}], space_reclaimed}, build_cache: {deleted: [{id, name}], space_reclaimed} | null, skipped: [{what, reason}], space_reclaimed} (space is null for a dry run)',
  resultSchema: systemPruneResult,
  async run(ctx, p) {
    const { f, withBuildCache, skipped } = prepare(ctx, p);

    const containers = await listAllContainers(ctx);
    const images = await listAllImages(ctx);
    const cache = withBuildCache ? await buildCacheRecords(ctx) : undefined;
    if (withBuildCache && cache === undefined) skipped.push({ what: 'build_cache', reason: 'this Engine reports no build cache' });

    if (p.dry_run) {
      const goneContainers = await containersToPrune(ctx, containers, f);
      const gone = new Set(goneContainers.map((c) => c.Id));
      const kept = containers.filter((c) => !gone.has(c.Id));
      const networks = await planNetworkPrune(ctx, f);
      let volumes: Section<{ name: string }> | null = null;
      if (p.volumes) {
        const keptVolumes = new Set(kept.flatMap(volumeNames));
        const freed = new Set(goneContainers.flatMap(volumeNames).filter((v) => !keptVolumes.has(v)));
        volumes = { deleted: await planVolumePrune(ctx, f, { all: false, freed }), space_reclaimed: null };
      }
      const used = new Set(kept.map((c) => c.ImageID ?? ''));
      return {
        dry_run: true,
        containers: { deleted: goneContainers.map((c) => ({ id: c.Id, name: firstName(c.Names) ?? '' })).sort(byIdThenName), space_reclaimed: null },
        networks: { deleted: networks.candidates.sort(byName) },
        volumes,
        images: { deleted: await imagesToPrune(ctx, images, used, !p.all_images, f), space_reclaimed: null },
        build_cache: cache ? { deleted: planBuildCachePrune(cache, p.all_images, f.until), space_reclaimed: null } : null,
        skipped,
        space_reclaimed: null,
      };
    }

    const step = stepper(ctx);
    const containersOut = await step('containers', async () => {
      const res = await runContainerPrune(ctx, f);
      const names = new Map(containers.map((c) => [c.Id, firstName(c.Names) ?? '']));
      return { deleted: res.ids.map((id): Named => ({ id, name: names.get(id) ?? null })).sort(byIdThenName), space_reclaimed: res.space_reclaimed };
    });
    const networksOut = await step('networks', async () => {
      const known = (await ctx.json<{ Id: string; Name: string }[]>({ method: 'GET', path: '/networks' })).body ?? [];
      return { deleted: await runNetworkPrune(ctx, f, known) };
    });
    const volumesOut = p.volumes ? await step('volumes', () => runVolumePrune(ctx, f, false)) : null;
    const imagesOut = await step('images', async () => {
      const res = await runImagePrune(ctx, f, !p.all_images, images);
      return { deleted: res.deleted.map((d): Named => ({ id: d.id, name: d.name })).sort(byIdThenName), space_reclaimed: res.space_reclaimed };
    });
    const cacheOut = cache ? await step('build_cache', () => runBuildCachePrune(ctx, cache, p.all_images, f.until)) : null;
    const sections = [containersOut, volumesOut, imagesOut, cacheOut];
    return {
      dry_run: false,
      containers: containersOut,
      networks: networksOut,
      volumes: volumesOut,
      images: imagesOut,
      build_cache: cacheOut,
      skipped,
      space_reclaimed: sections.reduce((sum, s) => sum + (s?.space_reclaimed ?? 0), 0),
    };
  },
  plan: {
    async items(ctx, _p, r) {
      const volumes = r.volumes?.deleted ?? [];
      const created = volumes.length ? await volumeCreationTimes(ctx) : new Map<string, string>();
      return [
        ...r.containers.deleted.map((c) => ({ what: 'container', id: c.id, name: c.name })),
        ...r.networks.deleted.flatMap((n) => singleItem('network', n.id, n.name)),
        ...volumes.flatMap((v) => singleItem('volume', v.name, v.name, created.get(v.name))),
        ...r.images.deleted.map((i) => ({ what: 'image', id: i.id, name: i.name })),
        ...(r.build_cache?.deleted ?? []).map((b) => ({ what: 'build_cache', id: b.id, name: b.name })),
      ];
    },
    // The planned objects one by one, in the prune's order: what a removed container freed is then unused when the later kinds are planned again.
    async run(ctx, p, items) {
      const { f, withBuildCache, skipped } = prepare(ctx, p);
      const step = stepper(ctx);
      const containers = await step('containers', () => removePlannedContainers(ctx, items, f));
      const networks = await step('networks', () => removePlannedNetworks(ctx, items, f));
      const volumes = p.volumes ? await step('volumes', () => removePlannedVolumes(ctx, items, f, { all: false })) : null;
      const images = await step('images', () => removePlannedImages(ctx, items, !p.all_images, f));
      const cache = withBuildCache ? await step('build_cache', () => removePlannedBuildCache(ctx, items, p.all_images, f.until)) : null;
      if (withBuildCache && items.some((i) => i.what === 'build_cache') && !cache) skipped.push({ what: 'build_cache', reason: 'this Engine reports no build cache' });
      const section = <T>(s: { deleted: T[]; space_reclaimed: number | null }) => ({ deleted: s.deleted, space_reclaimed: s.space_reclaimed });
      const parts = [containers, volumes, images, cache];
      return {
        dry_run: false,
        containers: section(containers),
        networks: { deleted: networks.deleted },
        volumes: volumes && section(volumes),
        images: section({ deleted: images.deleted.map((d): Named => ({ id: d.id, name: d.name })), space_reclaimed: images.space_reclaimed }),
        build_cache: cache && section(cache),
        skipped: [...skipped, ...[containers, networks, volumes, images, cache].flatMap((s) => s?.skipped ?? [])],
        space_reclaimed: parts.some((s) => s && s.space_reclaimed === null) ? null : parts.reduce((sum, s) => sum + (s?.space_reclaimed ?? 0), 0),
      };
    },
  },
});

/** What the real call, the dry run and the plan-bound call share: the refusal, the filters, and the kinds left out. */
function prepare(ctx: OperationContext, p: z.output<typeof systemPruneParams>): { f: ResolvedPruneFilters; withBuildCache: boolean; skipped: { what: string; reason: string }[] } {
  // As prune_volumes: a prune never removes more than it was asked to, and before API 1.42 it cannot spare named volumes.
  if (p.volumes && !volumePruneSparesNamed(ctx)) {
    throw invalidParam(
      ctx,
      'volumes',
      `this Engine speaks API ${ctx.apiVersion}, and before 1.42 a volume prune cannot spare named volumes; prune volumes with prune_volumes and all: true (named and anonymous alike)`,
    );
  }
  const f = resolvePruneFilters(p.filters);
  const labelled = f.label.length > 0 || f.labelNot.length > 0;
  const withBuildCache = p.build_cache ?? !labelled;
  const skipped: { what: string; reason: string }[] = [];
  if (!p.volumes) skipped.push({ what: 'volumes', reason: 'not requested (volumes: true)' });
  if (!withBuildCache) skipped.push({ what: 'build_cache', reason: labelled ? 'label filters cannot select build cache records' : 'not requested' });
  return { f, withBuildCache, skipped };
}

/** Each step runs on its own; if one fails, the error says what the earlier ones did. */
function stepper(ctx: OperationContext) {
  const done: Record<string, unknown> = {};
  return async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      const out = await fn();
      done[what] = out;
      return out;
    } catch (err) {
      const e = err instanceof ConnectorError ? err : new ConnectorError('ENGINE_ERROR', String(err));
      throw new ConnectorError(e.code, `system_prune failed while pruning ${what}: ${e.message}`, { status: e.status, operation: ctx.operation, details: { ...e.details, completed: done } });
    }
  };
}

export const systemPruneOperations = [systemPrune] as const;
