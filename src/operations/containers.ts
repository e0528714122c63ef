/**
 * Containers as objects: list, inspect, create, rename, remove, top,
 * changes, commit, update, prune. Their running state (start, stop, …,
 * wait) is container-state.ts; exec, logs, stats and archives are families
 * of their own.
 */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { defineOperation, type OperationContext } from './define.js';
import { requireApi } from './shared/api-version.js';
import { buildCreateBody, buildUpdateBody, mapChanges } from './shared/container-params.js';
import { commitParams, containerListFilters, containerNameParam, createContainerParams, signalParam, stopParams, updateContainerParams } from './shared/container-schemas.js';
import { firstName, inspectContainer as getContainer } from './shared/container-lookup.js';
import type { ContainerSummary } from './shared/engine-types.js';
import { evidenceList } from './shared/evidence-schemas.js';
import { containerRef, dryRunParam } from './shared/params.js';
import { identityChanged, planIdParam, singleItem, skip } from './shared/plan.js';
import { containersToPrune, pruneFiltersParam, removePlannedContainers, resolvePruneFilters, runContainerPrune } from './shared/prune.js';
import { containerInspect, containerSummary } from './shared/schemas/container.js';
import { dryRunFlag, planFields, prunedContainer, pruneReport, spaceReclaimed } from './shared/schemas/prune.js';
import { slowCallTimeoutMs } from './shared/timeouts.js';

/* ---------------- read operations ---------------- */

