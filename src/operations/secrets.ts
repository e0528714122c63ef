/**
 * Swarm secrets and configs: list, inspect, create, remove for each. The two
 * are the same kind of object (a named payload a service mounts into its
 * tasks); a secret's payload is secret: it is sent to the Engine once, at
 * creation, and never logged, audited or returned (the parameters `data` and
 * `data_base64` are secret names for the one redaction, src/config/redact.ts).
 * Every Engine call goes through `swarmContext`, so a non-manager Engine or
 * one without Swarm (Podman) gives the clear error, and one still in use a
 * CONFLICT.
 */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { defineOperation, type OperationContext, type OperationPlan, type PlanItem } from './define.js';
import { dryRunParam, engineFilters, oneOrMany } from './shared/params.js';
import { GONE, identityChanged, planIdParam, singleItem, skip } from './shared/plan.js';
import { removalReport } from './shared/schemas/prune.js';
import { config, secret, type Config, type Secret } from './shared/schemas/secret.js';
import { configRef, secretRef, swarmContext } from './shared/swarm.js';

type Kind = 'secret' | 'config';

/** Swarm's rule for object names. */
const objectName = (kind: Kind) =>
  z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?$/, `expected a ${kind} name: letters, digits, "_", ".", "-", starting and ending with a letter or digit, at most 64 characters`)
    .describe(`Name of the new ${kind}`);

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Bigger than either Engine limit (secrets 500 KiB, configs 500 KiB or 1000 KiB): the Engine says which. */
const MAX_PAYLOAD_CHARS = 2 * 1024 * 1024;

function createParams(kind: Kind) {
  const what = kind === 'secret' ? 'The secret' : 'The config';
  return z
    .object({
      name: objectName(kind),
      data: z.string().min(1).max(MAX_PAYLOAD_CHARS).optional().describe(`${what}'s content as text (UTF-8); give this or data_base64`),
      data_base64: z.string().min(4).max(MAX_PAYLOAD_CHARS).regex(BASE64, 'expected standard base64 (A-Z, a-z, 0-9, "+", "/", "=" padding)').optional().describe(`${what}'s content as base64 (any bytes); give this or data`),
      labels: z.record(z.string().min(1), z.string()).optional().describe('Labels: {"key": "value"}'),
    })
    .strict()
    .refine((p) => (p.data === undefined) !== (p.data_base64 === undefined), { message: 'give exactly one of data (text) and data_base64', path: ['data'] })
    // The rule beyond the fields, in the published JSON Schema too (a refinement does not export).
    .meta({ oneOf: [{ properties: { data: { type: 'string' } }, required: ['data'] }, { properties: { data_base64: { type: 'string' } }, required: ['data_base64'] }] });
}

const created = (kind: Kind) =>
  z.strictObject({
    id: z.string().describe(`Id of the new ${kind}`),
    name: z.string().describe(`Its name`),
  });

const removed = (kind: Kind) => removalReport(z.strictObject({ id: z.string().describe(`${kind} id`), name: z.string().describe(`${kind} name`) }));

/** The Engine filters secrets by id, label, name and names (exact); configs by id, label and name only ("names" is a 400). */
const commonFilters = (kind: Kind) => ({
  id: oneOrMany(z.string().min(1)).describe(`${kind} id`),
  label: oneOrMany(z.string().min(1)).describe('"key" or "key=value"'),
  name: oneOrMany(z.string().min(1)).describe(`${kind} name, or its beginning`),
});
const secretFilters = engineFilters({ ...commonFilters('secret'), names: oneOrMany(z.string().min(1)).describe('Exact secret name') })
  .optional()
  .describe('Filters: id, label, name, names; each one value or a list (any of them matches)');
const configFilters = engineFilters(commonFilters('config')).optional().describe('Filters: id, label, name; each one value or a list (any of them matches)');

/** A secret as the connector returns it: its data is dropped, should an Engine ever send it. */
function withoutData(s: Secret): Secret {
  if (!s?.Spec || !('Data' in s.Spec)) return s;
  const { Data: _data, ...spec } = s.Spec as Secret['Spec'] & { Data?: unknown };
  return { ...s, Spec: spec };
}

async function createObject(ctx: OperationContext, kind: Kind, p: { name: string; data?: string; data_base64?: string; labels?: Record<string, string> }): Promise<{ id: string; name: string }> {
  const Data = p.data_base64 ?? Buffer.from(p.data!, 'utf8').toString('base64');
  const res = await swarmContext(ctx).json<{ ID: string }>({ method: 'POST', path: `/${kind}s/create`, body: { Name: p.name, Labels: p.labels, Data } });
  return { id: res.body.ID, name: p.name };
}

