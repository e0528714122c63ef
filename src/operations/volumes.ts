/** Volume operations: list, inspect, create, remove, prune. */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { defineOperation, type OperationContext } from './define.js';
import { nameWithoutSlash } from './shared/container-lookup.js';
import { engineMessageOf } from './shared/engine-errors.js';
import { prunedVolume, pruneReport, removalReport, spaceReclaimedOrNull } from './shared/schemas/prune.js';
import { volume, type Volume } from './shared/schemas/volume.js';
import { dryRunParam, invalidParam } from './shared/params.js';
import { GONE, planIdParam, singleItem, skip } from './shared/plan.js';
import { planVolumePrune, removePlannedVolumes, resolvePruneFilters, runVolumePrune, volumeCreationTimes, volumePruneFiltersParam, volumePruneSparesNamed } from './shared/prune.js';

/** The local driver's rule for names; other drivers are at least this strict in practice. */
export const volumeRef = z
  .string()
  .min(2, 'volume names are at least two characters')
  .max(255)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/, 'expected a volume name (letters, digits, "_", ".", "-"; at least two characters)')
  .describe('Volume name');

const stringList = z.union([z.string(), z.array(z.string())]);

export const listVolumes = defineOperation({
  name: 'list_volumes',
  category: 'volumes',
  title: 'List volumes',
  description: 'Volumes the Engine knows (GET /volumes).',
  params: z
    .object({
      filters: z
        .object({
          dangling: z.boolean().optional().describe('true: only volumes no container refers to; false: only those in use'),
          driver: stringList.optional().describe('Volume driver, e.g. "local"'),
          label: stringList.optional().describe('"key" or "key=value"'),
          name: stringList.optional().describe('Volume name or part of it'),
        })
        .strict()
        .optional()
        .describe('Filters: dangling, driver, label, name'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: "{volumes: [the Engine's volume objects], warnings: [...]}",
  resultSchema: z.strictObject({
    volumes: z.array(volume).describe("The Engine's volume objects"),
    warnings: z.array(z.string()).describe('Warnings the Engine gave while listing (e.g. a volume driver that did not answer); [] when none'),
  }),
  async run(ctx, p) {
    const res = await ctx.json<{ Volumes?: Volume[] | null; Warnings?: string[] | null }>({
      method: 'GET',
      path: '/volumes',
      query: { filters: normalizeFilters(p.filters) },
    });
    return { volumes: res.body?.Volumes ?? [], warnings: res.body?.Warnings ?? [] };
  },
});

export const inspectVolume = defineOperation({
  name: 'inspect_volume',
  category: 'volumes',
  title: 'Inspect a volume',
  description: 'Details of one volume (GET /volumes/{name}).',
  params: z.object({ volume: volumeRef }).strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's volume object (Name, Driver, Mountpoint, Labels, Options, Scope, CreatedAt, …)",
  resultSchema: volume,
  async run(ctx, p) {
    return (await ctx.json<Volume>({ method: 'GET', path: enginePath`/volumes/${p.volume}` })).body;
  },
});

export const createVolume = defineOperation({
  name: 'create_volume',
  category: 'volumes',
  title: 'Create a volume',
  description:
    'Creates a volume (POST /volumes/create). Without a name the Engine picks a random one. With the local driver, creating a name that exists returns the existing volume unchanged.',
  params: z
    .object({
      name: volumeRef.optional().describe('Volume name (default: a random name)'),
      driver: z.string().min(1).max(128).default('local').describe('Volume driver (default: local)'),
      driver_opts: z.record(z.string().min(1), z.string()).optional().describe('Driver options, e.g. {"type": "tmpfs", "device": "tmpfs", "o": "size=64m"}'),
      labels: z.record(z.string().min(1), z.string()).optional().describe('Labels: {"key": "value"}'),
    })
    .strict(),
  safety: 'write',
  // Without a name, a repeated request creates a second volume.
  idempotent: false,
  result: "The Engine's volume object (Name, Driver, Mountpoint, Labels, Options, …)",
  resultSchema: volume,
  async run(ctx, p) {
    const res = await ctx.json<Volume>({
      method: 'POST',
      path: '/volumes/create',
      body: { Name: p.name, Driver: p.driver, DriverOpts: p.driver_opts, Labels: p.labels },
    });
    return res.body;
  },
});

/** Containers (running or not) that refer to a volume. */
export async function volumeUsers(ctx: OperationContext, name: string): Promise<{ id: string; name: string }[]> {
  const res = await ctx.json<{ Id: string; Names?: string[] }[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters: { volume: [name] } } });
  return (res.body ?? []).map((c) => ({ id: c.Id, name: nameWithoutSlash(c.Names?.[0]) }));
}

function volumeInUse(ctx: OperationContext, name: string, users: { id: string; name: string }[], cause?: ConnectorError): ConnectorError {
  const who = users.length ? users.map((c) => c.name || c.id.slice(0, 12)).join(', ') : 'a container';
  return new ConnectorError('CONFLICT', `Volume ${name} is in use by container(s) ${who}; remove them first`, {
    status: 409,
    operation: ctx.operation,
    details: { volume: name, containers: users, ...(cause ? { engine_message: engineMessageOf(cause) } : {}) },
  });
}

export const removeVolume = defineOperation({
  name: 'remove_volume',
  category: 'volumes',
  title: 'Remove a volume',
  description:
    'Removes a volume (DELETE /volumes/{name}). A volume any container refers to (running or stopped) is a CONFLICT naming those containers, with or without force. `force` makes a missing volume a no-op instead of NOT_FOUND. `dry_run` checks without removing.',
  params: z
    .object({
      volume: volumeRef,
      force: z.boolean().default(false).describe('A volume that does not exist is not an error (deleted is then empty)'),
      dry_run: dryRunParam,
      plan_id: planIdParam,
    })
    .strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{name}], dry_run}',
  resultSchema: removalReport(prunedVolume),
  async run(ctx, p) {
    try {
      await ctx.json({ method: 'GET', path: enginePath`/volumes/${p.volume}` });
    } catch (err) {
      if (p.force && err instanceof ConnectorError && err.code === 'NOT_FOUND') return { deleted: [], dry_run: p.dry_run };
      throw err;
    }
    if (p.dry_run) {
      const users = await volumeUsers(ctx, p.volume);
      if (users.length) throw volumeInUse(ctx, p.volume, users);
      return { deleted: [{ name: p.volume }], dry_run: true };
    }
    return deleteVolume(ctx, p.volume, p.force);
  },
  plan: {
    async items(ctx, p, r) {
      if (!r.deleted.length) return [];
      return singleItem('volume', p.volume, p.volume, (await ctx.json<Volume>({ method: 'GET', path: enginePath`/volumes/${p.volume}` })).body.CreatedAt);
    },
    // Volumes have no id: the plan pins the name and the creation time, so a volume re-created under the name is skipped.
    async run(ctx, p, items) {
      const item = items[0];
      if (!item) return { deleted: [], dry_run: false, skipped: [] };
      let created: string | undefined;
      try {
        created = (await ctx.json<Volume>({ method: 'GET', path: enginePath`/volumes/${p.volume}` })).body.CreatedAt;
      } catch (err) {
        if (err instanceof ConnectorError && err.code === 'NOT_FOUND') return { deleted: [], dry_run: false, skipped: [skip(item, GONE)] };
        throw err;
      }
      if (item.pin && created && created !== item.pin) {
        return { deleted: [], dry_run: false, skipped: [skip(item, `it was re-created under the same name since the plan (created ${created}, planned ${item.pin})`)] };
      }
      return { ...(await deleteVolume(ctx, p.volume, p.force)), skipped: [] };
    },
  },
});

