/**
 * create_service's and update_service's friendly parameters and how they
 * become the Engine's ServiceSpec: pure functions (no Engine), so the
 * merge rules (env adds and replaces, env_remove drops, …) are unit-tested.
 */
import * as z from 'zod';
import { ParamError, parseCpus, parseSize, toArgv } from './container-params.js';
import { engineFields, parsedWith } from './container-schemas.js';
import { durationToSeconds, DURATION_PATTERN, imageRef } from './params.js';
import { secretRef, configRef } from './swarm.js';

type Json = Record<string, unknown>;

/* ---------------- parameters ---------------- */

/** A service name: the Engine takes only DNS labels (letters, digits, "-"; 63 characters). */
export const serviceName = z
  .string()
  .max(63)
  .regex(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/, 'expected a service name of letters, digits and "-" (a DNS label: no "_" or ".", not starting or ending with "-")');

/** A duration as "10s", "1m30s"-free forms ("90s", "1.5m", "500ms") or seconds → nanoseconds. */
export const durationParam = parsedWith(z.union([z.number().nonnegative(), z.string().regex(DURATION_PATTERN, 'expected a duration like "10s", "500ms", "2m", or a number of seconds')]), (v) => {
  const s = typeof v === 'number' ? v : durationToSeconds(v);
  if (s === undefined) throw new ParamError('expected a duration like "10s", "500ms", "2m"');
  return Math.round(s * 1e9);
});

const envValue = z.union([z.string(), z.number(), z.boolean()]);
export const envParam = z.record(z.string().regex(/^[^=\0]+$/, 'variable names must be non-empty and contain no "="'), envValue);
export const labelsParam = z.record(z.string().min(1), z.string());
const commandParam = parsedWith(z.union([z.string(), z.array(z.string()).min(1)]), toArgv);

const portParam = z
  .object({
    target: z.number().int().min(1).max(65535).describe('Port inside the container'),
    published: z.number().int().min(1).max(65535).optional().describe('Port on the node (default: the Engine picks one in ingress mode)'),
    protocol: z.enum(['tcp', 'udp', 'sctp']).default('tcp').describe('"tcp" (default), "udp" or "sctp"'),
    mode: z.enum(['ingress', 'host']).default('ingress').describe('"ingress": the routing mesh, every node answers; "host": only the node running a task, on its own address'),
  })
  .strict();

