/**
 * Prunes, as one concept: one filter schema, one label matcher, one `until`
 * rule and one planner per kind (containers, images, networks, volumes,
 * build cache), shared by the prune_* operations, system_prune and their dry
 * runs. A planner says what the Engine's prune removes, decided the way the
 * Engine decides it (moby: daemon/prune.go for containers and networks,
 * daemon/images/image_prune.go for images, the volume service for volumes),
 * so a dry run names exactly what the real call then removes.
 */
import * as z from 'zod';
import { ConnectorError } from '../../errors.js';
import { enginePath } from '../../engine/path.js';
import type { OperationContext } from '../define.js';
import type { BuildCacheRecord, ContainerSummary, ImageDeleteItem, ImageSummary, NetworkSummary, VolumeSummary } from './engine-types.js';
import { realRefs } from './image-refs.js';
import { inspectNetwork, PREDEFINED_NETWORKS } from './network-lookup.js';
import { timePointParam, toUnixSeconds } from './params.js';
import { slowCallTimeoutMs } from './timeouts.js';

/* ---------------- filters ---------------- */

const labelEntry = z.string().regex(/^[^=]+(=[\s\S]*)?$/, 'expected "key" or "key=value"');
const labelList = z.union([labelEntry, z.array(labelEntry)]);

/**
 * The filters every prune takes. The Engine's semantics: an object is pruned
 * when it carries every `label` entry, and is kept when it carries every
 * `label!` entry (one missing `label!` label is enough to prune it).
 */
export const pruneFiltersParam = z
  .object({
    label: labelList.optional().describe('Only objects carrying all of these labels: "key" or "key=value"'),
    'label!': labelList.optional().describe('Keep objects carrying all of these labels: "key" or "key=value"'),
    until: timePointParam.optional().describe('Only objects created at or before this time: "24h" (a day ago), unix seconds or RFC 3339'),
  })
  .strict();
export type PruneFilters = z.output<typeof pruneFiltersParam>;

/** Volumes: the same filters without `until` (the Engine's volume prune has none). */
export const volumePruneFiltersParam = pruneFiltersParam.omit({ until: true });

/** Prune filters resolved once, so a dry run and the real prune use the same cut-off time. */
export interface ResolvedPruneFilters {
  label: string[];
  labelNot: string[];
  /** Unix seconds, or undefined for no time limit. */
  until: number | undefined;
}

export function resolvePruneFilters(filters: Partial<PruneFilters> | undefined, now: number = Date.now()): ResolvedPruneFilters {
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  return {
    label: list(filters?.label),
    labelNot: list(filters?.['label!']),
    until: filters?.until === undefined ? undefined : toUnixSeconds(filters.until, now),
  };
}

/** The filters as the Engine's prune endpoints take them (until as absolute unix seconds, to the nanosecond). */
export function enginePruneFilters(f: ResolvedPruneFilters, withUntil = true): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (f.label.length) out.label = f.label;
  if (f.labelNot.length) out['label!'] = f.labelNot;
  if (withUntil && f.until !== undefined) out.until = [f.until.toFixed(9)];
  return out;
}

function hasLabel(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return Object.hasOwn(labels, filter);
  const key = filter.slice(0, eq);
  return Object.hasOwn(labels, key) && labels[key] === filter.slice(eq + 1);
}

/** Whether labels pass a prune's label filters, with the Engine's semantics (see pruneFiltersParam). */
export function matchesLabelFilters(labels: Record<string, string> | null | undefined, f: Pick<ResolvedPruneFilters, 'label' | 'labelNot'>): boolean {
  const l = labels ?? {};
  if (!f.label.every((x) => hasLabel(l, x))) return false;
  if (f.labelNot.length && f.labelNot.every((x) => hasLabel(l, x))) return false;
  return true;
}

/* ---------------- until: the Engine's rule ---------------- */

const NS = 1_000_000_000n;