export const listContainers = defineOperation({
  name: 'list_containers',
  category: 'containers',
  title: 'List containers',
  description: 'Containers with their image, command, state, ports and labels (GET /containers/json). Running ones only unless `all` is set.',
  params: z
    .object({
      all: z.boolean().default(false).describe('Include stopped and created containers'),
      limit: z.number().int().min(1).max(100_000).optional().describe('Only the most recently created N containers (all states)'),
      size: z.boolean().default(false).describe('Include SizeRw and SizeRootFs (slower)'),
      filters: containerListFilters
        .optional()
        .describe('Engine filters: status, label, name, id, ancestor, network, health, exited, before, since, volume, publish, expose, is-task; e.g. {"status": ["exited"], "label": ["env=prod"]}'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: "Array of the Engine's container summaries (Id, Names, Image, Command, Created, State, Status, Ports, Labels, …)",
  resultSchema: z.array(containerSummary).describe("The Engine's container summaries, newest first"),
  async run(ctx, p) {
    const res = await ctx.json<z.output<typeof containerSummary>[] | null>({
      method: 'GET',
      path: '/containers/json',
      query: { all: p.all, limit: p.limit, size: p.size, filters: normalizeFilters(p.filters) },
    });
    return res.body ?? [];
  },
});

export const inspectContainer = defineOperation({
  name: 'inspect_container',
  category: 'containers',
  title: 'Inspect a container',
  description: 'Low-level information on a container: config, state, mounts, network settings (GET /containers/{id}/json).',
  params: z
    .object({
      container: containerRef,
      size: z.boolean().default(false).describe('Include SizeRw and SizeRootFs (slower)'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's container object (Id, Name, State, Config, HostConfig, Mounts, NetworkSettings, …)",
  resultSchema: containerInspect,
  async run(ctx, p) {
    const res = await ctx.json<z.output<typeof containerInspect>>({ method: 'GET', path: enginePath`/containers/${p.container}/json`, query: { size: p.size } });
    return res.body;
  },
});

export const containerTop = defineOperation({
  name: 'container_top',
  category: 'containers',
  title: 'Processes in a container',
  description: 'The processes running inside a container, as `ps` on the Engine host reports them (GET /containers/{id}/top).',
  params: z
    .object({
      container: containerRef,
      ps_args: z
        .string()
        .max(200)
        .regex(/^[a-zA-Z0-9 ,=_-]+$/, 'expected ps options like "-ef" or "-o pid,comm"')
        .optional()
        .describe('Options for ps (default "-ef")'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: '{titles: [column names], processes: [[values per column], …]}',
  resultSchema: z.strictObject({
    titles: z.array(z.string()).describe('Column names, as ps prints them (e.g. "UID", "PID", "CMD")'),
    processes: z.array(z.array(z.string())).describe('One row per process: its values, one per column'),
  }),
  async run(ctx, p) {
    const res = await ctx.json<{ Titles?: string[] | null; Processes?: string[][] | null }>({
      method: 'GET',
      path: enginePath`/containers/${p.container}/top`,
      query: { ps_args: p.ps_args },
    });
    return { titles: res.body?.Titles ?? [], processes: res.body?.Processes ?? [] };
  },
});

export const containerChanges = defineOperation({
  name: 'container_changes',
  category: 'containers',
  title: 'Filesystem changes',
  description: "Files added, changed or deleted in the container's filesystem since it was created (GET /containers/{id}/changes).",
  params: z.object({ container: containerRef }).strict(),
  safety: 'read',
  idempotent: true,
  result: '[{path, kind: "added" | "changed" | "deleted"}, …]',
  resultSchema: z
    .array(
      z.strictObject({
        path: z.string().describe('Absolute path in the container'),
        kind: z.enum(['added', 'changed', 'deleted']).describe('What happened to it'),
      }),
    )
    .describe("Files added, changed or deleted since the container was created (directories of a changed file count as changed)"),
  async run(ctx, p) {
    const res = await ctx.json<{ Path: string; Kind: number }[] | null>({ method: 'GET', path: enginePath`/containers/${p.container}/changes` });
    return mapChanges(res.body);
  },
});

/* ---------------- create ---------------- */

export const createContainer = defineOperation({
  name: 'create_container',
  category: 'containers',
  title: 'Create a container',
  description:
    'Creates (does not start) a container from a local image (POST /containers/create). Friendly parameters cover the usual settings; `config` and `host_config` take anything else in the Engine\'s own shape, and friendly parameters win over them. Never retried once it may have reached the Engine: a repeat could create a second container.',
  params: createContainerParams,
  safety: 'write',
  idempotent: false,
  result: '{id, warnings: [strings]}',
  resultSchema: z.strictObject({
    id: z.string().describe('Id of the new container (64 hex characters)'),
    warnings: z.array(z.string()).describe("The Engine's warnings about the settings (e.g. a platform mismatch); [] when none"),
  }),
  async run(ctx, p) {
    if (p.platform !== undefined) requireApi(ctx, '1.41', 'platform');
    const volumes =
      p.volumes || p.binds
        ? { binds: [...(p.volumes?.binds ?? []), ...(p.binds?.binds ?? [])], anonymous: { ...p.volumes?.anonymous } }
        : undefined;
    const body = buildCreateBody(
      {
        image: p.image,
        command: p.command,
        entrypoint: p.entrypoint,
        env: p.env,
        labels: p.labels,
        ports: p.ports,
        volumes,
        network: p.network,
        restart_policy: p.restart_policy,
        memory: p.memory,
        cpus: p.cpus,
        user: p.user,
        working_dir: p.working_dir,
        tty: p.tty,
        auto_remove: p.auto_remove,
        hostname: p.hostname,
      },
      p.config,
      p.host_config,
    );
    const res = await ctx.json<{ Id: string; Warnings?: string[] | null }>({
      method: 'POST',
      path: '/containers/create',
      query: { name: p.name, platform: p.platform },
      body,
      idempotent: false,
    });
    return { id: res.body.Id, warnings: res.body.Warnings ?? [] };
  },
});

export const renameContainer = defineOperation({
  name: 'rename_container',
  category: 'containers',
  title: 'Rename a container',
  description: 'Gives a container a new name (POST /containers/{id}/rename). Renaming to its current name: success with changed=false.',
  params: z
    .object({
      container: containerRef,
      name: containerNameParam.describe('The new name'),
    })
    .strict(),
  safety: 'write',
  // Not repeated: after a lost connection the old reference may no longer exist.
  idempotent: false,
  result: '{container, name, changed}',
  resultSchema: z.strictObject({
    container: z.string().describe('The container, as the call named it'),
    name: z.string().describe('Its name now (without a leading "/")'),
    changed: z.boolean().describe('False when it already had that name'),
  }),
  async run(ctx, p) {
    const name = p.name.replace(/^\//, '');
    try {
      await ctx.json({ method: 'POST', path: enginePath`/containers/${p.container}/rename`, query: { name } });
      return { container: p.container, name, changed: true };
    } catch (err) {
      // The Engine refuses a rename to the current name; the wanted state already holds.
      if (err instanceof ConnectorError && /same name as its current name/i.test(String(err.details?.engine_message ?? ''))) {
        return { container: p.container, name, changed: false };
      }
      throw err;
    }
  },
});

/* ---------------- remove ---------------- */

/** Anonymous volumes carry a generated 64-hex name; those are what `volumes: true` removes. */
const ANONYMOUS_VOLUME = /^[0-9a-f]{64}$/;

const NAME_PART = '[a-zA-Z0-9][a-zA-Z0-9_.-]*';

/** One shape for both forms: the fields after dry_run only come with a dry run. */
const removeContainerResult = z.strictObject({
  container: z.string().describe('The container (or "container/alias" link), as the call named it'),
  changed: z.boolean().describe('True when it was removed; false for a dry run'),
  dry_run: dryRunFlag,
  id: z.string().optional().describe('Dry run only: the container\'s full id (of the link\'s container with link: true)'),
  name: z.string().optional().describe('Dry run only: its name, without a leading "/"'),
  state: z.string().optional().describe('Dry run only: its state, e.g. "running", "exited"'),
  would_remove: z.boolean().optional().describe('Dry run only: whether the real call would remove it (false: a running container without force, or no such link)'),
  reason: z.string().optional().describe('Dry run only, when would_remove is false: why not'),
  volumes: z.array(z.string()).optional().describe('Dry run only: the anonymous volumes that would go with it (with volumes: true)'),
  ...planFields,
  evidence: evidenceList,
});
export type RemoveContainerResult = z.output<typeof removeContainerResult>;

export const removeContainer = defineOperation({
  name: 'remove_container',
  category: 'containers',
  title: 'Remove a container',
  description:
    'Removes a container (DELETE /containers/{id}). A running one needs `force` (else CONFLICT). With dry_run it inspects the container and reports what would be removed, changing nothing.',
  params: z
    .object({
      container: z
        .string()
        .min(1)
        .max(512)
        .regex(new RegExp(`^/?${NAME_PART}(?:/${NAME_PART})?$`), 'expected a container id or name (letters, digits, "_", ".", "-"), or "container/alias" with link')
        .describe('Container id, short id, or name; with link: true, the link as "container/alias"'),
      force: z.boolean().default(false).describe('Kill the container first if it is running'),
      volumes: z.boolean().default(false).describe('Also remove its anonymous volumes'),
      link: z.boolean().default(false).describe('Remove only the legacy link "container/alias", not a container'),
      dry_run: dryRunParam,
      plan_id: planIdParam,
    })
    .strict()
    .superRefine((p, ctx) => {
      const isLink = p.container.replace(/^\//, '').includes('/');
      if (p.link && !isLink) ctx.addIssue({ code: 'custom', path: ['container'], message: 'with link: true, give the link as "container/alias"' });
      if (!p.link && isLink) ctx.addIssue({ code: 'custom', path: ['container'], message: 'expected a container id or name ("container/alias" only with link: true)' });
    }),
  safety: 'destructive',
  // Sending it twice cannot remove anything more; a repeat after a lost
  // connection may answer NOT_FOUND because the first one worked.
  idempotent: true,
  result: '{container, changed, dry_run}; with dry_run also {id, name, state, would_remove, reason?, volumes: [anonymous volumes that would go]}',
  resultSchema: removeContainerResult,
  async run(ctx, p): Promise<RemoveContainerResult> {
    // A leading "/" (as inspect shows names) would make the encoded path start with %2F, which the Engine redirects.
    const ref = p.container.replace(/^\//, '');
    if (p.dry_run) return p.link ? dryRunLink(ctx, p.container, ref) : dryRunRemove(ctx, p.container, ref, p.force, p.volumes);
    await ctx.json({ method: 'DELETE', path: enginePath`/containers/${ref}`, query: { force: p.force, v: p.volumes, link: p.link } });
    return { container: p.container, changed: true, dry_run: false };
  },
  plan: {
    items: (_ctx, _p, r) => singleItem('container', r.id, r.name),
    // The plan pins the container's id: a name that now points at another container is skipped.
    async run(ctx, p, items): Promise<RemoveContainerResult> {
      const ref = p.container.replace(/^\//, '');
      const item = items[0];
      if (!item) return { container: p.container, changed: false, dry_run: false, skipped: [] };
      const changed = await identityChanged(item, async () => (await getContainer(ctx, p.link ? ref.slice(0, ref.indexOf('/')) : ref)).Id);
      if (changed) return { container: p.container, changed: false, dry_run: false, skipped: [skip(item, changed)] };
      // A link is removed by its name ("parent/alias"); its parent was checked above.
      await ctx.json({ method: 'DELETE', path: p.link ? enginePath`/containers/${ref}` : enginePath`/containers/${item.id}`, query: { force: p.force, v: p.volumes, link: p.link } });
      return { container: p.container, changed: true, dry_run: false, skipped: [] };
    },
  },
});

/** `container` is the caller's reference (echoed); `ref` the one sent, as the real removal sends it. */
async function dryRunRemove(ctx: OperationContext, container: string, ref: string, force: boolean, volumes: boolean): Promise<RemoveContainerResult> {
  const info = await getContainer(ctx, ref);
  const state = info.State?.Status ?? 'unknown';
  const running = info.State?.Running === true || info.State?.Paused === true || info.State?.Restarting === true;
  const blocked = running && !force;
  return {
    container,
    changed: false,
    dry_run: true,
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    state,
    would_remove: !blocked,
    ...(blocked ? { reason: `the container is ${state}; removing it needs force: true` } : {}),
    volumes: volumes ? (info.Mounts ?? []).filter((m) => m.Type === 'volume' && ANONYMOUS_VOLUME.test(m.Name ?? '')).map((m) => m.Name!) : [],
  };
}

/** A link "parent/alias" exists when the parent's HostConfig.Links has an entry ending in ":/parent/alias". */
async function dryRunLink(ctx: OperationContext, container: string, ref: string): Promise<RemoveContainerResult> {
  const slash = ref.indexOf('/');
  const alias = ref.slice(slash + 1);
  const info = await getContainer(ctx, ref.slice(0, slash));
  const parentName = info.Name.replace(/^\//, '');
  const exists = (info.HostConfig?.Links ?? []).some((l) => l.endsWith(`:/${parentName}/${alias}`));
  return {
    container,
    changed: false,
    dry_run: true,
    id: info.Id,
    name: parentName,
    state: info.State?.Status ?? 'unknown',
    would_remove: exists,
    ...(exists ? {} : { reason: `${parentName} has no link named ${alias}` }),
    volumes: [],
  };
}

/* ---------------- commit, update ---------------- */

export const containerCommit = defineOperation({
  name: 'container_commit',
  category: 'containers',
  title: 'Commit a container to an image',
  description: "Creates an image from a container's filesystem and settings (POST /commit); `changes` applies Dockerfile instructions to the image config.",
  params: commitParams,
  safety: 'write',
  idempotent: false,
  result: '{id} of the new image',
  resultSchema: z.strictObject({ id: z.string().describe('Id of the new image ("sha256:…")') }),
  async run(ctx, p) {
    const res = await ctx.json<{ Id: string }>({
      method: 'POST',
      path: '/commit',
      query: { container: p.container, repo: p.repo, tag: p.tag, comment: p.comment, author: p.author, changes: p.changes, pause: p.pause },
      // The container config to merge: none. Docker takes an empty body; Podman needs a JSON one.
      body: {},
      timeoutMs: slowCallTimeoutMs(ctx),
      idempotent: false,
    });
    return { id: res.body.Id };
  },
});

export const updateContainer = defineOperation({
  name: 'update_container',
  category: 'containers',
  title: 'Update resource limits',
  description: "Changes a container's resource limits or restart policy without recreating it (POST /containers/{id}/update).",
  params: updateContainerParams,
  safety: 'write',
  idempotent: true,
  result: '{container, warnings: [strings]}',
  resultSchema: z.strictObject({
    container: z.string().describe('The container, as the call named it'),
    warnings: z.array(z.string()).describe("The Engine's warnings about the new limits; [] when none"),
  }),
  async run(ctx, p) {
    const { container, ...settings } = p;
    const res = await ctx.json<{ Warnings?: string[] | null }>({ method: 'POST', path: enginePath`/containers/${container}/update`, body: buildUpdateBody(settings) });
    return { container, warnings: res.body?.Warnings ?? [] };
  },
});

/* ---------------- prune ---------------- */

export const pruneContainers = defineOperation({
  name: 'prune_containers',
  category: 'containers',
  title: 'Remove stopped containers',
  description:
    'Removes every stopped container (created, exited, dead) matching the filters (POST /containers/prune). With dry_run it lists what would be removed, changing nothing.',
  params: z
    .object({
      filters: pruneFiltersParam.optional().describe('Which stopped containers: {until, label, "label!"}'),
      dry_run: dryRunParam,
      plan_id: planIdParam,
    })
    .strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, name}], space_reclaimed (bytes; an estimate from SizeRw with dry_run), dry_run}',
  resultSchema: pruneReport(prunedContainer, spaceReclaimed.describe("Bytes freed; for a dry run, the sum of the containers' SizeRw (an estimate)")).extend({ evidence: evidenceList }),
  async run(ctx, p) {
    // Relative times are resolved here once, so the dry run and the Engine use the same instant ("1d" is not a Go duration either).
    const f = resolvePruneFilters(p.filters);
    // Podman has no "dead" state and refuses a filter naming it.
    const stopped = (await ctx.ping()).libpodVersion ? ['created', 'exited'] : ['created', 'exited', 'dead'];
    const listed = await ctx.json<ContainerSummary[]>({
      method: 'GET',
      path: '/containers/json',
      query: { all: true, size: true, filters: { status: stopped, ...(f.label.length ? { label: f.label } : {}) } },
    });
    const candidates = await containersToPrune(ctx, listed.body ?? [], f);
    if (p.dry_run) {
      return {
        deleted: candidates.map((c) => ({ id: c.Id, name: firstName(c.Names) })),
        space_reclaimed: candidates.reduce((sum, c) => sum + (c.SizeRw ?? 0), 0),
        dry_run: true,
      };
    }
    const names = new Map(candidates.map((c) => [c.Id, firstName(c.Names)]));
    const res = await runContainerPrune(ctx, f);
    return { deleted: res.ids.map((id) => ({ id, name: names.get(id) ?? null })), space_reclaimed: res.space_reclaimed, dry_run: false };
  },
  plan: {
    items: (_ctx, _p, r) => r.deleted.map((c) => ({ what: 'container', id: c.id, name: c.name })),
    async run(ctx, p, items) {
      const out = await removePlannedContainers(ctx, items, resolvePruneFilters(p.filters));
      return { ...out, dry_run: false };
    },
  },
});

/** Container object operations. */
export const containerOperations = [
  listContainers,
  inspectContainer,
  createContainer,
  renameContainer,
  removeContainer,
  containerTop,
  containerChanges,
  containerCommit,
  updateContainer,
  pruneContainers,
] as const;
