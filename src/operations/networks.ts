import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { containerRef, defineOperation, dryRunParam, timePointParam, toUnixSeconds, type OperationContext } from './define.js';

/* ---------------- shared building blocks ---------------- */

/** A network id, short id, or name. */
export const networkRef = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'expected a network id or name (letters, digits, "_", ".", "-")')
  .describe('Network id, short id, or name');

const stringList = z.union([z.string(), z.array(z.string())]);
const labelFilter = z.string().regex(/^[^=]+(=[\s\S]*)?$/, 'expected "key" or "key=value"');
const labelList = z.union([labelFilter, z.array(labelFilter)]);

/**
 * The filters every prune takes. The Engine's semantics: an object is pruned
 * when it carries every `label` entry, and is kept when it carries every
 * `label!` entry (one missing `label!` label is enough to prune it).
 */
export const pruneFiltersParam = z
  .object({
    label: labelList.optional().describe('Only objects carrying all of these labels: "key" or "key=value"'),
    'label!': labelList.optional().describe('Keep objects carrying all of these labels: "key" or "key=value"'),
    until: timePointParam.optional().describe('Only objects created before this time: "24h" (a day ago), unix seconds or RFC 3339'),
  })
  .strict();
export type PruneFilters = z.output<typeof pruneFiltersParam>;

/** Prune filters resolved once, so a dry run and the real prune use the same cut-off time. */
export interface ResolvedPruneFilters {
  label: string[];
  labelNot: string[];
  /** Unix seconds, or undefined for no time limit. */
  until: number | undefined;
}

export function resolvePruneFilters(filters: PruneFilters | undefined, now: number = Date.now()): ResolvedPruneFilters {
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  return {
    label: list(filters?.label),
    labelNot: list(filters?.['label!']),
    until: filters?.until === undefined ? undefined : toUnixSeconds(filters.until, now),
  };
}

/** The filters as the Engine's prune endpoints take them (until as absolute unix seconds). */
export function engineFilters(f: ResolvedPruneFilters, withUntil = true): Record<string, string[]> {
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

/** Whether an object created at `created` (unix seconds or an RFC 3339 string) passes an `until` filter. */
export function createdBefore(created: number | string | undefined, until: number | undefined): boolean {
  if (until === undefined) return true;
  const t = typeof created === 'number' ? created : created ? Date.parse(created) / 1000 : NaN;
  return Number.isNaN(t) || t <= until;
}

/** Prunes walk every object and may take a while on a busy Engine. */
export function pruneTimeoutMs(ctx: OperationContext): number {
  return Math.max(ctx.config.timeout, 300) * 1000;
}

export function engineMessageOf(err: ConnectorError): string {
  const m = err.details?.engine_message;
  return typeof m === 'string' ? m : err.message;
}

/** The Engine answers 403 for network rules (pre-defined network, active endpoints): a conflict, not an access problem. */
function asConflict(err: unknown, ctx: OperationContext, what: string): unknown {
  if (err instanceof ConnectorError && err.status === 403 && typeof err.details?.engine_message === 'string') {
    return new ConnectorError('CONFLICT', `${what}: ${err.details.engine_message}`, { status: 403, operation: ctx.operation, details: err.details });
  }
  return err;
}

/* ---------------- IP address checks (before anything is sent) ---------------- */

interface ParsedIp {
  bits: 32 | 128;
  value: bigint;
}

function parseIpv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(Number(p));
  }
  return v;
}

function parseIpv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.split('::').length > 2) return undefined;
  const groups: number[] = [];
  const parseSide = (side: string, allowV4Tail: boolean): number[] | undefined => {
    if (side === '') return [];
    const out: number[] = [];
    const items = side.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (allowV4Tail && i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const [head, tail] = s.split('::') as [string, string | undefined];
  if (tail === undefined) {
    const all = parseSide(head, true);
    if (!all || all.length !== 8) return undefined;
    groups.push(...all);
  } else {
    const left = parseSide(head, false);
    const right = parseSide(tail, true);
    if (!left || !right || left.length + right.length > 7) return undefined;
    groups.push(...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right);
  }
  return groups.reduce((v, g) => (v << 16n) | BigInt(g), 0n);
}

export function parseIp(s: string): ParsedIp | undefined {
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return { bits: 32, value: v4 };
  const v6 = s.includes(':') ? parseIpv6(s) : undefined;
  return v6 === undefined ? undefined : { bits: 128, value: v6 };
}

export interface ParsedCidr extends ParsedIp {
  prefix: number;
}

export function parseCidr(s: string): ParsedCidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const prefixText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  return prefix > ip.bits ? undefined : { ...ip, prefix };
}

