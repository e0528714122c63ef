/** Network operations: list, inspect, create, remove, connect, disconnect, prune. */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { defineOperation, type OperationContext } from './define.js';
import { inspectContainer, nameWithoutSlash } from './shared/container-lookup.js';
import { engineMessageOf } from './shared/engine-errors.js';
import type { NetworkSummary } from './shared/engine-types.js';
import { network, type Network } from './shared/schemas/network.js';
import { prunedNetwork, removalReport } from './shared/schemas/prune.js';
import { cidrContains, parseCidr, parseIp } from './shared/ip.js';
import { disconnect, endpointOn, inspectNetwork, networkRef, PREDEFINED_NETWORKS } from './shared/network-lookup.js';
import { containerRef, dryRunParam } from './shared/params.js';
import { GONE, identityChanged, planIdParam, singleItem, skip } from './shared/plan.js';
import { byName, planNetworkPrune, pruneFiltersParam, removePlannedNetworks, resolvePruneFilters, runNetworkPrune } from './shared/prune.js';

const stringList = z.union([z.string(), z.array(z.string())]);

/** The Engine answers 403 for network rules (pre-defined network, active endpoints): a conflict, not an access problem. */
function asConflict(err: unknown, ctx: OperationContext, what: string): unknown {
  if (err instanceof ConnectorError && err.status === 403 && typeof err.details?.engine_message === 'string') {
    return new ConnectorError('CONFLICT', `${what}: ${err.details.engine_message}`, { status: 403, operation: ctx.operation, details: err.details });
  }
  return err;
}

/* ---------------- address checks (before anything is sent) ---------------- */

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
  resultSchema: z.array(network).describe("The Engine's network objects (Containers is empty or left out in this form)"),
  async run(ctx, p) {
    const res = await ctx.json<Network[]>({ method: 'GET', path: '/networks', query: { filters: normalizeFilters(p.filters) } });
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
  resultSchema: network,
  async run(ctx, p) {
    const res = await ctx.json<Network>({ method: 'GET', path: enginePath`/networks/${p.network}`, query: { verbose: p.verbose || undefined, scope: p.scope } });
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
  resultSchema: z.strictObject({
    id: z.string().describe('Id of the new network'),
    name: z.string().describe('Its name'),
    warning: z.string().nullable().describe("The Engine's warning; null when it gave none"),
  }),
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

/** remove_network names the network it inspected first, so its id is always known. */
const removedNetwork = z.strictObject({ id: z.string().describe('Network id'), name: z.string().describe('Network name') });

export const removeNetwork = defineOperation({
  name: 'remove_network',
  category: 'networks',
  title: 'Remove a network',
  description:
    'Removes a network (DELETE /networks/{id}). A network with running containers attached is a CONFLICT naming them; pre-defined networks (bridge, host, none) cannot be removed. `dry_run` checks and names the network without removing it.',
  params: z.object({ network: networkRef, dry_run: dryRunParam, plan_id: planIdParam }).strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, name}], dry_run}',
  resultSchema: removalReport(removedNetwork),
  async run(ctx, p) {
    const net = await inspectNetwork(ctx, p.network);
    const attached = Object.entries(net.Containers ?? {}).map(([id, c]) => ({ id, name: nameWithoutSlash(c.Name) }));
    if (p.dry_run) {
      if (PREDEFINED_NETWORKS.has(net.Name)) {
        throw new ConnectorError('CONFLICT', `${net.Name} is a pre-defined network and cannot be removed`, { operation: ctx.operation });
      }
      if (attached.length) throw inUse(ctx, net, attached);
      return { deleted: [{ id: net.Id, name: net.Name }], dry_run: true };
    }
    return deleteNetwork(ctx, net);
  },
  plan: {
    items: (_ctx, _p, r) => singleItem('network', r.deleted[0]?.id, r.deleted[0]?.name),
    // The plan pins the network id: a name that now points at another network is skipped.
    async run(ctx, p, items) {
      const item = items[0];
      if (!item) return { deleted: [], dry_run: false, skipped: [] };
      const now: { net?: NetworkSummary } = {};
      const changed = await identityChanged(item, async () => (now.net = await inspectNetwork(ctx, p.network)).Id);
      if (changed || !now.net) return { deleted: [], dry_run: false, skipped: [skip(item, changed ?? GONE)] };
      return { ...(await deleteNetwork(ctx, now.net)), skipped: [] };
    },
  },
});

