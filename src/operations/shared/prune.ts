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
import type { OperationContext, PlanItem, SkippedItem } from '../define.js';
import { listAllContainers } from './container-lookup.js';
import { engineMessageOf } from './engine-errors.js';
import type { BuildCacheRecord, ContainerSummary, ImageDeleteItem, ImageSummary, NetworkSummary, VolumeSummary } from './engine-types.js';
import { realRefs } from './image-refs.js';
import { inspectNetwork, PREDEFINED_NETWORKS } from './network-lookup.js';
import { timePointParam, toUnixSeconds } from './params.js';
import { GONE, skip } from './plan.js';
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
  return (await volumesToPrune(ctx, f, opts)).candidates.map((v) => ({ name: v.Name })).sort(byName);
}

/** planVolumePrune's volumes, with every local volume (what exists). */
async function volumesToPrune(ctx: OperationContext, f: ResolvedPruneFilters, opts: VolumePruneOptions): Promise<{ candidates: VolumeSummary[]; local: VolumeSummary[] }> {
  const list = async (filters: Record<string, string[]>) =>
    (await ctx.json<{ Volumes?: VolumeSummary[] | null }>({ method: 'GET', path: '/volumes', query: { filters } })).body?.Volumes ?? [];
  const [local, dangling] = await Promise.all([list({ driver: ['local'] }), list({ dangling: ['true'], driver: ['local'] })]);
  const unused = new Set([...dangling.map((v) => v.Name), ...(opts.freed ?? [])]);
  const anonymousOnly = volumePruneSparesNamed(ctx) && !opts.all;
  const candidates = local.filter(
    (v) => unused.has(v.Name) && matchesLabelFilters(v.Labels, f) && (!anonymousOnly || Object.hasOwn(v.Labels ?? {}, ANONYMOUS_VOLUME_LABEL)),
  );
  return { candidates, local };
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

/* ---------------- plan-bound prunes ---------------- */

/*
 * A plan-bound prune (plan_id) removes the planned objects one by one, never
 * through the Engine's prune endpoint, which would take whatever matches by
 * then. The planner above runs again first: a planned object it no longer
 * names (gone, or now in use) is skipped, and an object it names that the
 * plan does not (one that appeared since) is left alone.
 */

/** What a plan-bound step did. */
export interface PlannedRemoval<T> {
  deleted: T[];
  space_reclaimed: number;
  skipped: SkippedItem[];
}

/** The planned items of one kind, split into those the planner still names and those skipped. */
function splitPlanned(items: readonly PlanItem[], what: string, stillPlanned: ReadonlySet<string>, why: (id: string) => string | undefined): { go: PlanItem[]; skipped: SkippedItem[] } {
  const go: PlanItem[] = [];
  const skipped: SkippedItem[] = [];
  for (const item of items) {
    if (item.what !== what) continue;
    if (stillPlanned.has(item.id)) go.push(item);
    else skipped.push(skip(item, why(item.id) ?? GONE));
  }
  return { go, skipped };
}

/** Why the Engine refused to remove one planned object, if that only means it is skipped (gone, or in use by now). */
function refusalReason(err: unknown): string | undefined {
  if (!(err instanceof ConnectorError)) return undefined;
  if (err.code === 'NOT_FOUND') return GONE;
  if (err.code === 'CONFLICT' || err.status === 403 || err.status === 409) return `the Engine refused to remove it: ${engineMessageOf(err)}`;
  return undefined;
}

/** An unexpected failure part-way: the error says what was already removed. */
function stoppedAt(ctx: OperationContext, err: unknown, item: PlanItem, completed: unknown): ConnectorError {
  const e = err instanceof ConnectorError ? err : new ConnectorError('ENGINE_ERROR', String(err));
  return new ConnectorError(e.code, `${ctx.operation} stopped at ${item.what} ${item.name ?? item.id}: ${e.message}`, {
    status: e.status,
    operation: ctx.operation,
    details: { ...e.details, completed },
  });
}

/** Removes the planned items in order: a refusal that means "gone or in use" skips the item, anything else stops the call. */
async function removeEach(ctx: OperationContext, go: PlanItem[], skipped: SkippedItem[], done: () => unknown, remove: (item: PlanItem) => Promise<void>): Promise<void> {
  for (const item of go) {
    try {
      await remove(item);
    } catch (err) {
      const why = refusalReason(err);
      if (why === undefined) throw stoppedAt(ctx, err, item, done());
      skipped.push(skip(item, why));
    }
  }
}

const nothing = <T>(): PlannedRemoval<T> => ({ deleted: [], space_reclaimed: 0, skipped: [] });

/** Planned containers still stopped and matching, removed one by one; space is their SizeRw, as the Engine's prune counts it. */
export async function removePlannedContainers(ctx: OperationContext, items: readonly PlanItem[], f: ResolvedPruneFilters): Promise<PlannedRemoval<Named>> {
  if (!items.some((i) => i.what === 'container')) return nothing();
  const all = await listAllContainers(ctx);
  const now = new Set((await containersToPrune(ctx, all, f)).map((c) => c.Id));
  const state = new Map(all.map((c) => [c.Id, c.State ?? 'unknown']));
  const { go, skipped } = splitPlanned(items, 'container', now, (id) => (state.has(id) ? `it no longer matches: it is ${state.get(id)} now` : undefined));
  const out: PlannedRemoval<Named> = { deleted: [], space_reclaimed: 0, skipped };
  await removeEach(ctx, go, skipped, () => out.deleted, async (item) => {
    const size = (await ctx.json<{ SizeRw?: number }>({ method: 'GET', path: enginePath`/containers/${item.id}/json`, query: { size: true } })).body?.SizeRw ?? 0;
    // By id: a container re-created under the planned name has another id and is not touched.
    await ctx.json({ method: 'DELETE', path: enginePath`/containers/${item.id}` });
    out.deleted.push({ id: item.id, name: item.name });
    out.space_reclaimed += size;
  });
  out.deleted.sort(byIdThenName);
  return out;
}

/**
 * Each image's own layers: its size less its parent's. The API gives no
 * layer sizes, so this is what a dry run reports and what a plan-bound
 * prune, which removes images one by one, reports as freed.
 */
export function imagesOwnSize(images: ImageSummary[], ids: Iterable<string>): number {
  const byId = new Map(images.map((i) => [i.Id, i]));
  let sum = 0;
  for (const id of ids) {
    const img = byId.get(id);
    if (!img) continue;
    const parent = img.ParentId ? byId.get(img.ParentId) : undefined;
    sum += Math.max(0, (img.Size ?? 0) - (parent?.Size ?? 0));
  }
  return sum;
}

/**
 * Planned images still unused and matching, removed one by one the way the
 * Engine's prune removes them: an image with references by each reference
 * (the last one deletes it), one without by id; children before their
 * parents, and a parent the Engine deleted with its child counts as removed.
 */
export async function removePlannedImages(
  ctx: OperationContext,
  items: readonly PlanItem[],
  danglingOnly: boolean,
  f: ResolvedPruneFilters,
): Promise<PlannedRemoval<{ id: string; tags: string[]; name: string | null }>> {
  if (!items.some((i) => i.what === 'image')) return nothing();
  const images = await listAllImages(ctx);
  const used = new Set((await listAllContainers(ctx)).map((c) => c.ImageID ?? ''));
  const now = new Set((await imagesToPrune(ctx, images, used, danglingOnly, f)).map((i) => i.id));
  const byId = new Map(images.map((i) => [i.Id, i]));
  const { go, skipped } = splitPlanned(items, 'image', now, (id) => (byId.has(id) ? 'it no longer matches: a container uses it now, or it was tagged' : undefined));
  const depth = (id: string): number => {
    let n = 0;
    for (let p = byId.get(id)?.ParentId; p && byId.has(p) && n < 1000; p = byId.get(p)?.ParentId) n++;
    return n;
  };
  go.sort((a, b) => depth(b.id) - depth(a.id));
  const deletedIds = new Set<string>();
  const untagged = new Set<string>();
  const send = async (ref: string) => {
    const res = await ctx.json<ImageDeleteItem[]>({ method: 'DELETE', path: enginePath`/images/${ref}` });
    for (const d of res.body ?? []) {
      if (d.Deleted) deletedIds.add(d.Deleted);
      if (d.Untagged) untagged.add(d.Untagged);
    }
  };
  await removeEach(ctx, go, skipped, () => [...deletedIds], async (item) => {
    if (deletedIds.has(item.id)) return; // went with its child
    const refs = [...realRefs(byId.get(item.id)?.RepoTags), ...realRefs(byId.get(item.id)?.RepoDigests)];
    if (refs.length === 0) return send(item.id);
    for (const ref of refs) {
      try {
        await send(ref);
      } catch (err) {
        // Removing an image's last tag also drops its digests of that repository.
        if (!(err instanceof ConnectorError && err.code === 'NOT_FOUND')) throw err;
      }
    }
  });
  const gone = [...deletedIds].filter((id) => byId.has(id));
  return {
    deleted: gone
      .map((id) => ({ id, tags: realRefs(byId.get(id)?.RepoTags).filter((t) => untagged.has(t)), name: imageName(byId.get(id)) }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    space_reclaimed: imagesOwnSize(images, gone),
    skipped,
  };
}

/** Planned networks still unused and matching, removed one by one by id (networks free no space the Engine counts). */
export async function removePlannedNetworks(ctx: OperationContext, items: readonly PlanItem[], f: ResolvedPruneFilters): Promise<Omit<PlannedRemoval<{ id: string; name: string }>, 'space_reclaimed'>> {
  if (!items.some((i) => i.what === 'network')) return { deleted: [], skipped: [] };
  const { candidates, all } = await planNetworkPrune(ctx, f);
  const exists = new Set(all.map((n) => n.Id));
  const { go, skipped } = splitPlanned(items, 'network', new Set(candidates.map((c) => c.id)), (id) => (exists.has(id) ? 'it no longer matches: a container is attached to it now' : undefined));
  const deleted: { id: string; name: string }[] = [];
  await removeEach(ctx, go, skipped, () => deleted, async (item) => {
    await ctx.json({ method: 'DELETE', path: enginePath`/networks/${item.id}` });
    deleted.push({ id: item.id, name: item.name ?? '' });
  });
  return { deleted: deleted.sort(byName), skipped };
}

/** Creation times of the local volumes, the pin that tells a volume re-created under the same name from the planned one. */
export async function volumeCreationTimes(ctx: OperationContext): Promise<Map<string, string>> {
  const res = await ctx.json<{ Volumes?: VolumeSummary[] | null }>({ method: 'GET', path: '/volumes', query: { filters: { driver: ['local'] } } });
  return new Map((res.body?.Volumes ?? []).flatMap((v) => (v.CreatedAt ? [[v.Name, v.CreatedAt] as const] : [])));
}

/** Volume sizes as the Engine's disk usage report has them (what its volume prune counts); undefined when it cannot tell. */
async function volumeSizes(ctx: OperationContext): Promise<Map<string, number> | undefined> {
  try {
    const res = await ctx.json<{ Volumes?: { Name: string; UsageData?: { Size?: number } | null }[] | null }>({
      method: 'GET',
      path: '/system/df',
      query: ctx.atLeast('1.42') ? { type: ['volume'] } : undefined,
      timeoutMs: slowCallTimeoutMs(ctx),
    });
    return new Map((res.body?.Volumes ?? []).map((v) => [v.Name, Math.max(0, v.UsageData?.Size ?? 0)]));
  } catch (err) {
    if (err instanceof ConnectorError) return undefined;
    throw err;
  }
}

/** Planned volumes still unused, matching and not re-created since, removed one by one; space is their size, or null when the Engine cannot tell. */
export async function removePlannedVolumes(
  ctx: OperationContext,
  items: readonly PlanItem[],
  f: ResolvedPruneFilters,
  opts: VolumePruneOptions,
): Promise<Omit<PlannedRemoval<{ name: string }>, 'space_reclaimed'> & { space_reclaimed: number | null }> {
  if (!items.some((i) => i.what === 'volume')) return { ...nothing<{ name: string }>(), space_reclaimed: 0 };
  const { candidates, local } = await volumesToPrune(ctx, f, opts);
  const exists = new Set(local.map((v) => v.Name));
  const created = new Map(candidates.map((v) => [v.Name, v.CreatedAt]));
  const { go, skipped } = splitPlanned(items, 'volume', new Set(created.keys()), (name) => (exists.has(name) ? 'it no longer matches: a container refers to it now' : undefined));
  const same = go.filter((item) => {
    const now = created.get(item.id);
    if (!item.pin || !now || now === item.pin) return true;
    skipped.push(skip(item, `it was re-created under the same name since the plan (created ${now}, planned ${item.pin})`));
    return false;
  });
  const sizes = same.length ? await volumeSizes(ctx) : new Map<string, number>();
  const out = { deleted: [] as { name: string }[], space_reclaimed: 0 as number | null, skipped };
  await removeEach(ctx, same, skipped, () => out.deleted, async (item) => {
    await ctx.json({ method: 'DELETE', path: enginePath`/volumes/${item.id}` });
    out.deleted.push({ name: item.id });
    if (out.space_reclaimed !== null) out.space_reclaimed = sizes ? out.space_reclaimed + (sizes.get(item.id) ?? 0) : null;
  });
  if (!sizes) out.space_reclaimed = null;
  out.deleted.sort(byName);
  return out;
}

/** Planned build cache records still prunable, removed one by one (the builder's prune limited to the record's id), with the space it reports. */
export async function removePlannedBuildCache(ctx: OperationContext, items: readonly PlanItem[], all: boolean, until: number | undefined): Promise<PlannedRemoval<Named>> {
  if (!items.some((i) => i.what === 'build_cache')) return nothing();
  const records = (await buildCacheRecords(ctx)) ?? [];
  const exists = new Set(records.map((r) => r.ID));
  const now = new Set(planBuildCachePrune(records, all, until).map((r) => r.id));
  const { go, skipped } = splitPlanned(items, 'build_cache', now, (id) => (exists.has(id) ? 'it no longer matches: it is in use or was used since' : undefined));
  const out: PlannedRemoval<Named> = { deleted: [], space_reclaimed: 0, skipped };
  await removeEach(ctx, go, skipped, () => out.deleted, async (item) => {
    const res = await ctx.json<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>({
      method: 'POST',
      path: '/build/prune',
      // `all` lets the id alone decide: the planner above already applied the caller's rules.
      query: { all: true, filters: { id: [item.id] } },
      timeoutMs: slowCallTimeoutMs(ctx),
    });
    const gone = res.body?.CachesDeleted ?? [];
    for (const id of gone) out.deleted.push({ id, name: id === item.id ? item.name : null });
    out.space_reclaimed += res.body?.SpaceReclaimed ?? 0;
    if (!gone.includes(item.id)) skipped.push(skip(item, 'the builder did not remove it (in use)'));
  });
  out.deleted.sort(byIdThenName);
  return out;
}
