/**
 * Incident-response containment: isolate_container cuts a container off
 * every network (and may pause it), restore_container undoes that from the
 * record isolate_container returned.
 */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath } from '../engine/path.js';
import { defineOperation, type OperationContext } from './define.js';
import { inspectContainer, nameWithoutSlash } from './shared/container-lookup.js';
import { engineMessageOf } from './shared/engine-errors.js';
import type { ContainerInspect, EndpointSettings, NetworkSummary } from './shared/engine-types.js';
import { disconnect, endpointOn, inspectNetwork, networkRef } from './shared/network-lookup.js';
import { containerRef } from './shared/params.js';

const hexId = z.string().regex(/^[0-9a-f]{64}$/, 'expected a full 64-character id');

const restoreNetworkSchema = z
  .object({
    // Podman 4 reports a container's network by name where Docker gives its id.
    network_id: hexId.or(networkRef).describe('Id of the network the container was attached to (Podman gives its name)'),
    network_name: networkRef.describe('Its name (used if the network was re-created under a new id)'),
    aliases: z.array(z.string().min(1)).describe('User-given aliases on that network (not the automatic short-id alias)'),
    links: z.array(z.string().min(1)).describe('Legacy links on that network ("container:alias")'),
    ipv4_address: z.ipv4().nullable().describe('The IPv4 address it had (null if none, e.g. not running)'),
    ipv6_address: z.ipv6().nullable().describe('The IPv6 address it had'),
    static_ipv4: z.ipv4().nullable().describe('Configured static IPv4 address (IPAMConfig), null when dynamic'),
    static_ipv6: z.ipv6().nullable().describe('Configured static IPv6 address (IPAMConfig), null when dynamic'),
    link_local_ips: z.array(z.string()).describe('Configured link-local addresses'),
    mac_address: z.string().nullable().describe('The MAC address it had'),
    driver_opts: z.record(z.string(), z.string()).nullable().describe('Endpoint driver options'),
    gw_priority: z.number().int().nullable().describe('Gateway priority (API 1.48+)'),
  })
  .strict();
export type RestoreNetwork = z.output<typeof restoreNetworkSchema>;

export const restoreRecordSchema = z
  .object({
    version: z.literal(1).describe('Record format version'),
    container_id: hexId.describe('The isolated container'),
    container_name: z.string().describe('Its name at isolation time'),
    networks: z.array(restoreNetworkSchema).max(256).describe('Networks it was disconnected from'),
    was_paused: z.boolean().describe('Whether it was paused before isolation'),
    paused_by_isolate: z.boolean().describe('Whether isolate_container paused it'),
    isolated_at: z.string().describe('When (RFC 3339)'),
  })
  .strict();
export type RestoreRecord = z.output<typeof restoreRecordSchema>;

/** A container or network as these results name it. */
const idAndName = (what: string) =>
  z.strictObject({
    id: z.string().describe(`${what} id (64 hex characters)`),
    name: z.string().describe(`${what} name (without a leading "/")`),
  });

const warningsField = z.array(z.string()).describe('What did not go as asked or is worth knowing; [] when none');

const isolateResult = z.strictObject({
  changed: z.boolean().describe('False when it was already isolated (and paused, if asked)'),
  container: idAndName('Container').describe('The isolated container'),
  disconnected: z.array(idAndName('Network')).describe('Networks it was disconnected from, its primary network first'),
  paused: z.boolean().describe('It is paused now (by this call or before it)'),
  restore: restoreRecordSchema.describe('The record to hand to restore_container (keep the first one: a repeat lists no networks)'),
  warnings: warningsField,
});

const restoredNetwork = z.strictObject({
  network_id: z.string().describe('Network id (the new one if the network was re-created)'),
  network_name: z.string().describe('Network name'),
  changed: z.boolean().describe('False when it was already connected'),
  aliases: z.array(z.string()).describe('User-given aliases it has there now'),
  ipv4_address: z.string().nullable().describe('IPv4 address it has there now; null when none (e.g. not running)'),
  ipv6_address: z.string().nullable().describe('IPv6 address it has there now; null when none'),
  mac_address: z.string().nullable().describe('MAC address it has there now; null when none'),
});