/** Unix seconds in nanoseconds, read the way the Engine reads what enginePruneFilters sends. */
function secondsToNanos(seconds: number): bigint {
  const [whole, frac = ''] = seconds.toFixed(9).split('.');
  const sign = whole!.startsWith('-') ? -1n : 1n;
  return BigInt(whole!) * NS + sign * BigInt(frac.padEnd(9, '0'));
}

/** An RFC 3339 time in unix nanoseconds, its fraction kept whole (Date keeps milliseconds only); undefined if unreadable. */
export function rfc3339Nanos(s: string): bigint | undefined {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(s.trim());
  const ms = Date.parse(m ? `${m[1]}${m[3]}` : s);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + (m ? BigInt((m[2] ?? '').padEnd(9, '0')) : 0n);
}

/**
 * The Engine's `until` rule, for every kind: an object is skipped when its
 * creation time is after `until` (`created.After(until)` in moby), so one
 * created at or before `until` is pruned. `created` is exact unix seconds or
 * an RFC 3339 time; an unknown time passes.
 */
export function createdBefore(created: number | string | undefined, until: number | undefined): boolean {
  if (until === undefined) return true;
  const t = typeof created === 'number' ? secondsToNanos(created) : created ? rfc3339Nanos(created) : undefined;
  return t === undefined || t <= secondsToNanos(until);
}

/**
 * Lists give creation times in whole seconds while the Engine compares the
 * exact time: when `until` falls inside that second, only the exact time
 * (from inspect) can tell.
 */
export function needsExactTime(wholeSeconds: number, until: number | undefined): boolean {
  if (until === undefined) return false;
  const u = secondsToNanos(until);
  const start = BigInt(Math.floor(wholeSeconds)) * NS;
  return start <= u && u < start + NS - 1n;
}

/** Exact creation times of the listed objects whose whole-second time cannot decide `until`. */
async function exactTimes(ctx: OperationContext, items: { Id: string; Created: number }[], until: number | undefined, path: (id: string) => string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(
    items
      .filter((i) => needsExactTime(i.Created, until))
      .map(async (i) => {
        try {
          const created = (await ctx.json<{ Created?: string }>({ method: 'GET', path: path(i.Id) })).body?.Created;
          if (created) out.set(i.Id, created);
        } catch (err) {
          if (!(err instanceof ConnectorError && err.code === 'NOT_FOUND')) throw err; // gone meanwhile
        }
      }),
  );
  return out;
}

/* ---------------- shared result pieces ---------------- */

export type Named = { id: string; name: string | null };

export const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
export const byIdThenName = (a: Named, b: Named) => (a.name ?? '').localeCompare(b.name ?? '') || a.id.localeCompare(b.id);

/* ---------------- containers ---------------- */

/** Not running: the Engine prunes these (paused and restarting count as running). */
const STOPPED_STATES = new Set(['created', 'exited', 'dead']);

/**
 * Containers POST /containers/prune removes: every one that is not running,
 * passing the filters. `exact` holds exact creation times where the list's
 * whole seconds cannot decide `until`.
 */
export function planContainerPrune(containers: ContainerSummary[], f: ResolvedPruneFilters, exact: ReadonlyMap<string, string> = new Map()): ContainerSummary[] {
  return containers.filter((c) => STOPPED_STATES.has(c.State ?? '') && matchesLabelFilters(c.Labels, f) && createdBefore(exact.get(c.Id) ?? c.Created, f.until));
}

/** planContainerPrune over a list, asking the Engine for the exact times it needs. */
export async function containersToPrune(ctx: OperationContext, containers: ContainerSummary[], f: ResolvedPruneFilters): Promise<ContainerSummary[]> {
  const stopped = containers.filter((c) => STOPPED_STATES.has(c.State ?? ''));
  return planContainerPrune(containers, f, await exactTimes(ctx, stopped, f.until, (id) => enginePath`/containers/${id}/json`));
}

