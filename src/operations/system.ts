import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { toStreamError } from '../engine/json-stream.js';
import { readLines } from '../engine/line-reader.js';
import { normalizeFilters } from '../engine/path.js';
import { defineOperation } from './define.js';
import { firstName, listAllContainers } from './shared/container-lookup.js';
import type { ContainerSummary } from './shared/engine-types.js';
import { dryRunParam, engineFilters, invalidParam, oneOrMany, timePointParam, toUnixSeconds } from './shared/params.js';
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
import { slowCallTimeoutMs } from './shared/timeouts.js';

/** GET /events filters. */
const eventFilters = engineFilters({
  type: oneOrMany(z.enum(['container', 'image', 'volume', 'network', 'daemon', 'plugin', 'node', 'service', 'secret', 'config', 'builder'])).describe('Object type'),
  event: oneOrMany(z.string()).describe('Event action, e.g. "start", "die"'),
  container: oneOrMany(z.string()).describe('Container id or name'),
  image: oneOrMany(z.string()).describe('Image reference or id'),
  label: oneOrMany(z.string()).describe('"key" or "key=value"'),
  network: oneOrMany(z.string()).describe('Network id or name'),
  volume: oneOrMany(z.string()).describe('Volume name'),
  daemon: oneOrMany(z.string()).describe('Engine id or name'),
  plugin: oneOrMany(z.string()).describe('Plugin id or name'),
  scope: oneOrMany(z.enum(['local', 'swarm'])).describe('Event scope'),
});

const noParams = z.object({}).strict();

export const ping = defineOperation({
  name: 'ping',
  category: 'system',
  title: 'Ping the Engine',
  description: 'Checks that the Engine answers. Reports its newest API version and OS type.',
  params: noParams,
  safety: 'read',
  idempotent: true,
  result: '{ok: true, api_version, engine_api_version, os_type, experimental, builder_version}',
  async run(ctx) {
    const info = await ctx.ping();
    return {
      ok: true as const,
      api_version: ctx.apiVersion,
      engine_api_version: info.apiVersion ?? null,
      os_type: info.osType ?? null,
      experimental: info.experimental,
      builder_version: info.builderVersion ?? null,
    };
  },
});

export const getVersion = defineOperation({
  name: 'get_version',
  category: 'system',
  title: 'Engine version',
  description: 'The Engine version, API version range, Go version, OS, architecture and components (GET /version).',
  params: noParams,
  safety: 'read',
  idempotent: true,
  result: "The Engine's version object: Version, ApiVersion, MinAPIVersion, Os, Arch, KernelVersion, Components …",
  async run(ctx) {
    const res = await ctx.json<Record<string, unknown>>({ method: 'GET', path: '/version' });
    return res.body;
  },
});

export const getInfo = defineOperation({
  name: 'get_info',
  category: 'system',
  title: 'Engine information',
  description: 'System-wide information: containers and images counts, storage driver, plugins, security options, resources (GET /info).',
  params: noParams,
  safety: 'read',
  idempotent: true,
  result: "The Engine's info object (ID, Containers, Images, Driver, MemTotal, NCPU, ServerVersion, …)",
  async run(ctx) {
    const res = await ctx.json<Record<string, unknown>>({ method: 'GET', path: '/info' });
    return res.body;
  },
});