const mountParam = z
  .object({
    type: z.enum(['volume', 'bind', 'tmpfs']).default('volume').describe('"volume" (default), "bind" or "tmpfs"'),
    source: z.string().min(1).optional().describe('Volume name or host path (none for tmpfs; none for a new anonymous volume)'),
    target: z.string().regex(/^\//, 'expected an absolute path in the container').describe('Path in the container'),
    read_only: z.boolean().default(false).describe('Mount read-only'),
  })
  .strict();

const networkParam = z.union([
  z.string().min(1).max(256),
  z.object({ network: z.string().min(1).max(256).describe('Network id or name'), aliases: z.array(z.string().min(1)).optional().describe('Names the task is also reached by on it') }).strict(),
]);

/** A secret or config a task gets as a file: by reference (id or name), never by value. */
function fileRefParam(kind: 'secret' | 'config') {
  const ref = kind === 'secret' ? secretRef : configRef;
  return z.union([
    ref,
    z
      .object({
        [kind]: ref,
        target: z.string().min(1).optional().describe(kind === 'secret' ? 'File name under /run/secrets (default: the secret name)' : 'Path in the container (default: /<config name>)'),
        uid: z.string().regex(/^\d+$/).default('0').describe('File owner uid'),
        gid: z.string().regex(/^\d+$/).default('0').describe('File group gid'),
        mode: z.number().int().min(0).max(0o777).default(0o444).describe('File mode, e.g. 292 (0444)'),
      })
      .strict(),
  ]);
}
export const secretsParam = z.array(fileRefParam('secret')).describe('Secrets given to the tasks as files, by id or name (e.g. ["db-password"] or [{"secret": "db-password", "target": "db"}]); create them with create_secret. Data never passes here.');
export const configsParam = z.array(fileRefParam('config')).describe('Configs given to the tasks as files, by id or name (e.g. [{"config": "nginx-conf", "target": "/etc/nginx/nginx.conf"}])');
export type FileRef = z.output<ReturnType<typeof fileRefParam>>;

const resourceSet = z
  .object({
    cpus: parsedWith(z.union([z.number(), z.string()]), parseCpus).optional().describe('CPUs, e.g. 0.5'),
    memory: parsedWith(z.union([z.number(), z.string()]), (v) => parseSize(v)).optional().describe('Memory, bytes or "64m"'),
  })
  .strict();
export const resourcesParam = z
  .object({ limits: resourceSet.optional().describe('Most a task may use'), reservations: resourceSet.optional().describe('What a node must have free to run a task') })
  .strict()
  .describe('Resources per task: {limits: {cpus, memory}, reservations: {cpus, memory}}');

export const restartPolicyParam = z
  .object({
    condition: z.enum(['none', 'on-failure', 'any']).optional().describe('"none", "on-failure" or "any" (the Engine\'s default)'),
    delay: durationParam.optional().describe('Wait between restarts, e.g. "5s"'),
    max_attempts: z.number().int().min(0).optional().describe('Restarts before giving up (0: no limit)'),
    window: durationParam.optional().describe('Time a restart is judged over, e.g. "2m"'),
  })
  .strict()
  .describe('When tasks are restarted');

export const updateConfigParam = z
  .object({
    parallelism: z.number().int().min(0).optional().describe('Tasks updated at once (0: all)'),
    delay: durationParam.optional().describe('Wait between batches, e.g. "10s"'),
    failure_action: z.enum(['pause', 'continue', 'rollback']).optional().describe('What a failed update does'),
    monitor: durationParam.optional().describe('Time each task is watched for failure after its update'),
    max_failure_ratio: z.number().min(0).max(1).optional().describe('Share of failed tasks tolerated'),
    order: z.enum(['stop-first', 'start-first']).optional().describe('Stop the old task first, or start the new one first'),
  })
  .strict()
  .describe('How updates roll out');

/** Parameters create_service and update_service both take, each replacing its field. */
export const specFields = {
  image: imageRef.describe('Image of the tasks (used as given: no registry is asked unless resolve_image is true)'),
  command: commandParam.describe('Command, replacing the image\'s entrypoint: ["sh", "-c", "…"] or a simple string'),
  args: z.array(z.string()).describe("Arguments to the command (or to the image's entrypoint)"),
  replicas: z.number().int().min(0).max(10_000).describe('Number of tasks (replicated services)'),
  networks: z.array(networkParam).describe('Networks the tasks join, by id or name, or {network, aliases} (swarm-scoped networks: overlay)'),
  publish: z.array(portParam).describe('Published ports: [{target, published, protocol, mode}]'),
  mounts: z.array(mountParam).describe('Mounts: [{type, source, target, read_only}]'),
  secrets: secretsParam,
  configs: configsParam,
  constraints: z.array(z.string().min(1)).describe('Placement constraints, e.g. ["node.role==manager", "node.labels.zone==a"]'),
  resources: resourcesParam,
  restart_policy: restartPolicyParam,
  update_config: updateConfigParam,
  endpoint_mode: z.enum(['vip', 'dnsrr']).describe('"vip": one virtual IP load-balanced over the tasks; "dnsrr": DNS answers with the tasks\' addresses'),
  resolve_image: z.boolean().default(false).describe("Ask the image's registry for the digest and pin the tasks to it (as the docker CLI does). Default false: the image is used as given, so Engines without registry access work"),
};

export const rawSpecParam = engineFields.describe(
  'More of the Engine\'s ServiceSpec (PascalCase, e.g. {"TaskTemplate": {"ContainerSpec": {"StopGracePeriod": 5000000000}}}): merged underneath; the named parameters win',
);

/* ---------------- building the spec ---------------- */

export interface FriendlySpec {
  image?: string | undefined;
  command?: string[] | undefined;
  args?: string[] | undefined;
  replicas?: number | undefined;
  networks?: z.output<typeof networkParam>[] | undefined;
  publish?: z.output<typeof portParam>[] | undefined;
  mounts?: z.output<typeof mountParam>[] | undefined;
  constraints?: string[] | undefined;
  resources?: z.output<typeof resourcesParam> | undefined;
  restart_policy?: z.output<typeof restartPolicyParam> | undefined;
  update_config?: z.output<typeof updateConfigParam> | undefined;
  endpoint_mode?: 'vip' | 'dnsrr' | undefined;
}

/** A secret or config resolved by the Engine: its id and name. */
export interface ResolvedRef {
  id: string;
  name: string;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `over` merged onto `base`: objects merge key by key, anything else (arrays too) replaces; undefined leaves the base. */
export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Json, v) : v;
  }
  return out;
}