const restoreResult = z.strictObject({
  changed: z.boolean().describe('False when everything was already as the record says'),
  container: idAndName('Container').describe('The restored container'),
  networks: z.array(restoredNetwork).describe("Each network of the record, as the Engine now reports the container's endpoint on it"),
  unpaused: z.boolean().describe('This call unpaused it'),
  warnings: warningsField,
});

/**
 * Aliases the user gave. Engines before 25 (and API < 1.45) add the
 * container's short id to Aliases on every user-defined network, and add it
 * again on reconnect, so it is not part of what must be restored.
 */
export function userAliases(aliases: string[] | null | undefined, containerId: string): string[] {
  const shortId = containerId.slice(0, 12);
  return (aliases ?? []).filter((a) => a !== shortId);
}

/** The restore entry for one endpoint of a container. */
export function restoreEntry(networkName: string, networkId: string, ep: EndpointSettings, containerId: string): RestoreNetwork {
  return {
    network_id: networkId,
    network_name: networkName,
    aliases: userAliases(ep.Aliases, containerId),
    links: ep.Links ?? [],
    ipv4_address: ep.IPAddress || null,
    ipv6_address: ep.GlobalIPv6Address || null,
    static_ipv4: ep.IPAMConfig?.IPv4Address || null,
    static_ipv6: ep.IPAMConfig?.IPv6Address || null,
    link_local_ips: ep.IPAMConfig?.LinkLocalIPs ?? [],
    mac_address: ep.MacAddress || null,
    driver_opts: ep.DriverOpts && Object.keys(ep.DriverOpts).length ? ep.DriverOpts : null,
    gw_priority: ep.GwPriority ?? null,
  };
}

/** A container on these cannot be cut off by disconnecting it. */
function networkModeProblem(c: ContainerInspect): string | undefined {
  const mode = c.HostConfig?.NetworkMode ?? '';
  if (mode === 'host') return "it uses the host's network stack, which cannot be disconnected; stop or pause it instead";
  if (mode.startsWith('container:')) return `it shares the network stack of container ${mode.slice('container:'.length, 'container:'.length + 12)}; isolate that container instead`;
  return undefined;
}

/**
 * Endpoints that isolation removes: all of them except "none" (no network
 * at all). The container's primary network (its network mode) comes first,
 * so a restore reconnects it first, as at creation.
 */
function attachedNetworks(c: ContainerInspect): [string, EndpointSettings][] {
  const primary = c.HostConfig?.NetworkMode === 'default' ? 'bridge' : c.HostConfig?.NetworkMode;
  return Object.entries(c.NetworkSettings?.Networks ?? {})
    .filter(([name]) => name !== 'none' && name !== 'host')
    .sort(([x], [y]) => Number(y === primary) - Number(x === primary));
}

/**
 * A Swarm task's container is the orchestrator's, not the caller's: Swarm
 * may replace an isolated (or paused) one with a fresh task, and the
 * lasting measures are on the service or the node.
 */
function swarmTaskWarning(c: ContainerInspect): string | undefined {
  // The lookup's view leaves Config out; the Engine's answer has it.
  const labels = (c as { Config?: { Labels?: Record<string, string> | null } }).Config?.Labels ?? {};
  const service = labels['com.docker.swarm.service.name'];
  const task = labels['com.docker.swarm.task.id'];
  if (!service && !task) return undefined;
  const svc = service ?? 'its service';
  return (
    `This container is Swarm task ${task ?? '(unknown id)'} of service ${svc}: Swarm will replace it with a new task (on the network) if it stops or fails its health check, and the isolation does not carry over. ` +
    `To contain the service itself, use scale_service (replicas: 0) on ${svc}, or update_node with availability "drain" on its node to move every task off that node; keep this container isolated to preserve evidence.`
  );
}