/** Whether `inner` (an address, or a range with its own prefix) lies inside `outer`. */
export function cidrContains(outer: ParsedCidr, inner: ParsedIp & { prefix?: number }): boolean {
  if (outer.bits !== inner.bits) return false;
  if (inner.prefix !== undefined && inner.prefix < outer.prefix) return false;
  const shift = BigInt(outer.bits - outer.prefix);
  return outer.value >> shift === inner.value >> shift;
}

const ipText = z.string().refine((s) => parseIp(s) !== undefined, 'expected an IPv4 or IPv6 address');
const cidrText = z.string().refine((s) => parseCidr(s) !== undefined, 'expected a subnet in CIDR notation, e.g. 172.30.0.0/16 or fd00:1::/64');

export interface IpamPoolInput {
  subnet?: string;
  gateway?: string;
  ip_range?: string;
  aux_addresses?: Record<string, string>;
}

/** Checks that gateway, ip_range and auxiliary addresses sit inside the subnet; returns [path, message] problems. */
export function ipamPoolProblems(pool: IpamPoolInput): [string, string][] {
  const problems: [string, string][] = [];
  const subnet = pool.subnet === undefined ? undefined : parseCidr(pool.subnet);
  const needSubnet = (field: string) => problems.push([field, `needs a subnet: the Engine only takes ${field} together with subnet`]);
  if (pool.gateway !== undefined) {
    const gw = parseIp(pool.gateway);
    if (!subnet) needSubnet('gateway');
    else if (gw && !cidrContains(subnet, gw)) problems.push(['gateway', `${pool.gateway} is not inside subnet ${pool.subnet}`]);
  }
  if (pool.ip_range !== undefined) {
    const range = parseCidr(pool.ip_range);
    if (!subnet) needSubnet('ip_range');
    else if (range && !cidrContains(subnet, range)) problems.push(['ip_range', `${pool.ip_range} is not inside subnet ${pool.subnet}`]);
  }
  for (const [host, addr] of Object.entries(pool.aux_addresses ?? {})) {
    const ip = parseIp(addr);
    if (!subnet) needSubnet('aux_addresses');
    else if (ip && !cidrContains(subnet, ip)) problems.push([`aux_addresses.${host}`, `${addr} is not inside subnet ${pool.subnet}`]);
  }
  return problems;
}

/* ---------------- Engine shapes we read ---------------- */

export interface NetworkSummary {
  Id: string;
  Name: string;
  Created?: string;
  Scope?: string;
  Driver?: string;
  Ingress?: boolean;
  Labels?: Record<string, string> | null;
  Containers?: Record<string, { Name?: string }> | null;
}

export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  NetworkID?: string;
  IPAddress?: string;
  GlobalIPv6Address?: string;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
  GwPriority?: number;
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  State?: { Status?: string; Running?: boolean; Paused?: boolean };
  HostConfig?: { NetworkMode?: string };
  NetworkSettings?: { Networks?: Record<string, EndpointSettings> | null };
}

export async function inspectNetwork(ctx: OperationContext, ref: string): Promise<NetworkSummary> {
  return (await ctx.json<NetworkSummary>({ method: 'GET', path: enginePath`/networks/${ref}` })).body;
}

export async function inspectContainer(ctx: OperationContext, ref: string): Promise<ContainerInspect> {
  return (await ctx.json<ContainerInspect>({ method: 'GET', path: enginePath`/containers/${ref}/json` })).body;
}

/** The container's endpoint on a network, matched by id or name (a stopped container's entry has no NetworkID). */
export function endpointOn(container: ContainerInspect, network: NetworkSummary): EndpointSettings | undefined {
  for (const [name, ep] of Object.entries(container.NetworkSettings?.Networks ?? {})) {
    if (ep.NetworkID === network.Id || name === network.Name) return ep;
  }
  return undefined;
}