/** Services whose task template mounts the secret or config with this id. */
async function usersOf(ctx: OperationContext, kind: Kind, id: string): Promise<string[]> {
  type Ref = { SecretID?: string; ConfigID?: string };
  type Service = { Spec?: { Name?: string; TaskTemplate?: { ContainerSpec?: { Secrets?: Ref[] | null; Configs?: Ref[] | null } } } };
  let services: Service[];
  try {
    services = (await swarmContext(ctx).json<Service[] | null>({ method: 'GET', path: '/services' })).body ?? [];
  } catch (err) {
    // Podman has secrets of its own but no services: nothing can be using one as a service secret.
    if (err instanceof ConnectorError && err.code === 'UNSUPPORTED') return [];
    throw err;
  }
  return services
    .filter((s) => {
      const spec = s.Spec?.TaskTemplate?.ContainerSpec;
      const refs = (kind === 'secret' ? spec?.Secrets : spec?.Configs) ?? [];
      return refs.some((r) => (kind === 'secret' ? r.SecretID : r.ConfigID) === id);
    })
    .map((s) => s.Spec?.Name ?? '?');
}

type Removal = { deleted: { id: string; name: string }[]; dry_run: boolean; skipped?: ReturnType<typeof skip>[] };

async function inspectObject(ctx: OperationContext, kind: Kind, ref: string): Promise<{ id: string; name: string }> {
  const obj = (await swarmContext(ctx).json<{ ID: string; Spec?: { Name?: string } }>({ method: 'GET', path: kind === 'secret' ? enginePath`/secrets/${ref}` : enginePath`/configs/${ref}` })).body;
  return { id: obj.ID, name: obj.Spec?.Name ?? ref };
}

async function deleteObject(ctx: OperationContext, kind: Kind, who: { id: string; name: string }): Promise<Removal> {
  // In use: the Engine refuses (400 "is in use by"), and swarmContext makes that a CONFLICT.
  await swarmContext(ctx).json({ method: 'DELETE', path: kind === 'secret' ? enginePath`/secrets/${who.id}` : enginePath`/configs/${who.id}` });
  return { deleted: [who], dry_run: false };
}

async function removeObject(ctx: OperationContext, kind: Kind, ref: string, dryRun: boolean): Promise<Removal> {
  const who = await inspectObject(ctx, kind, ref);
  if (!dryRun) return deleteObject(ctx, kind, who);
  // The dry run refuses what the real call would refuse: a secret or config a service still mounts.
  const users = await usersOf(ctx, kind, who.id);
  if (users.length) {
    throw new ConnectorError('CONFLICT', `The ${kind} ${who.name} is in use by service(s) ${users.join(', ')}: remove it from the service (update_service) or remove the service first`, {
      status: 400,
      operation: ctx.operation,
      details: { [kind]: who, services: users },
    });
  }
  return { deleted: [who], dry_run: true };
}

/** The plan of a removal: the id the dry run found; a name that now names another object is skipped. */
function removalPlan<P>(kind: Kind, refOf: (p: P) => string): OperationPlan<P, Removal> {
  return {
    items: (_ctx, _p, r) => singleItem(kind, r.deleted[0]?.id, r.deleted[0]?.name),
    async run(ctx, p, items: readonly PlanItem[]) {
      const item = items[0];
      if (!item) return { deleted: [], dry_run: false, skipped: [] };
      const now: { who?: { id: string; name: string } } = {};
      const changed = await identityChanged(item, async () => (now.who = await inspectObject(ctx, kind, refOf(p))).id);
      if (changed || !now.who) return { deleted: [], dry_run: false, skipped: [skip(item, changed ?? GONE)] };
      return { ...(await deleteObject(ctx, kind, now.who)), skipped: [] };
    },
  };
}

// --- secrets ---

export const listSecrets = defineOperation({
  name: 'list_secrets',
  category: 'swarm',
  title: 'List secrets',
  description: "Swarm secrets (GET /secrets): id, name, labels, driver, versions and times; never their data (the Engine does not return it). Needs a swarm manager.",
  params: z.object({ filters: secretFilters }).strict(),
  safety: 'read',
  idempotent: true,
  result: "[the Engine's secret objects (ID, Version, CreatedAt, UpdatedAt, Spec {Name, Labels, Driver, Templating}); never the data]",
  resultSchema: z.array(secret).describe("The Engine's secret objects"),
  async run(ctx, p) {
    const res = await swarmContext(ctx).json<Secret[] | null>({ method: 'GET', path: '/secrets', query: { filters: normalizeFilters(p.filters) } });
    return (res.body ?? []).map(withoutData);
  },
});