export async function runContainerPrune(ctx: OperationContext, f: ResolvedPruneFilters): Promise<{ ids: string[]; space_reclaimed: number }> {
  const res = await ctx.json<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>({
    method: 'POST',
    path: '/containers/prune',
    query: { filters: enginePruneFilters(f) },
    timeoutMs: slowCallTimeoutMs(ctx),
  });
  return { ids: res.body?.ContainersDeleted ?? [], space_reclaimed: res.body?.SpaceReclaimed ?? 0 };
}

/* ---------------- images ---------------- */

const imageName = (img: ImageSummary | undefined) => realRefs(img?.RepoTags)[0] ?? null;

/**
 * Images POST /images/prune removes (classic image store), simulated: the
 * candidates are leaf images (dangling only) or all images, less untagged
 * images with children and those the filters exclude; an image a container
 * uses is refused; one that still has children is only untagged; removing
 * an image also removes its parent once that is untagged, unused and
 * childless. The order the Engine goes in does not change the outcome.
 */
export function planImagePrune(images: ImageSummary[], usedByContainers: Set<string>, danglingOnly: boolean, f: ResolvedPruneFilters, exact: ReadonlyMap<string, string> = new Map()): Named[] {
  const byId = new Map(images.map((i) => [i.Id, i]));
  const children = new Map<string, Set<string>>();
  for (const i of images) if (i.ParentId && byId.has(i.ParentId)) (children.get(i.ParentId) ?? children.set(i.ParentId, new Set()).get(i.ParentId)!).add(i.Id);
  const refCount = new Map(images.map((i) => [i.Id, realRefs(i.RepoTags).length + realRefs(i.RepoDigests).length]));
  const kids = (id: string) => children.get(id)?.size ?? 0;

  const top = images.filter((i) => {
    if (danglingOnly && kids(i.Id) > 0) return false;
    if (refCount.get(i.Id) === 0 && kids(i.Id) > 0) return false;
    return createdBefore(exact.get(i.Id) ?? i.Created, f.until) && matchesLabelFilters(i.Labels, f);
  });
  const deleted = new Set<string>();
  const remove = (id: string): void => {
    if (usedByContainers.has(id) || deleted.has(id)) return;
    if (kids(id) > 0) {
      refCount.set(id, 0); // untagged, kept for its children
      return;
    }
    deleted.add(id);
    const parent = byId.get(id)?.ParentId;
    if (!parent || !byId.has(parent)) return;
    children.get(parent)?.delete(id);
    if (refCount.get(parent) === 0 && kids(parent) === 0) remove(parent);
  };
  for (const img of top) {
    if (danglingOnly && realRefs(img.RepoTags).length > 0) continue;
    remove(img.Id);
  }
  return [...deleted].map((id) => ({ id, name: imageName(byId.get(id)) })).sort(byIdThenName);
}

/** planImagePrune over a list, asking the Engine for the exact times it needs. */
export async function imagesToPrune(ctx: OperationContext, images: ImageSummary[], usedByContainers: Set<string>, danglingOnly: boolean, f: ResolvedPruneFilters): Promise<Named[]> {
  const exact = await exactTimes(ctx, images, f.until, (id) => enginePath`/images/${id}/json`);
  return planImagePrune(images, usedByContainers, danglingOnly, f, exact);
}

/** Every image, intermediate ones included, with digests (what the image planner reads). */
export async function listAllImages(ctx: OperationContext): Promise<ImageSummary[]> {
  return (await ctx.json<ImageSummary[]>({ method: 'GET', path: '/images/json', query: { all: true, digests: true } })).body ?? [];
}

/**
 * Runs POST /images/prune. The Engine's "Deleted" entries mix image ids with
 * the ids of layers it released: `before` (the images just before the prune)
 * tells them apart, so only images are reported, as a dry run names them.
 */
