/**
 * Swarm service operations: list, inspect, create, update, scale, roll back
 * and remove services. Updates are the Engine's read-modify-write with the
 * service's version, done here and retried when another writer got in first.
 */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { defineOperation, type OperationContext } from './define.js';
import { dryRunParam, engineFilters, oneOrMany } from './shared/params.js';
import { GONE, identityChanged, planIdParam, singleItem, skip } from './shared/plan.js';
import { splitReference } from './shared/image-refs.js';
import { registryCall, registryOf, resolveRegistryAuth } from './shared/registry-access.js';
import { removalReport } from './shared/schemas/prune.js';
import { service, type Service } from './shared/schemas/swarm-nodes-services.js';
import {
  compact,
  deepMerge,
  envList,
  envParam,
  fileRefEntry,
  fileRefName,
  friendlySpecFragment,
  labelsParam,
  mergeEnv,
  mergeLabels,
  rawSpecParam,
  serviceName,
  specFields,
  type FileRef,
} from './shared/service-spec.js';
import { serviceRef, swarmContext, writeWithVersion } from './shared/swarm.js';

type Json = Record<string, unknown>;

const NOT_MANAGER_NOTE = 'On an Engine that is not a swarm manager the call fails with UNAVAILABLE saying so; on one without Swarm (Podman) with UNSUPPORTED.';

async function getService(ctx: OperationContext, ref: string): Promise<Service> {
  return (await ctx.json<Service>({ method: 'GET', path: enginePath`/services/${ref}`, query: { insertDefaults: false } })).body;
}

/** Secret or config references → their ids and names, as the ContainerSpec needs them; the data is never read. */
async function resolveFileRefs(ctx: OperationContext, kind: 'secret' | 'config', refs: FileRef[] | undefined): Promise<Json[] | undefined> {
  if (!refs) return undefined;
  const out: Json[] = [];
  for (const ref of refs) {
    const name = fileRefName(kind, ref);
    try {
      const obj = (await ctx.json<{ ID: string; Spec?: { Name?: string } }>({ method: 'GET', path: enginePath`/${kind}s/${name}` })).body;
      out.push(fileRefEntry(kind, ref, { id: obj.ID, name: obj.Spec?.Name ?? name }));
    } catch (err) {
      if (err instanceof ConnectorError && err.code === 'NOT_FOUND') {
        throw new ConnectorError('NOT_FOUND', `Parameter ${kind}s names ${kind} "${name}", which this swarm does not have; create it with create_${kind}`, {
          status: 404,
          operation: ctx.operation,
          details: { parameters: [`${kind}s`], [kind]: name },
        });
      }
      throw err;
    }
  }
  return out;
}

/** image@digest from the image's registry (resolve_image), as the docker CLI pins service images. */
async function resolveImage(ctx: OperationContext, image: string): Promise<string> {
  const ref = splitReference(image);
  if (ref.digest) return image;
  const reference = `${ref.repo}:${ref.tag ?? 'latest'}`;
  const auth = await resolveRegistryAuth(ctx, registryOf(ref.repo), undefined);
  return registryCall(auth.secrets, async () => {
    const res = await ctx.json<{ Descriptor: { digest: string } }>({
      method: 'GET',
      path: enginePath`/distribution/${reference}/json`,
      headers: auth.header ? { 'x-registry-auth': auth.header } : undefined,
    });
    return `${reference}@${res.body.Descriptor.digest}`;
  });
}

function isGlobal(spec: Service['Spec']): boolean {
  return !!spec.Mode && !spec.Mode.Replicated && !spec.Mode.ReplicatedJob;
}

function notReplicated(ctx: OperationContext, s: Service): ConnectorError {
  return new ConnectorError('CONFLICT', `Service ${s.Spec.Name ?? s.ID} is not replicated (global services run one task per node): replicas cannot be set`, {
    operation: ctx.operation,
    details: { parameters: ['replicas'], service: s.Spec.Name ?? s.ID },
  });
}

const warnings = z.array(z.string()).describe("Warnings the Engine gave (e.g. an image it could not check); [] when none");
const removedService = z.strictObject({
  id: z.string().describe('Service id'),
  name: z.string().describe('Service name'),
  tasks: z.number().int().min(0).describe('Its tasks not yet shut down, which stop with it'),
});

const updateResult = z.strictObject({
  service: service.describe('The service after the change (its tasks converge on it in the background)'),
  warnings,
});

/* ---------------- list / inspect ---------------- */

/** Spec parameters create_service sets and update_service replaces whole when named. */
const replacedSpecFields = {
  networks: specFields.networks.optional(),
  publish: specFields.publish.optional(),
  mounts: specFields.mounts.optional(),
  secrets: specFields.secrets.optional(),
  configs: specFields.configs.optional(),
  constraints: specFields.constraints.optional(),
  resources: specFields.resources.optional(),
  restart_policy: specFields.restart_policy.optional(),
  update_config: specFields.update_config.optional(),
  endpoint_mode: specFields.endpoint_mode.optional(),
};