function resources(r: z.output<typeof resourceSet> | undefined): Json | undefined {
  if (!r) return undefined;
  return { NanoCPUs: r.cpus, MemoryBytes: r.memory };
}

export function envList(env: Record<string, string | number | boolean>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${String(v)}`);
}

/** The variable name of an Env entry ("K=v" or a bare "K"). */
function envName(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/**
 * `docker service update --env-add/--env-rm`: each variable of `add`
 * replaces the entry of that name in place or is appended; names in
 * `remove` are dropped; the rest is kept in order.
 */
export function mergeEnv(current: readonly string[] | null | undefined, add: Record<string, string | number | boolean> | undefined, remove: readonly string[] | undefined): string[] {
  const drop = new Set(remove ?? []);
  const adding = new Map(Object.entries(add ?? {}).map(([k, v]) => [k, `${k}=${String(v)}`]));
  const out: string[] = [];
  for (const entry of current ?? []) {
    const name = envName(entry);
    if (adding.has(name)) {
      out.push(adding.get(name)!);
      adding.delete(name);
    } else if (!drop.has(name)) {
      out.push(entry);
    }
  }
  for (const [name, entry] of adding) if (!drop.has(name)) out.push(entry);
  return out;
}

/** Labels with `add` set and `remove` dropped. */
export function mergeLabels(current: Record<string, string> | null | undefined, add: Record<string, string> | undefined, remove: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(current ?? {}), ...(add ?? {}) };
  for (const k of remove ?? []) delete out[k];
  return out;
}

/** A secret or config reference as the ContainerSpec lists it. */
export function fileRefEntry(kind: 'secret' | 'config', ref: FileRef, resolved: ResolvedRef): Json {
  const o = typeof ref === 'string' ? undefined : (ref as { target?: string; uid: string; gid: string; mode: number });
  const defaultTarget = kind === 'secret' ? resolved.name : `/${resolved.name}`;
  const file = { Name: o?.target ?? defaultTarget, UID: o?.uid ?? '0', GID: o?.gid ?? '0', Mode: o?.mode ?? 0o444 };
  return kind === 'secret' ? { SecretID: resolved.id, SecretName: resolved.name, File: file } : { ConfigID: resolved.id, ConfigName: resolved.name, File: file };
}

/** The reference a secrets/configs entry names. */
export function fileRefName(kind: 'secret' | 'config', ref: FileRef): string {
  return typeof ref === 'string' ? ref : ((ref as Record<string, unknown>)[kind] as string);
}

/**
 * The spec fragment the friendly parameters name (each replaces its field;
 * env, labels, secrets and configs are handled by the caller, which knows
 * whether it creates or updates).
 */
export function friendlySpecFragment(f: FriendlySpec): Json {
  const containerSpec: Json = { Image: f.image, Command: f.command, Args: f.args };
  if (f.mounts) {
    containerSpec.Mounts = f.mounts.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.read_only }));
  }
  const task: Json = { ContainerSpec: containerSpec };
  if (f.networks) task.Networks = f.networks.map((n) => (typeof n === 'string' ? { Target: n } : { Target: n.network, Aliases: n.aliases }));
  if (f.constraints) task.Placement = { Constraints: f.constraints };
  if (f.resources) task.Resources = { Limits: resources(f.resources.limits), Reservations: resources(f.resources.reservations) };
  if (f.restart_policy) {
    const r = f.restart_policy;
    task.RestartPolicy = { Condition: r.condition, Delay: r.delay, MaxAttempts: r.max_attempts, Window: r.window };
  }
  const spec: Json = { TaskTemplate: task };
  if (f.replicas !== undefined) spec.Mode = { Replicated: { Replicas: f.replicas } };
  if (f.update_config) {
    const u = f.update_config;
    spec.UpdateConfig = { Parallelism: u.parallelism, Delay: u.delay, FailureAction: u.failure_action, Monitor: u.monitor, MaxFailureRatio: u.max_failure_ratio, Order: u.order };
  }
  if (f.publish || f.endpoint_mode) {
    spec.EndpointSpec = {
      Mode: f.endpoint_mode,
      Ports: f.publish?.map((p) => ({ Protocol: p.protocol, TargetPort: p.target, PublishedPort: p.published, PublishMode: p.mode })),
    };
  }
  return spec;
}

/** Drops undefined values everywhere (JSON would drop them too; this keeps merges and comparisons exact). */
export function compact<T>(v: T): T {
  if (Array.isArray(v)) return v.map(compact) as T;
  if (isObject(v)) return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, compact(x)])) as T;
  return v;
}