export async function runImagePrune(
  ctx: OperationContext,
  f: ResolvedPruneFilters,
  danglingOnly: boolean,
  before: ImageSummary[],
): Promise<{ deleted: { id: string; tags: string[]; name: string | null }[]; space_reclaimed: number }> {
  const res = await ctx.json<{ ImagesDeleted?: ImageDeleteItem[] | null; SpaceReclaimed?: number }>({
    method: 'POST',
    path: '/images/prune',
    query: { filters: { ...enginePruneFilters(f), dangling: [String(danglingOnly)] } },
    timeoutMs: slowCallTimeoutMs(ctx),
  });
  const byId = new Map(before.map((i) => [i.Id, i]));
  const items = res.body?.ImagesDeleted ?? [];
  const untagged = new Set(items.flatMap((i) => (i.Untagged ? [i.Untagged] : [])));
  // An image's tags are those of its own the Engine untagged: a reference untagged just before
  // may belong to another image that was only untagged (a parent kept for its children).
  const deleted = items
    .filter((i): i is { Deleted: string } => !!i.Deleted && byId.has(i.Deleted))
    .map(({ Deleted: id }) => ({ id, tags: realRefs(byId.get(id)?.RepoTags).filter((t) => untagged.has(t)), name: imageName(byId.get(id)) }));
  return { deleted, space_reclaimed: res.body?.SpaceReclaimed ?? 0 };
}

/* ---------------- networks ---------------- */

/**
 * What POST /networks/prune removes, the way the Engine decides it: every
 * network that is not pre-defined, passes the filters, and has no endpoint
 * (a network only stopped containers refer to has none, so it goes too).
 */
export async function planNetworkPrune(ctx: OperationContext, f: ResolvedPruneFilters): Promise<{ candidates: { id: string; name: string }[]; all: NetworkSummary[] }> {
  const all = (await ctx.json<NetworkSummary[]>({ method: 'GET', path: '/networks' })).body ?? [];
  const eligible = all.filter((n) => !PREDEFINED_NETWORKS.has(n.Name) && !n.Ingress && matchesLabelFilters(n.Labels, f) && createdBefore(n.Created, f.until));
  // The list form leaves out attached containers: inspect each candidate.
  const checked = await Promise.all(
    eligible.map(async (n) => {
      try {
        const full = await inspectNetwork(ctx, n.Id);
        return Object.keys(full.Containers ?? {}).length === 0 ? { id: n.Id, name: n.Name } : undefined;
      } catch (err) {
        if (err instanceof ConnectorError && err.code === 'NOT_FOUND') return undefined; // removed meanwhile
        throw err;
      }
    }),
  );
  return { candidates: checked.filter((c): c is { id: string; name: string } => c !== undefined), all };
}

/** Runs POST /networks/prune and names what went (the Engine answers with names only). */
export async function runNetworkPrune(ctx: OperationContext, f: ResolvedPruneFilters, known: NetworkSummary[]): Promise<{ id: string | null; name: string }[]> {
  const res = await ctx.json<{ NetworksDeleted?: string[] | null }>({
    method: 'POST',
    path: '/networks/prune',
    query: { filters: enginePruneFilters(f) },
    timeoutMs: slowCallTimeoutMs(ctx),
  });
  return (res.body?.NetworksDeleted ?? []).map((name) => ({ id: known.find((n) => n.Name === name)?.Id ?? null, name })).sort(byName);
}

/* ---------------- volumes ---------------- */

/** The label the Engine (23+) puts on volumes it creates for a container without a name. */
export const ANONYMOUS_VOLUME_LABEL = 'com.docker.volume.anonymous';

/**
 * Whether the Engine's volume prune can spare named volumes: the `all`
 * filter exists from API 1.42; before, every unused volume goes. A prune
 * that would remove more than it was asked to is refused (the dry run too,
 * as it describes the real call).
 */
export function volumePruneSparesNamed(ctx: OperationContext): boolean {
  return ctx.atLeast('1.42');
}

export interface VolumePruneOptions {
  /** Also named volumes. */
  all: boolean;
  /** Volumes that become unused before this prune runs (system_prune removes their containers first). */
  freed?: Set<string>;
}

/**
 * What POST /volumes/prune removes, the way the Engine decides it: local
 * volumes no container refers to, passing the label filters; only anonymous
 * ones unless `all`.
 */