export const containerName = (name: string | undefined) => (name ?? '').replace(/^\//, '');

/** Networks the Engine creates itself and never prunes or removes. */
export const PREDEFINED_NETWORKS = new Set(['bridge', 'host', 'none', 'default', 'nat', 'ingress']);

/* ---------------- operations ---------------- */

const listFilters = z
  .object({
    driver: stringList.optional().describe('Driver name, e.g. "bridge"'),
    id: stringList.optional().describe('Network id or id prefix'),
    label: stringList.optional().describe('"key" or "key=value"'),
    name: stringList.optional().describe('Network name or part of it'),
    scope: z.union([z.enum(['swarm', 'global', 'local']), z.array(z.enum(['swarm', 'global', 'local']))]).optional().describe('swarm, global or local'),
    type: z.union([z.enum(['custom', 'builtin']), z.array(z.enum(['custom', 'builtin']))]).optional().describe('custom (user-defined) or builtin'),
    dangling: z.boolean().optional().describe('true: only networks no container uses; false: only those in use'),
  })
  .strict();

export const listNetworks = defineOperation({
  name: 'list_networks',
  category: 'networks',
  title: 'List networks',
  description: 'Networks the Engine knows (GET /networks). The list form does not include attached containers; use inspect_network for those.',
  params: z.object({ filters: listFilters.optional().describe('Filters: driver, id, label, name, scope, type, dangling') }).strict(),
  safety: 'read',
  idempotent: true,
  result: "Array of the Engine's network objects (Name, Id, Created, Scope, Driver, IPAM, Internal, Labels, …)",
  async run(ctx, p) {
    const res = await ctx.json<NetworkSummary[]>({ method: 'GET', path: '/networks', query: { filters: normalizeFilters(p.filters) } });
    return res.body ?? [];
  },
});

export const inspectNetworkOp = defineOperation({
  name: 'inspect_network',
  category: 'networks',
  title: 'Inspect a network',
  description: 'Details of one network, including the containers attached to it (GET /networks/{id}).',
  params: z
    .object({
      network: networkRef,
      verbose: z.boolean().default(false).describe('Swarm networks: include services and tasks across the cluster'),
      scope: z.enum(['swarm', 'global', 'local']).optional().describe('Only match a network of this scope'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's network object (Name, Id, Driver, IPAM, Containers, Options, Labels, …)",
  async run(ctx, p) {
    const res = await ctx.json<NetworkSummary>({ method: 'GET', path: enginePath`/networks/${p.network}`, query: { verbose: p.verbose || undefined, scope: p.scope } });
    return res.body;
  },
});

const ipamPool = z
  .object({
    subnet: cidrText.optional().describe('Subnet in CIDR notation, e.g. 172.30.0.0/16'),
    ip_range: cidrText.optional().describe('Allocate container addresses from this sub-range (CIDR, inside subnet)'),
    gateway: ipText.optional().describe('Gateway address (inside subnet)'),
    aux_addresses: z.record(z.string(), ipText).optional().describe('Addresses the IPAM driver must not hand out: {"host1": "172.30.0.5"}'),
  })
  .strict();

const createNetworkParams = z
  .object({
    name: networkRef.describe('Name of the new network'),
    driver: z.string().min(1).max(128).default('bridge').describe('Network driver: bridge (default), overlay, macvlan, ipvlan, or a plugin'),
    internal: z.boolean().optional().describe('No route to the outside world'),
    attachable: z.boolean().optional().describe('Swarm networks: standalone containers may attach'),
    enable_ipv6: z.boolean().optional().describe('Enable IPv6 (give an IPv6 subnet too)'),
    labels: z.record(z.string().min(1), z.string()).optional().describe('Labels: {"key": "value"}'),
    options: z.record(z.string().min(1), z.string()).optional().describe('Driver options, e.g. {"com.docker.network.bridge.name": "br-app"}'),
    subnet: cidrText.optional().describe('Subnet in CIDR notation (shortcut for ipam.config[0].subnet)'),
    gateway: ipText.optional().describe('Gateway address inside subnet'),
    ip_range: cidrText.optional().describe('Allocate container addresses from this sub-range of subnet'),
    ipam: z
      .object({
        driver: z.string().min(1).default('default').describe('IPAM driver (default: "default")'),
        config: z.array(ipamPool).max(16).default([]).describe('Address pools'),
        options: z.record(z.string(), z.string()).optional().describe('IPAM driver options'),
      })
      .strict()
      .optional()
      .describe('Full IPAM configuration; instead of subnet/gateway/ip_range'),
  })
  .strict()
  .superRefine((p, issue) => {
    if (p.ipam && (p.subnet !== undefined || p.gateway !== undefined || p.ip_range !== undefined)) {
      issue.addIssue({ code: 'custom', path: ['ipam'], message: 'give either ipam or subnet/gateway/ip_range, not both' });
    }
    const pools = p.ipam ? p.ipam.config.map((c, i) => [`ipam.config.${i}.`, c] as const) : [['', { subnet: p.subnet, gateway: p.gateway, ip_range: p.ip_range }] as const];
    for (const [prefix, pool] of pools) {
      for (const [field, message] of ipamPoolProblems(pool)) issue.addIssue({ code: 'custom', path: [`${prefix}${field}`], message });
    }
  });

export const createNetwork = defineOperation({
  name: 'create_network',
  category: 'networks',
  title: 'Create a network',
  description:
    'Creates a network (POST /networks/create). A name already in use is a CONFLICT (on API 1.41–1.43 the connector asks the Engine to check, which it otherwise does not). Not idempotent.',
  params: createNetworkParams,
  safety: 'write',
  idempotent: false,
  result: '{id, name, warning} (warning is null when the Engine gave none)',
  async run(ctx, p) {
    const pools = p.ipam?.config ?? (p.subnet ? [{ subnet: p.subnet, gateway: p.gateway, ip_range: p.ip_range }] : []);
    const body: Record<string, unknown> = {
      Name: p.name,
      Driver: p.driver,
      Internal: p.internal,
      Attachable: p.attachable,
      EnableIPv6: p.enable_ipv6,
      Labels: p.labels,
      Options: p.options,
      IPAM: {
        Driver: p.ipam?.driver ?? 'default',
        Config: pools.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ip_range, AuxiliaryAddresses: 'aux_addresses' in c ? c.aux_addresses : undefined })),
        Options: p.ipam?.options,
      },
    };
    // Before 1.44 the Engine happily creates a second network with the same name unless asked to check.
    if (!ctx.atLeast('1.44')) body.CheckDuplicate = true;
    const res = await ctx.json<{ Id: string; Warning?: string }>({ method: 'POST', path: '/networks/create', body });
    return { id: res.body.Id, name: p.name, warning: res.body.Warning || null };
  },
});

export const removeNetwork = defineOperation({
  name: 'remove_network',
  category: 'networks',
  title: 'Remove a network',
  description:
    'Removes a network (DELETE /networks/{id}). A network with running containers attached is a CONFLICT naming them; pre-defined networks (bridge, host, none) cannot be removed. `dry_run` checks and names the network without removing it.',
  params: z.object({ network: networkRef, dry_run: dryRunParam }).strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, name}], dry_run}',
  async run(ctx, p) {
    const net = await inspectNetwork(ctx, p.network);
    const attached = Object.entries(net.Containers ?? {}).map(([id, c]) => ({ id, name: containerName(c.Name) }));
    if (p.dry_run) {
      if (PREDEFINED_NETWORKS.has(net.Name)) {
        throw new ConnectorError('CONFLICT', `${net.Name} is a pre-defined network and cannot be removed`, { operation: ctx.operation });
      }
      if (attached.length) throw inUse(ctx, net, attached);
      return { deleted: [{ id: net.Id, name: net.Name }], dry_run: true };
    }
    try {
      await ctx.json({ method: 'DELETE', path: enginePath`/networks/${net.Id}` });
    } catch (err) {
      if (err instanceof ConnectorError && err.status === 403 && attached.length) throw inUse(ctx, net, attached, err);
      throw asConflict(err, ctx, `Cannot remove network ${net.Name}`);
    }
    return { deleted: [{ id: net.Id, name: net.Name }], dry_run: false };
  },
});

