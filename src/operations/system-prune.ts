/**
 * system_prune: every kind of unused object at once (containers, networks,
 * volumes, images, build cache), planned and run with the same prune module
 * as the prune_* operations, so a dry run names what the real call removes.
 * A family of its own (category system): `run ping` and the other system
 * reads then load none of the prune planners.
 */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { defineOperation } from './define.js';
import { firstName, listAllContainers } from './shared/container-lookup.js';
import type { ContainerSummary } from './shared/engine-types.js';
import { dryRunParam, invalidParam } from './shared/params.js';
import { deletedList, dryRunFlag, prunedBuildCache, prunedContainer, prunedNetwork, prunedObject, prunedVolume, skippedPart, spaceReclaimedOrNull } from './shared/schemas/prune.js';
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
  resolvePruneFilters,
  runBuildCachePrune,
  runContainerPrune,
  runImagePrune,
  runNetworkPrune,
  runVolumePrune,
  volumePruneSparesNamed,
  type Named,
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
  skipped: z.array(skippedPart).describe('Kinds left out, and why'),
  space_reclaimed: spaceReclaimedOrNull.describe('Bytes freed in all; null for a dry run'),
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

    // Each step runs on its own; if one fails, say what the earlier ones did.
    const done: Record<string, unknown> = {};
    const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        const out = await fn();
        done[what] = out;
        return out;
      } catch (err) {
        const e = err instanceof ConnectorError ? err : new ConnectorError('ENGINE_ERROR', String(err));
        throw new ConnectorError(e.code, `system_prune failed while pruning ${what}: ${e.message}`, { status: e.status, operation: ctx.operation, details: { ...e.details, completed: done } });
      }
    };
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
});

export const systemPruneOperations = [systemPrune] as const;