/** DELETE /networks/{id} of an inspected network; a refusal names the containers attached. */
async function deleteNetwork(ctx: OperationContext, net: NetworkSummary) {
  const attached = Object.entries(net.Containers ?? {}).map(([id, c]) => ({ id, name: nameWithoutSlash(c.Name) }));
  try {
    await ctx.json({ method: 'DELETE', path: enginePath`/networks/${net.Id}` });
  } catch (err) {
    if (err instanceof ConnectorError && err.status === 403 && attached.length) throw inUse(ctx, net, attached, err);
    throw asConflict(err, ctx, `Cannot remove network ${net.Name}`);
  }
  return { deleted: [{ id: net.Id, name: net.Name }], dry_run: false };
}

function inUse(ctx: OperationContext, net: NetworkSummary, attached: { id: string; name: string }[], cause?: ConnectorError): ConnectorError {
  return new ConnectorError('CONFLICT', `Network ${net.Name} is in use by container(s) ${attached.map((c) => c.name || c.id.slice(0, 12)).join(', ')}; disconnect or remove them first`, {
    status: cause?.status ?? 409,
    operation: ctx.operation,
    details: { network: net.Name, containers: attached, ...(cause ? { engine_message: engineMessageOf(cause) } : {}) },
  });
}

const attachment = z.strictObject({
  changed: z.boolean().describe('The call changed something (false: it was already so)'),
  network: z.strictObject({ id: z.string().describe('Network id'), name: z.string().describe('Network name') }).describe('The network'),
  container: z.strictObject({ id: z.string().describe('Container id'), name: z.string().describe('Container name, without the leading "/"') }).describe('The container'),
});

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
  resultSchema: attachment,
  async run(ctx, p) {
    const [net, container] = await Promise.all([inspectNetwork(ctx, p.network), inspectContainer(ctx, p.container)]);
    const who = { network: { id: net.Id, name: net.Name }, container: { id: container.Id, name: nameWithoutSlash(container.Name) } };
    if (endpointOn(container, net)) return { changed: false, ...who };
    const ipam = p.ipv4_address || p.ipv6_address ? { IPv4Address: p.ipv4_address, IPv6Address: p.ipv6_address } : undefined;
    try {
      await ctx.json({
        method: 'POST',
        path: enginePath`/networks/${net.Id}/connect`,
        body: { Container: container.Id, EndpointConfig: { Aliases: p.aliases, IPAMConfig: ipam } },
        ignoreBody: true,
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
  resultSchema: attachment,
  async run(ctx, p) {
    const [net, container] = await Promise.all([inspectNetwork(ctx, p.network), inspectContainer(ctx, p.container)]);
    const who = { network: { id: net.Id, name: net.Name }, container: { id: container.Id, name: nameWithoutSlash(container.Name) } };
    if (!endpointOn(container, net)) return { changed: false, ...who };
    try {
      await disconnect(ctx, net.Id, container.Id, p.force);
    } catch (err) {
      throw asConflict(err, ctx, `Cannot disconnect ${who.container.name} from ${net.Name}`);
    }
    return { changed: true, ...who };
  },
});

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
      plan_id: planIdParam,
    })
    .strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, name}], dry_run}',
  resultSchema: removalReport(prunedNetwork),
  async run(ctx, p) {
    const f = resolvePruneFilters(p.filters);
    const plan = await planNetworkPrune(ctx, f);
    if (p.dry_run) return { deleted: plan.candidates.sort(byName), dry_run: true };
    return { deleted: await runNetworkPrune(ctx, f, plan.all), dry_run: false };
  },
  plan: {
    items: (_ctx, _p, r) => r.deleted.flatMap((n) => singleItem('network', n.id, n.name)),
    async run(ctx, p, items) {
      return { ...(await removePlannedNetworks(ctx, items, resolvePruneFilters(p.filters))), dry_run: false };
    },
  },
});

/** Networks operations. */
export const networkOperations = [listNetworks, inspectNetworkOp, createNetwork, removeNetwork, connectNetwork, disconnectNetwork, pruneNetworks] as const;