export const listServices = defineOperation({
  name: 'list_services',
  category: 'swarm',
  title: 'List services',
  description: `The swarm's services (GET /services). With \`status: true\` each carries ServiceStatus: RunningTasks and DesiredTasks. ${NOT_MANAGER_NOTE}`,
  params: z
    .object({
      filters: engineFilters({
        id: oneOrMany(z.string().min(1)).describe('Service id or its beginning'),
        label: oneOrMany(z.string().min(1)).describe('"key" or "key=value"'),
        mode: oneOrMany(z.enum(['replicated', 'global'])).describe('"replicated" or "global"'),
        name: oneOrMany(z.string().min(1)).describe('Service name or its beginning'),
      })
        .optional()
        .describe('Filters: id, label, mode, name'),
      status: z.boolean().default(false).describe('Add ServiceStatus (RunningTasks, DesiredTasks) to each service'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: "{services: [the Engine's service objects]}",
  resultSchema: z.strictObject({ services: z.array(service).describe("The Engine's service objects") }),
  async run(ctx, p) {
    const res = await swarmContext(ctx).json<Service[] | null>({ method: 'GET', path: '/services', query: { filters: normalizeFilters(p.filters), status: p.status || undefined } });
    return { services: res.body ?? [] };
  },
});

export const inspectService = defineOperation({
  name: 'inspect_service',
  category: 'swarm',
  title: 'Inspect a service',
  description: `One service (GET /services/{id}): its spec, the previous spec a rollback restores, its endpoint and the state of its last update. ${NOT_MANAGER_NOTE}`,
  params: z.object({ service: serviceRef }).strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's service object (ID, Version, Spec, PreviousSpec, Endpoint, UpdateStatus)",
  resultSchema: service,
  async run(ctx, p) {
    return getService(swarmContext(ctx), p.service);
  },
});

/* ---------------- create ---------------- */

export const createService = defineOperation({
  name: 'create_service',
  category: 'swarm',
  title: 'Create a service',
  description: `Creates a swarm service (POST /services/create) from friendly parameters: name, image, command, args, replicas or mode "global", env, labels, networks, publish, mounts, secrets and configs (by reference: their data never passes here), constraints, resources, restart_policy, update_config, endpoint_mode; \`spec\` takes more of the Engine's ServiceSpec, merged underneath. The image is used as given unless resolve_image is true, so offline Engines work. ${NOT_MANAGER_NOTE}`,
  params: z
    .object({
      name: serviceName.optional().describe('Service name, a DNS label (default: the Engine picks one)'),
      ...specFields,
      image: specFields.image,
      command: specFields.command.optional(),
      args: specFields.args.optional(),
      mode: z.enum(['replicated', 'global']).default('replicated').describe('"replicated" (replicas tasks) or "global" (one task per node)'),
      replicas: specFields.replicas.optional().describe('Number of tasks (replicated services; default 1)'),
      env: envParam.optional().describe('Environment of the tasks: {"KEY": "value"}'),
      labels: labelsParam.optional().describe('Service labels: {"key": "value"}'),
      container_labels: labelsParam.optional().describe("Labels of the tasks' containers"),
      ...replacedSpecFields,
      spec: rawSpecParam.optional(),
    })
    .strict()
    .superRefine((p, issue) => {
      if (p.mode === 'global' && p.replicas !== undefined) issue.addIssue({ code: 'custom', path: ['replicas'], message: 'a global service runs one task per node: leave replicas out or use mode "replicated"' });
    }),
  safety: 'write',
  // Sent twice, a service without a name would be created twice.
  idempotent: false,
  result: '{id, name, warnings}',
  resultSchema: z.strictObject({ id: z.string().describe('Id of the new service'), name: z.string().describe('Its name'), warnings }),
  async run(ctx, p) {
    const sctx = swarmContext(ctx);
    const image = p.resolve_image ? await resolveImage(sctx, p.image) : p.image;
    const [secrets, configs] = [await resolveFileRefs(sctx, 'secret', p.secrets), await resolveFileRefs(sctx, 'config', p.configs)];
    const fragment = friendlySpecFragment({ ...p, image, replicas: p.mode === 'replicated' ? (p.replicas ?? 1) : undefined });
    const named: Json = deepMerge(fragment, {
      Name: p.name,
      Labels: p.labels,
      Mode: p.mode === 'global' ? { Global: {} } : undefined,
      TaskTemplate: { ContainerSpec: { Env: p.env ? envList(p.env) : undefined, Labels: p.container_labels, Secrets: secrets, Configs: configs } },
    });
    const spec = compact(deepMerge(p.spec ?? {}, named));
    const res = await sctx.json<{ ID: string; Warnings?: string[] | null }>({ method: 'POST', path: '/services/create', body: spec });
    const created = await getService(sctx, res.body.ID);
    return { id: res.body.ID, name: created.Spec.Name ?? '', warnings: res.body.Warnings ?? [] };
  },
});

/* ---------------- update / scale / rollback ---------------- */

/** Writes a new spec for the service with the version read; rebuilt and written again if another writer got in first. */
async function writeSpec(
  ctx: OperationContext,
  ref: string,
  build: (current: Service) => Json | Promise<Json>,
  query: Record<string, string> = {},
): Promise<z.output<typeof updateResult>> {
  const res = await writeWithVersion(ctx, () => getService(ctx, ref), async (current, version) => {
    const spec = compact(await build(current));
    return ctx.json<{ Warnings?: string[] | null }>({ method: 'POST', path: enginePath`/services/${current.ID}/update`, query: { version, ...query }, body: spec });
  });
  return { service: await getService(ctx, ref), warnings: res.body?.Warnings ?? [] };
}

export const updateService = defineOperation({
  name: 'update_service',
  category: 'swarm',
  title: 'Update a service',
  description: `Changes what it names and keeps the rest (POST /services/{id}/update), like docker service update: \`env\` adds or replaces the named variables and \`env_remove\` drops names; \`labels\` / \`labels_remove\` and \`container_labels\` / \`container_labels_remove\` likewise; image, command, args, replicas, resources, networks, publish, mounts, secrets, configs, constraints and endpoint_mode replace their field; restart_policy and update_config change the keys they name; \`force\` redeploys the tasks even without a change; \`spec\` (Engine field names) is merged in underneath. The connector reads the service and writes it back with its version, reading again when another writer got in first. ${NOT_MANAGER_NOTE}`,
  params: z
    .object({
      service: serviceRef,
      image: specFields.image.optional(),
      command: specFields.command.optional(),
      args: specFields.args.optional(),
      replicas: specFields.replicas.optional(),
      env: envParam.optional().describe('Variables to add or replace: {"KEY": "value"}; the others are kept'),
      env_remove: z.array(z.string().min(1)).optional().describe('Names of variables to drop'),
      labels: labelsParam.optional().describe('Service labels to add or replace; the others are kept'),
      labels_remove: z.array(z.string().min(1)).optional().describe('Service label keys to drop'),
      container_labels: labelsParam.optional().describe("Labels of the tasks' containers to add or replace"),
      container_labels_remove: z.array(z.string().min(1)).optional().describe("Container label keys to drop"),
      ...replacedSpecFields,
      resolve_image: specFields.resolve_image,
      force: z.boolean().default(false).describe('Redeploy the tasks even if nothing else changes'),
      spec: rawSpecParam.optional(),
    })
    .strict(),
  safety: 'write',
  // Each write names the version it read: sent again, it is rebuilt on the newest spec with the same outcome.
  idempotent: true,
  result: "{service: the Engine's service object after the change, warnings}",
  resultSchema: updateResult,
  async run(ctx, p) {
    const sctx = swarmContext(ctx);
    const image = p.image && p.resolve_image ? await resolveImage(sctx, p.image) : p.image;
    const [secrets, configs] = [await resolveFileRefs(sctx, 'secret', p.secrets), await resolveFileRefs(sctx, 'config', p.configs)];
    return writeSpec(sctx, p.service, (current) => {
      if (p.replicas !== undefined && isGlobal(current.Spec)) throw notReplicated(ctx, current);
      const base = deepMerge(current.Spec as Json, p.spec ?? {});
      const cs = (current.Spec.TaskTemplate?.ContainerSpec ?? {}) as { Env?: string[] | null; Labels?: Record<string, string> | null };
      const next = deepMerge(base, friendlySpecFragment({ ...p, image }));
      const task = next.TaskTemplate as Json;
      const containerSpec = task.ContainerSpec as Json;
      if (p.env || p.env_remove) containerSpec.Env = mergeEnv(cs.Env, p.env, p.env_remove);
      if (p.container_labels || p.container_labels_remove) containerSpec.Labels = mergeLabels(cs.Labels, p.container_labels, p.container_labels_remove);
      if (p.labels || p.labels_remove) next.Labels = mergeLabels(current.Spec.Labels, p.labels, p.labels_remove);
      if (secrets) containerSpec.Secrets = secrets;
      if (configs) containerSpec.Configs = configs;
      // Resources replace the field as a whole (a limit not named is lifted), like the other named fields.
      if (p.resources) task.Resources = (friendlySpecFragment({ resources: p.resources }).TaskTemplate as Json).Resources;
      if (p.force) task.ForceUpdate = ((current.Spec.TaskTemplate?.ForceUpdate as number | undefined) ?? 0) + 1;
      return next;
    });
  },
});

export const scaleService = defineOperation({
  name: 'scale_service',
  category: 'swarm',
  title: 'Scale a service',
  description: `Sets the number of tasks of a replicated service (its spec's replicas; 0 stops them all and keeps the service). A global service is a CONFLICT. The read-modify-write with the service's version is done here, retried when another writer got in first. ${NOT_MANAGER_NOTE}`,
  params: z.object({ service: serviceRef, replicas: specFields.replicas }).strict(),
  safety: 'write',
  idempotent: true,
  result: "{service: the Engine's service object after the change, warnings}",
  resultSchema: updateResult,
  async run(ctx, p) {
    return writeSpec(swarmContext(ctx), p.service, (current) => {
      if (isGlobal(current.Spec)) throw notReplicated(ctx, current);
      const mode = current.Spec.Mode?.ReplicatedJob ? { ReplicatedJob: { ...current.Spec.Mode.ReplicatedJob, MaxConcurrent: p.replicas } } : { Replicated: { Replicas: p.replicas } };
      return { ...(current.Spec as Json), Mode: mode };
    });
  },
});

export const rollbackService = defineOperation({
  name: 'rollback_service',
  category: 'swarm',
  title: 'Roll a service back',
  description: `Returns a service to its previous spec (POST /services/{id}/update?rollback=previous), as docker service rollback: the spec before the last update (PreviousSpec) becomes the spec again. A service never updated has nothing to roll back to: CONFLICT. ${NOT_MANAGER_NOTE}`,
  params: z.object({ service: serviceRef }).strict(),
  safety: 'write',
  // Sent twice, a second rollback would return to the spec the first one left: not repeated.
  idempotent: false,
  result: "{service: the Engine's service object after the rollback, warnings}",
  resultSchema: updateResult,
  async run(ctx, p) {
    return writeSpec(
      swarmContext(ctx),
      p.service,
      (current) => {
        if (!current.PreviousSpec) {
          throw new ConnectorError('CONFLICT', `Service ${current.Spec.Name ?? current.ID} has no previous spec to roll back to (it was never updated)`, { operation: ctx.operation });
        }
        return current.Spec as Json;
      },
      { rollback: 'previous' },
    );
  },
});

/* ---------------- remove ---------------- */

export const removeService = defineOperation({
  name: 'remove_service',
  category: 'swarm',
  title: 'Remove a service',
  description: `Removes a service and so stops all its tasks (DELETE /services/{id}). \`dry_run\` names the service and how many tasks it has without removing anything; its plan_id makes the real call remove that very service only (one re-created under the same name is skipped). ${NOT_MANAGER_NOTE}`,
  params: z.object({ service: serviceRef, dry_run: dryRunParam, plan_id: planIdParam }).strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, name, tasks}], dry_run}',
  resultSchema: removalReport(removedService),
  async run(ctx, p) {
    const sctx = swarmContext(ctx);
    const s = await getService(sctx, p.service);
    if (p.dry_run) return { deleted: [await serviceEntry(sctx, s)], dry_run: true };
    return deleteService(sctx, s);
  },
  plan: {
    items: (_ctx, _p, r) => singleItem('service', r.deleted[0]?.id, r.deleted[0]?.name),
    // The plan pins the service id: a name that now names another service is skipped.
    async run(ctx, p, items) {
      const item = items[0];
      if (!item) return { deleted: [], dry_run: false, skipped: [] };
      const sctx = swarmContext(ctx);
      const now: { s?: Service } = {};
      const changed = await identityChanged(item, async () => (now.s = await getService(sctx, p.service)).ID);
      if (changed || !now.s) return { deleted: [], dry_run: false, skipped: [skip(item, changed ?? GONE)] };
      return { ...(await deleteService(sctx, now.s)), skipped: [] };
    },
  },
});

/** The service as a removal report names it, with its tasks not yet shut down. */
async function serviceEntry(ctx: OperationContext, s: Service): Promise<z.output<typeof removedService>> {
  const tasks = (await ctx.json<{ DesiredState?: string }[] | null>({ method: 'GET', path: '/tasks', query: { filters: { service: [s.ID] } } })).body ?? [];
  return { id: s.ID, name: s.Spec.Name ?? '', tasks: tasks.filter((t) => t.DesiredState !== 'shutdown').length };
}

async function deleteService(ctx: OperationContext, s: Service) {
  const entry = await serviceEntry(ctx, s);
  await ctx.json({ method: 'DELETE', path: enginePath`/services/${s.ID}`, ignoreBody: true });
  return { deleted: [entry], dry_run: false };
}

/** Service operations. */
export const serviceOperations = [listServices, inspectService, createService, updateService, scaleService, rollbackService, removeService] as const;