async function setPaused(ctx: OperationContext, id: string, paused: boolean): Promise<void> {
  await ctx.json({ method: 'POST', path: paused ? enginePath`/containers/${id}/pause` : enginePath`/containers/${id}/unpause` });
}

export const isolateContainer = defineOperation({
  name: 'isolate_container',
  category: 'containers',
  title: 'Isolate a container (incident response)',
  description:
    'Cuts a container off the network: disconnects it (force) from every network it is attached to and, with pause: true, freezes its processes. Labels and configuration are left alone. Returns a `restore` record (networks, user-given aliases, links, addresses, static vs dynamic, MAC, pause state) to hand to restore_container. Isolating a container that is already isolated changes nothing (changed: false; its restore record then lists no networks, so keep the first one). Containers using the host network or another container\'s network cannot be isolated this way (CONFLICT).',
  params: z
    .object({
      container: containerRef,
      pause: z.boolean().default(false).describe('Also pause the container (freeze its processes) if it is running'),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  result: '{changed, container: {id, name}, disconnected: [{id, name}], paused, restore: {…record for restore_container}, warnings}',
  resultSchema: isolateResult,
  async run(ctx, p) {
    const c = await inspectContainer(ctx, p.container);
    const who = { id: c.Id, name: nameWithoutSlash(c.Name) };
    const problem = networkModeProblem(c);
    if (problem) throw new ConnectorError('CONFLICT', `Cannot isolate ${who.name}: ${problem}`, { operation: ctx.operation, details: { network_mode: c.HostConfig?.NetworkMode } });
    const wasPaused = c.State?.Paused === true;
    const record: RestoreRecord = {
      version: 1,
      container_id: c.Id,
      container_name: who.name,
      networks: [],
      was_paused: wasPaused,
      paused_by_isolate: false,
      isolated_at: new Date().toISOString(),
    };
    const warnings: string[] = [];
    const disconnected: { id: string; name: string }[] = [];
    for (const [name, ep] of attachedNetworks(c)) {
      try {
        // A stopped container's endpoint has no NetworkID yet: ask the network.
        const id = ep.NetworkID || (await inspectNetwork(ctx, name)).Id;
        const entry = restoreEntry(name, id, ep, c.Id);
        if (await disconnect(ctx, id, c.Id, true)) {
          record.networks.push(entry);
          disconnected.push({ id, name });
        }
      } catch (err) {
        // Whatever was already cut off must still be restorable.
        const e = err instanceof ConnectorError ? err : new ConnectorError('ENGINE_ERROR', String(err));
        throw new ConnectorError(e.code, `Isolating ${who.name} failed at network ${name}: ${e.message}`, {
          status: e.status,
          operation: ctx.operation,
          details: { ...e.details, restore: record, disconnected },
        });
      }
    }
    if (p.pause && !wasPaused) {
      if (c.State?.Running) {
        await setPaused(ctx, c.Id, true);
        record.paused_by_isolate = true;
      } else {
        warnings.push(`${who.name} is not running: there is nothing to pause`);
      }
    }
    const changed = disconnected.length > 0 || record.paused_by_isolate;
    if (!changed) warnings.push(`${who.name} was already isolated: nothing changed`);
    const swarm = swarmTaskWarning(c);
    if (swarm) warnings.push(swarm);
    return { changed, container: who, disconnected, paused: wasPaused || record.paused_by_isolate, restore: record, warnings };
  },
});

export type RestoredNetwork = z.output<typeof restoredNetwork>;

function endpointConfig(ctx: OperationContext, rn: RestoreNetwork, pin?: { ipv4: string | null; ipv6: string | null }): Record<string, unknown> {
  const v4 = rn.static_ipv4 ?? pin?.ipv4 ?? undefined;
  const v6 = rn.static_ipv6 ?? pin?.ipv6 ?? undefined;
  const ipam = v4 || v6 || rn.link_local_ips.length ? { IPv4Address: v4, IPv6Address: v6, LinkLocalIPs: rn.link_local_ips.length ? rn.link_local_ips : undefined } : undefined;
  return {
    Aliases: rn.aliases.length ? rn.aliases : undefined,
    Links: rn.links.length ? rn.links : undefined,
    IPAMConfig: ipam,
    // Settable on connect from 1.44; Engines that derive the MAC from the IP (20.10) or pick a random one ignore it.
    MacAddress: ctx.atLeast('1.44') && rn.mac_address ? rn.mac_address : undefined,
    DriverOpts: rn.driver_opts ?? undefined,
    GwPriority: ctx.atLeast('1.48') && rn.gw_priority ? rn.gw_priority : undefined,
  };
}

async function connect(ctx: OperationContext, networkId: string, containerId: string, config: Record<string, unknown>): Promise<void> {
  await ctx.json({ method: 'POST', path: enginePath`/networks/${networkId}/connect`, body: { Container: containerId, EndpointConfig: config }, ignoreBody: true });
}

export const restoreContainer = defineOperation({
  name: 'restore_container',
  category: 'containers',
  title: 'Undo isolate_container',
  description:
    'Reconnects a container exactly as the restore record from isolate_container says: the same networks, user-given aliases, links and addresses (a static address stays static; a dynamic one is asked for again and pinned only if the Engine would hand out another), and unpauses it if it was not paused before isolation. The MAC address is asked for again on API 1.44+, but Engines that choose it themselves keep their choice (20.10 derives it from the IP address, so it comes back with the address; 28.x picks a new random one, as on every restart). Every network is checked before anything changes. Networks already reconnected are left alone, so repeating a restore changes nothing (changed: false). Networks attached since isolation are left attached and named in the warnings.',
  params: z
    .object({
      container: containerRef,
      restore: restoreRecordSchema.describe('The `restore` record isolate_container returned'),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  result: '{changed, container: {id, name}, networks: [{network_id, network_name, changed, aliases, ipv4_address, ipv6_address, mac_address}], unpaused, warnings}',
  resultSchema: restoreResult,
  async run(ctx, p) {
    const rec = p.restore;
    let c = await inspectContainer(ctx, p.container);
    const who = { id: c.Id, name: nameWithoutSlash(c.Name) };
    if (c.Id !== rec.container_id) {
      throw new ConnectorError('INVALID_PARAMS', `Invalid parameter restore: the record is for container ${rec.container_name} (${rec.container_id.slice(0, 12)}), not ${who.name} (${c.Id.slice(0, 12)})`, {
        operation: ctx.operation,
      });
    }
    const warnings: string[] = [];
    // Resolve every network first: a restore that cannot finish should not start.
    const targets: [RestoreNetwork, NetworkSummary][] = [];
    const missing: string[] = [];
    for (const rn of rec.networks) {
      const net = await findNetwork(ctx, rn);
      if (!net) missing.push(rn.network_name);
      else {
        if (net.Id !== rn.network_id) warnings.push(`network ${rn.network_name} was re-created (id ${net.Id.slice(0, 12)} instead of ${rn.network_id.slice(0, 12)}); reconnected to the new one`);
        targets.push([rn, net]);
      }
    }
    if (missing.length) {
      throw new ConnectorError('NOT_FOUND', `Cannot restore ${who.name}: network(s) ${missing.join(', ')} no longer exist; nothing was changed`, {
        operation: ctx.operation,
        details: { missing_networks: missing },
      });
    }

    const done: string[] = [];
    const changedIds = new Set<string>();
    for (const [rn, net] of targets) {
      if (endpointOn(c, net)) continue;
      try {
        await connect(ctx, net.Id, c.Id, endpointConfig(ctx, rn));
        changedIds.add(net.Id);
        const pinned = await keepDynamicAddress(ctx, rn, net, c.Id);
        if (pinned) warnings.push(pinned);
        done.push(net.Name);
      } catch (err) {
        const e = err instanceof ConnectorError ? err : new ConnectorError('ENGINE_ERROR', String(err));
        throw new ConnectorError(e.code, `Restoring ${who.name} failed at network ${net.Name}: ${e.message}`, {
          status: e.status,
          operation: ctx.operation,
          details: { ...e.details, reconnected: done },
        });
      }
    }

    let unpaused = false;
    if (!rec.was_paused) {
      const now = await inspectContainer(ctx, c.Id);
      if (now.State?.Paused) {
        await setPaused(ctx, c.Id, false);
        unpaused = true;
      }
    }

    // Report what the Engine now says, not what was asked for.
    c = await inspectContainer(ctx, c.Id);
    const wanted = new Set(targets.map(([, net]) => net.Name));
    const others = attachedNetworks(c).filter(([name]) => !wanted.has(name)).map(([name]) => name);
    if (others.length) warnings.push(`also attached to ${others.join(', ')} (not in the record; left attached)`);
    const networks: RestoredNetwork[] = targets.map(([, net]) => {
      const ep = endpointOn(c, net);
      return {
        network_id: net.Id,
        network_name: net.Name,
        changed: changedIds.has(net.Id),
        aliases: userAliases(ep?.Aliases, c.Id),
        ipv4_address: ep?.IPAddress || null,
        ipv6_address: ep?.GlobalIPv6Address || null,
        mac_address: ep?.MacAddress || null,
      };
    });
    return { changed: changedIds.size > 0 || unpaused, container: who, networks, unpaused, warnings };
  },
});

async function findNetwork(ctx: OperationContext, rn: RestoreNetwork): Promise<NetworkSummary | undefined> {
  for (const ref of [rn.network_id, rn.network_name]) {
    try {
      return await inspectNetwork(ctx, ref);
    } catch (err) {
      if (!(err instanceof ConnectorError && err.code === 'NOT_FOUND')) throw err;
    }
  }
  return undefined;
}

/**
 * A dynamic address is asked for again without pinning it, so the
 * container's configuration stays dynamic. If the Engine handed out another
 * address, reconnect asking for the old one (which pins it); if that is
 * refused (taken, or the network has no user-configured subnet), keep the
 * new one. Returns a warning when the result differs from the record.
 */
async function keepDynamicAddress(ctx: OperationContext, rn: RestoreNetwork, net: NetworkSummary, containerId: string): Promise<string | undefined> {
  const dynamic4 = !rn.static_ipv4 && rn.ipv4_address;
  const dynamic6 = !rn.static_ipv6 && rn.ipv6_address;
  if (!dynamic4 && !dynamic6) return undefined;
  const ep = endpointOn(await inspectContainer(ctx, containerId), net);
  if (!ep?.IPAddress && !ep?.GlobalIPv6Address) return undefined; // not running: addresses come at start
  const differs4 = dynamic4 && ep.IPAddress !== rn.ipv4_address;
  const differs6 = dynamic6 && ep.GlobalIPv6Address !== rn.ipv6_address;
  if (!differs4 && !differs6) return undefined;
  const got = `${ep.IPAddress || ''}${ep.GlobalIPv6Address ? ` ${ep.GlobalIPv6Address}` : ''}`.trim();
  await disconnect(ctx, net.Id, containerId, true);
  try {
    await connect(ctx, net.Id, containerId, endpointConfig(ctx, rn, { ipv4: differs4 ? rn.ipv4_address : null, ipv6: differs6 ? rn.ipv6_address : null }));
    return `on ${net.Name} the Engine offered ${got}; the old address was requested explicitly, so it is now configured as static`;
  } catch (err) {
    await connect(ctx, net.Id, containerId, endpointConfig(ctx, rn));
    const why = err instanceof ConnectorError ? engineMessageOf(err) : String(err);
    return `on ${net.Name} the old address ${[rn.ipv4_address, rn.ipv6_address].filter(Boolean).join(' ')} could not be had back (${why}); it now has a new one`;
  }
}

export const containmentOperations = [isolateContainer, restoreContainer] as const;