function inUse(ctx: OperationContext, net: NetworkSummary, attached: { id: string; name: string }[], cause?: ConnectorError): ConnectorError {
  return new ConnectorError('CONFLICT', `Network ${net.Name} is in use by container(s) ${attached.map((c) => c.name || c.id.slice(0, 12)).join(', ')}; disconnect or remove them first`, {
    status: cause?.status ?? 409,
    operation: ctx.operation,
    details: { network: net.Name, containers: attached, ...(cause ? { engine_message: engineMessageOf(cause) } : {}) },
  });
}

const aliasName = z.string().min(1).max(255).regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'expected a DNS name (letters, digits, "_", ".", "-")');

export const connectNetwork = defineOperation({
  name: 'connect_network',
  category: 'networks',
  title: 'Connect a container to a network',
  description:
    'Attaches a container to a network (POST /networks/{id}/connect). A container already attached is left as it is: changed is false, not an error.',
  params: z
    .object({
      network: networkRef,
      container: containerRef,
      aliases: z.array(aliasName).max(64).optional().describe('Extra DNS names for the container on this network (user-defined networks only)'),
      ipv4_address: z.ipv4().optional().describe('Static IPv4 address (the network needs a user-configured subnet)'),
      ipv6_address: z.ipv6().optional().describe('Static IPv6 address (the network needs a user-configured IPv6 subnet)'),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  result: '{changed, network: {id, name}, container: {id, name}}',
  async run(ctx, p) {
    const [net, container] = await Promise.all([inspectNetwork(ctx, p.network), inspectContainer(ctx, p.container)]);
    const who = { network: { id: net.Id, name: net.Name }, container: { id: container.Id, name: containerName(container.Name) } };
    if (endpointOn(container, net)) return { changed: false, ...who };
    const ipam = p.ipv4_address || p.ipv6_address ? { IPv4Address: p.ipv4_address, IPv6Address: p.ipv6_address } : undefined;
    try {
      await ctx.json({
        method: 'POST',
        path: enginePath`/networks/${net.Id}/connect`,
        body: { Container: container.Id, EndpointConfig: { Aliases: p.aliases, IPAMConfig: ipam } },
      });
    } catch (err) {
      // Attached in the meantime (or a retried request that had worked).
      if (err instanceof ConnectorError && err.status === 403 && /already exists/i.test(engineMessageOf(err))) return { changed: false, ...who };
      throw asConflict(err, ctx, `Cannot connect ${who.container.name} to ${net.Name}`);
    }
    return { changed: true, ...who };
  },
});

export const disconnectNetwork = defineOperation({
  name: 'disconnect_network',
  category: 'networks',
  title: 'Disconnect a container from a network',
  description: 'Detaches a container from a network (POST /networks/{id}/disconnect). A container not attached is left as it is: changed is false.',
  params: z
    .object({
      network: networkRef,
      container: containerRef,
      force: z.boolean().default(false).describe('Force the disconnection (e.g. when the network driver is unreachable)'),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  result: '{changed, network: {id, name}, container: {id, name}}',
  async run(ctx, p) {
    const [net, container] = await Promise.all([inspectNetwork(ctx, p.network), inspectContainer(ctx, p.container)]);
    const who = { network: { id: net.Id, name: net.Name }, container: { id: container.Id, name: containerName(container.Name) } };
    if (!endpointOn(container, net)) return { changed: false, ...who };
    try {
      await disconnect(ctx, net.Id, container.Id, p.force);
    } catch (err) {
      throw asConflict(err, ctx, `Cannot disconnect ${who.container.name} from ${net.Name}`);
    }
    return { changed: true, ...who };
  },
});

/** Disconnects; "not connected" (a race, or a retried request that had worked) is not a failure. Returns whether it disconnected. */
export async function disconnect(ctx: OperationContext, networkId: string, containerId: string, force: boolean): Promise<boolean> {
  try {
    await ctx.json({ method: 'POST', path: enginePath`/networks/${networkId}/disconnect`, body: { Container: containerId, Force: force } });
    return true;
  } catch (err) {
    if (err instanceof ConnectorError && /is not connected/i.test(engineMessageOf(err))) return false;
    throw err;
  }
}

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
    query: { filters: engineFilters(f) },
    timeoutMs: pruneTimeoutMs(ctx),
  });
  return (res.body?.NetworksDeleted ?? []).map((name) => ({ id: known.find((n) => n.Name === name)?.Id ?? null, name })).sort(byName);
}

export const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

export const pruneNetworks = defineOperation({
  name: 'prune_networks',
  category: 'networks',
  title: 'Remove unused networks',
  description:
    'Removes every network no running container is attached to (POST /networks/prune); a network only stopped containers refer to is removed too. Pre-defined networks stay. `dry_run` lists exactly what would go.',
  params: z
    .object({
      filters: pruneFiltersParam.optional().describe('Which networks: {until, label, "label!"}'),
      dry_run: dryRunParam,
    })
    .strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, name}], dry_run}',
  async run(ctx, p) {
    const f = resolvePruneFilters(p.filters);
    const plan = await planNetworkPrune(ctx, f);
    if (p.dry_run) return { deleted: plan.candidates.sort(byName), dry_run: true };
    return { deleted: await runNetworkPrune(ctx, f, plan.all), dry_run: false };
  },
});

/** Networks operations. */
export const networkOperations = [listNetworks, inspectNetworkOp, createNetwork, removeNetwork, connectNetwork, disconnectNetwork, pruneNetworks] as const;