async function deleteVolume(ctx: OperationContext, name: string, force: boolean) {
  try {
    await ctx.json({ method: 'DELETE', path: enginePath`/volumes/${name}`, query: { force: force || undefined } });
  } catch (err) {
    if (err instanceof ConnectorError && err.status === 409) throw volumeInUse(ctx, name, await volumeUsers(ctx, name), err);
    if (force && err instanceof ConnectorError && err.code === 'NOT_FOUND') return { deleted: [], dry_run: false };
    throw err;
  }
  return { deleted: [{ name }], dry_run: false };
}

export const pruneVolumes = defineOperation({
  name: 'prune_volumes',
  category: 'volumes',
  title: 'Remove unused volumes',
  description:
    'Removes local volumes no container (running or stopped) refers to (POST /volumes/prune). On API 1.42 and later only anonymous volumes go unless `all` is true. Older APIs (Engine 20.10) cannot spare named volumes, so there the call is refused unless `all` is true: a prune never removes more than it was asked to. `dry_run` lists exactly what would go.',
  params: z
    .object({
      filters: volumePruneFiltersParam.optional().describe('Which volumes: {label, "label!"} (volumes have no until filter)'),
      all: z.boolean().default(false).describe('Also named volumes, not only anonymous ones (required on APIs before 1.42, which cannot spare named volumes)'),
      dry_run: dryRunParam,
      plan_id: planIdParam,
    })
    .strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{name}], space_reclaimed (null for a dry run), dry_run}',
  resultSchema: pruneReport(prunedVolume, spaceReclaimedOrNull),
  async run(ctx, p) {
    refuseWideningPrune(ctx, p.all);
    const f = resolvePruneFilters(p.filters);
    if (p.dry_run) return { deleted: await planVolumePrune(ctx, f, { all: p.all }), space_reclaimed: null, dry_run: true };
    return { ...(await runVolumePrune(ctx, f, p.all)), dry_run: false };
  },
  plan: {
    async items(ctx, _p, r) {
      const created = r.deleted.length ? await volumeCreationTimes(ctx) : new Map<string, string>();
      return r.deleted.flatMap((v) => singleItem('volume', v.name, v.name, created.get(v.name)));
    },
    async run(ctx, p, items) {
      refuseWideningPrune(ctx, p.all);
      return { ...(await removePlannedVolumes(ctx, items, resolvePruneFilters(p.filters), { all: p.all })), dry_run: false };
    },
  },
});

/**
 * Before API 1.42 the Engine's volume prune has no `all` filter and removes
 * named volumes as well as anonymous ones. Running it without `all: true`
 * would remove more than the caller asked for, so it is refused (the dry
 * run too, as it describes the real call).
 */
function refuseWideningPrune(ctx: OperationContext, all: boolean): void {
  if (all || volumePruneSparesNamed(ctx)) return;
  throw invalidParam(
    ctx,
    'all',
    `this Engine speaks API ${ctx.apiVersion}, and before 1.42 a volume prune cannot spare named volumes; pass all: true to prune named and anonymous volumes alike`,
  );
}

/** Volumes operations. */
export const volumeOperations = [listVolumes, inspectVolume, createVolume, removeVolume, pruneVolumes] as const;