export const inspectSecret = defineOperation({
  name: 'inspect_secret',
  category: 'swarm',
  title: 'Inspect a secret',
  description: 'One Swarm secret (GET /secrets/{id}): its name, labels, driver, version and times; never its data. Needs a swarm manager.',
  params: z.object({ secret: secretRef }).strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's secret object (never the data)",
  resultSchema: secret,
  async run(ctx, p) {
    return withoutData((await swarmContext(ctx).json<Secret>({ method: 'GET', path: enginePath`/secrets/${p.secret}` })).body);
  },
});

export const createSecret = defineOperation({
  name: 'create_secret',
  category: 'swarm',
  title: 'Create a secret',
  description:
    'Creates a Swarm secret (POST /secrets/create) from `data` (text) or `data_base64` (any bytes): exactly one. The content goes to the Engine only: it is never logged, audited or returned, and no operation reads it back (a service mounts it into its tasks, by default at /run/secrets/<name>). A name in use is a CONFLICT. Needs a swarm manager.',
  params: createParams('secret'),
  safety: 'write',
  // A repeat is a CONFLICT (name in use), never a second secret.
  idempotent: false,
  result: '{id, name}',
  resultSchema: created('secret'),
  async run(ctx, p) {
    return createObject(ctx, 'secret', p);
  },
});

export const removeSecret = defineOperation({
  name: 'remove_secret',
  category: 'swarm',
  title: 'Remove a secret',
  description:
    'Removes a Swarm secret (DELETE /secrets/{id}). One a service still uses is a CONFLICT (remove it from the service or remove the service first). `dry_run` checks (exists, not in use) without removing and returns a plan_id: given to the real call, it removes that very object only (one re-created under the name since is skipped). Needs a swarm manager.',
  params: z.object({ secret: secretRef, dry_run: dryRunParam, plan_id: planIdParam }).strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, name}], dry_run}',
  resultSchema: removed('secret'),
  async run(ctx, p) {
    return removeObject(ctx, 'secret', p.secret, p.dry_run);
  },
  plan: removalPlan('secret', (p: { secret: string }) => p.secret),
});

// --- configs ---

export const listConfigs = defineOperation({
  name: 'list_configs',
  category: 'swarm',
  title: 'List configs',
  description: "Swarm configs (GET /configs): id, name, labels, data (base64), versions and times. Needs a swarm manager.",
  params: z.object({ filters: configFilters }).strict(),
  safety: 'read',
  idempotent: true,
  result: "[the Engine's config objects (ID, Version, CreatedAt, UpdatedAt, Spec {Name, Labels, Data (base64), Templating})]",
  resultSchema: z.array(config).describe("The Engine's config objects"),
  async run(ctx, p) {
    const res = await swarmContext(ctx).json<Config[] | null>({ method: 'GET', path: '/configs', query: { filters: normalizeFilters(p.filters) } });
    return res.body ?? [];
  },
});

export const inspectConfig = defineOperation({
  name: 'inspect_config',
  category: 'swarm',
  title: 'Inspect a config',
  description: 'One Swarm config (GET /configs/{id}): its name, labels, data (base64), version and times. Needs a swarm manager.',
  params: z.object({ config: configRef }).strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's config object",
  resultSchema: config,
  async run(ctx, p) {
    return (await swarmContext(ctx).json<Config>({ method: 'GET', path: enginePath`/configs/${p.config}` })).body;
  },
});

export const createConfig = defineOperation({
  name: 'create_config',
  category: 'swarm',
  title: 'Create a config',
  description:
    'Creates a Swarm config (POST /configs/create) from `data` (text) or `data_base64` (any bytes): exactly one. A service mounts it into its tasks (by default at /<name>). Configs are not secret: inspect_config returns the data; use create_secret for anything sensitive. A name in use is a CONFLICT. Needs a swarm manager.',
  params: createParams('config'),
  safety: 'write',
  // A repeat is a CONFLICT (name in use), never a second config.
  idempotent: false,
  result: '{id, name}',
  resultSchema: created('config'),
  async run(ctx, p) {
    return createObject(ctx, 'config', p);
  },
});

export const removeConfig = defineOperation({
  name: 'remove_config',
  category: 'swarm',
  title: 'Remove a config',
  description:
    'Removes a Swarm config (DELETE /configs/{id}). One a service still uses is a CONFLICT (remove it from the service or remove the service first). `dry_run` checks (exists, not in use) without removing and returns a plan_id: given to the real call, it removes that very object only (one re-created under the name since is skipped). Needs a swarm manager.',
  params: z.object({ config: configRef, dry_run: dryRunParam, plan_id: planIdParam }).strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, name}], dry_run}',
  resultSchema: removed('config'),
  async run(ctx, p) {
    return removeObject(ctx, 'config', p.config, p.dry_run);
  },
  plan: removalPlan('config', (p: { config: string }) => p.config),
});

export const secretOperations = [listSecrets, inspectSecret, createSecret, removeSecret, listConfigs, inspectConfig, createConfig, removeConfig] as const;
