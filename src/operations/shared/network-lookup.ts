import * as z from 'zod';
import { ConnectorError } from '../../errors.js';
import { enginePath } from '../../engine/path.js';
import type { OperationContext } from '../define.js';
import { engineMessageOf } from './engine-errors.js';
import type { ContainerInspect, EndpointSettings, NetworkSummary } from './engine-types.js';

/** A network id, short id, or name. */
export const networkRef = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'expected a network id or name (letters, digits, "_", ".", "-")')
  .describe('Network id, short id, or name');

/** Networks the Engine creates itself and never prunes or removes. */
export const PREDEFINED_NETWORKS = new Set(['bridge', 'host', 'none', 'default', 'nat', 'ingress']);

/** GET /networks/{id}: the single-network form, with the attached containers. */
export async function inspectNetwork(ctx: OperationContext, ref: string): Promise<NetworkSummary> {
  return (await ctx.json<NetworkSummary>({ method: 'GET', path: enginePath`/networks/${ref}` })).body;
}

/** The container's endpoint on a network, matched by id or name (a stopped container's entry has no NetworkID). */
export function endpointOn(container: ContainerInspect, network: NetworkSummary): EndpointSettings | undefined {
  for (const [name, ep] of Object.entries(container.NetworkSettings?.Networks ?? {})) {
    if (ep.NetworkID === network.Id || name === network.Name) return ep;
  }
  return undefined;
}

/** Disconnects; "not connected" (a race, or a retried request that had worked) is not a failure. Returns whether it disconnected. */
export async function disconnect(ctx: OperationContext, networkId: string, containerId: string, force: boolean): Promise<boolean> {
  try {
    await ctx.json({ method: 'POST', path: enginePath`/networks/${networkId}/disconnect`, body: { Container: containerId, Force: force }, ignoreBody: true });
    return true;
  } catch (err) {
    if (err instanceof ConnectorError && /is not connected/i.test(engineMessageOf(err))) return false;
    throw err;
  }
}