export const systemDf = defineOperation({
  name: 'system_df',
  category: 'system',
  title: 'Disk usage',
  description: 'Disk space used by images, containers, volumes and build cache (GET /system/df). The shape follows the API version in use.',
  params: z
    .object({
      types: z
        .array(z.enum(['container', 'image', 'volume', 'build-cache']))
        .optional()
        .describe('Only these object types (API 1.42+; ignored on older Engines)'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: '{LayersSize, Images, Containers, Volumes, BuildCache} as the Engine reports them',
  async run(ctx, params) {
    const query = params.types && ctx.atLeast('1.42') ? { type: params.types } : undefined;
    const res = await ctx.json<Record<string, unknown>>({ method: 'GET', path: '/system/df', query, timeoutMs: slowCallTimeoutMs(ctx, 120) });
    return res.body;
  },
});

const MAX_EVENTS_DEFAULT = 1000;

/** Longest a snapshot waits for a future `until` (seconds). */
const MAX_WAIT_AHEAD = 300;

export const systemEvents = defineOperation({
  name: 'system_events',
  category: 'system',
  title: 'Engine events (snapshot)',
  description:
    'Events between `since` and `until` (default: the last 10 minutes up to now). Always returns: a future `until` waits at most until then, and the snapshot stops at `max_events`.',
  params: z
    .object({
      since: timePointParam.optional().describe('Start: "10m" (ten minutes ago), unix seconds or RFC 3339; default 10m'),
      until: timePointParam.optional().describe('End: same forms; default now. A future time waits until then, at most 300 s: a later one is capped (the result\'s `until` says where the snapshot ends). A `since` after `until` gives no events.'),
      filters: eventFilters.optional().describe('Event filters: type, event, container, image, label, network, volume, daemon, scope'),
      max_events: z.number().int().min(1).max(100_000).default(MAX_EVENTS_DEFAULT).describe('Stop after this many events'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  streaming: true,
  result: '{events: [...the Engine\'s event objects], count, truncated, since, until} (times in unix seconds)',
  async run(ctx, params) {
    const now = Date.now();
    // Neither rule below can be stated in the published schema (they relate two times, or a time and now),
    // so neither refuses the call: a later `until` is capped (the result says where the snapshot ends),
    // and an empty window has no events.
    const until = Math.min(params.until === undefined ? now / 1000 : toUnixSeconds(params.until, now)!, now / 1000 + MAX_WAIT_AHEAD);
    const since = params.since === undefined ? until - 600 : toUnixSeconds(params.since, now)!;
    if (since > until) return { events: [], count: 0, truncated: false, since, until };
    const ahead = until - now / 1000;
    const res = await ctx.stream({
      method: 'GET',
      path: '/events',
      query: { since: since.toFixed(9), until: until.toFixed(9), filters: normalizeFilters(params.filters) },
      // The Engine closes the stream at `until`; allow that long plus a margin of silence.
      idleTimeoutMs: (Math.max(0, ahead) + ctx.config.timeout) * 1000,
    });
    const events: unknown[] = [];
    let truncated = false;
    try {
      // The engine's line reader: one line splitter, with its line cap, for every newline-delimited stream.
      for await (const raw of readLines(res.body, { operation: ctx.operation })) {
        const line = raw.trim();
        if (!line) continue;
        events.push(JSON.parse(line));
        if (events.length >= params.max_events) {
          truncated = true;
          break;
        }
      }
    } catch (err) {
      throw toStreamError(err, ctx.operation);
    } finally {
      res.body.destroy();
    }
    return { events, count: events.length, truncated, since, until };
  },
});

export interface HealthResult {
  reachable: boolean;
  endpoint: string | null;
  api_version: string | null;
  engine_api_version: string | null;
  engine_version: string | null;
  latency_ms: number | null;
  error?: { code: string; message: string };
}

export const health = defineOperation({
  name: 'health',
  category: 'system',
  title: 'Connector health',
  description: 'Whether the Engine is reachable, the API version in use, the Engine version and the round-trip latency. Never changes anything and never fails: an unreachable Engine is reported in the result.',
  params: noParams,
  safety: 'read',
  idempotent: true,
  result: '{reachable, endpoint, api_version, engine_api_version, engine_version, latency_ms, error?}',
  async run(ctx) {
    // The connector calls this with a context whose version may be unknown; see Connector.health().
    const started = performance.now();
    const info = await ctx.ping();
    const latency = performance.now() - started;
    const version = await ctx.json<{ Version?: string }>({ method: 'GET', path: '/version' });
    return {
      reachable: true,
      endpoint: ctx.endpoint.address,
      api_version: ctx.apiVersion,
      engine_api_version: info.apiVersion ?? null,
      engine_version: version.body?.Version ?? null,
      latency_ms: Math.round(latency * 100) / 100,
    } as HealthResult;
  },
  resultOnError(err) {
    return { reachable: false, endpoint: null, api_version: null, engine_api_version: null, engine_version: null, latency_ms: null, error: { code: err.code, message: err.message } };
  },
});

/* ---------------- system_prune ---------------- */

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

export interface Section<T> {
  deleted: T[];
  space_reclaimed: number | null;
}

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

export const systemOperations = [ping, getVersion, getInfo, systemDf, systemEvents, health, systemPrune] as const;