export async function planVolumePrune(ctx: OperationContext, f: ResolvedPruneFilters, opts: VolumePruneOptions): Promise<{ name: string }[]> {
  const list = async (filters: Record<string, string[]>) =>
    (await ctx.json<{ Volumes?: VolumeSummary[] | null }>({ method: 'GET', path: '/volumes', query: { filters } })).body?.Volumes ?? [];
  const [local, dangling] = await Promise.all([list({ driver: ['local'] }), list({ dangling: ['true'], driver: ['local'] })]);
  const unused = new Set([...dangling.map((v) => v.Name), ...(opts.freed ?? [])]);
  const anonymousOnly = volumePruneSparesNamed(ctx) && !opts.all;
  return local
    .filter((v) => unused.has(v.Name) && matchesLabelFilters(v.Labels, f) && (!anonymousOnly || Object.hasOwn(v.Labels ?? {}, ANONYMOUS_VOLUME_LABEL)))
    .map((v) => ({ name: v.Name }))
    .sort(byName);
}

export async function runVolumePrune(ctx: OperationContext, f: ResolvedPruneFilters, all: boolean): Promise<{ deleted: { name: string }[]; space_reclaimed: number }> {
  const filters = enginePruneFilters(f, false);
  if (all && volumePruneSparesNamed(ctx)) filters.all = ['true'];
  const res = await ctx.json<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>({
    method: 'POST',
    path: '/volumes/prune',
    query: { filters },
    timeoutMs: slowCallTimeoutMs(ctx),
  });
  return {
    deleted: (res.body?.VolumesDeleted ?? []).map((name) => ({ name })).sort(byName),
    space_reclaimed: res.body?.SpaceReclaimed ?? 0,
  };
}

/* ---------------- build cache ---------------- */

/** Build cache records POST /build/prune removes: not in use; without `all`, not shared, internal or frontend; last used before `until`. */
export function planBuildCachePrune(records: BuildCacheRecord[], all: boolean, until: number | undefined): Named[] {
  return records
    .filter((r) => {
      if (r.InUse) return false;
      if (!all && (r.Shared || r.Type === 'internal' || r.Type === 'frontend')) return false;
      return !r.LastUsedAt || createdBefore(r.LastUsedAt, until);
    })
    .map((r) => ({ id: r.ID, name: r.Description ?? null }))
    .sort(byIdThenName);
}

/** The build cache records, or undefined where the Engine has no build cache to report. */
export async function buildCacheRecords(ctx: OperationContext): Promise<BuildCacheRecord[] | undefined> {
  const res = await ctx.json<{ BuildCache?: BuildCacheRecord[] | null }>({
    method: 'GET',
    path: '/system/df',
    // Only the build cache: computing every image's and volume's size is slow (type= exists from 1.42).
    query: ctx.atLeast('1.42') ? { type: ['build-cache'] } : undefined,
    timeoutMs: slowCallTimeoutMs(ctx),
  });
  const records = res.body?.BuildCache;
  return records === undefined ? undefined : (records ?? []);
}

export async function runBuildCachePrune(ctx: OperationContext, before: BuildCacheRecord[], all: boolean, until: number | undefined): Promise<{ deleted: Named[]; space_reclaimed: number }> {
  // The builder takes `until` as "not used for this long" (a duration).
  const filters = until === undefined ? undefined : { until: [`${Math.max(1, Math.ceil(Date.now() / 1000 - until))}s`] };
  const res = await ctx.json<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>({
    method: 'POST',
    path: '/build/prune',
    query: { all: all || undefined, filters },
    timeoutMs: slowCallTimeoutMs(ctx),
  });
  const names = new Map(before.map((r) => [r.ID, r.Description ?? null]));
  return {
    deleted: (res.body?.CachesDeleted ?? []).map((id) => ({ id, name: names.get(id) ?? null })).sort(byIdThenName),
    space_reclaimed: res.body?.SpaceReclaimed ?? 0,
  };
}
