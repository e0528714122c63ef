/** Swarm and node operations: inspect the swarm, list, inspect and update nodes. */
import * as z from 'zod';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { ConnectorError } from '../errors.js';
import { defineOperation, type OperationContext } from './define.js';
import { engineFilters, oneOrMany } from './shared/params.js';
import { node, swarm, type SwarmNode } from './shared/schemas/swarm-nodes-services.js';
import { nodeRef, swarmContext, writeWithVersion } from './shared/swarm.js';

/** "self" (as the docker CLI takes it) → this Engine's node id; anything else is passed on. */
async function nodeId(ctx: OperationContext, ref: string): Promise<string> {
  if (ref !== 'self') return ref;
  const info = (await ctx.json<{ Swarm?: { NodeID?: string; ControlAvailable?: boolean } }>({ method: 'GET', path: '/info' })).body;
  if (!info.Swarm?.NodeID) {
    // Not in a swarm: GET /swarm gives the Engine's own answer (not a manager; or no Swarm at all, as on Podman), mapped by ctx.
    await ctx.json({ method: 'GET', path: '/swarm', ignoreBody: true });
    throw new ConnectorError('UNAVAILABLE', 'This Engine is not part of a swarm, so "self" names no node: run "docker swarm init" or "docker swarm join" on it, or name a node of the swarm', {
      operation: ctx.operation,
      details: { swarm: 'not_manager', parameters: ['node'] },
    });
  }
  return info.Swarm.NodeID;
}

const NOT_MANAGER_NOTE = 'On an Engine that is not a swarm manager the call fails with UNAVAILABLE saying so; on one without Swarm (Podman) with UNSUPPORTED.';

export const inspectSwarm = defineOperation({
  name: 'inspect_swarm',
  category: 'swarm',
  title: 'Inspect the swarm',
  description: `The swarm this Engine manages (GET /swarm): id, version, settings, TLS root, data-path port, address pools. The join tokens are left out: they are credentials that let anyone join the swarm. ${NOT_MANAGER_NOTE}`,
  params: z.object({}).strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's swarm object without JoinTokens (ID, Version, CreatedAt, UpdatedAt, Spec, TLSInfo, …)",
  resultSchema: swarm,
  async run(ctx) {
    const body = (await swarmContext(ctx).json<z.output<typeof swarm> & { JoinTokens?: unknown }>({ method: 'GET', path: '/swarm' })).body;
    const { JoinTokens: _tokens, ...rest } = body;
    return rest;
  },
});

const nodeFilters = engineFilters({
  id: oneOrMany(z.string().min(1)).describe('Node id or its beginning'),
  label: oneOrMany(z.string().min(1)).describe('Engine label: "key" or "key=value"'),
  'node.label': oneOrMany(z.string().min(1)).describe('Node label (set with update_node): "key" or "key=value"'),
  membership: oneOrMany(z.enum(['accepted', 'pending'])).describe('"accepted" or "pending"'),
  name: oneOrMany(z.string().min(1)).describe('Node name or host name'),
  role: oneOrMany(z.enum(['manager', 'worker'])).describe('"manager" or "worker"'),
});

export const listNodes = defineOperation({
  name: 'list_nodes',
  category: 'swarm',
  title: 'List swarm nodes',
  description: `The swarm's nodes (GET /nodes), with their role, availability, state and labels. ${NOT_MANAGER_NOTE}`,
  params: z.object({ filters: nodeFilters.optional().describe('Filters: id, label, node.label, membership, name, role') }).strict(),
  safety: 'read',
  idempotent: true,
  result: "{nodes: [the Engine's node objects]}",
  resultSchema: z.strictObject({ nodes: z.array(node).describe("The Engine's node objects") }),
  async run(ctx, p) {
    const res = await swarmContext(ctx).json<SwarmNode[] | null>({ method: 'GET', path: '/nodes', query: { filters: normalizeFilters(p.filters) } });
    return { nodes: res.body ?? [] };
  },
});

export const inspectNode = defineOperation({
  name: 'inspect_node',
  category: 'swarm',
  title: 'Inspect a swarm node',
  description: `One node of the swarm (GET /nodes/{id}); "self" names the node of this Engine. ${NOT_MANAGER_NOTE}`,
  params: z.object({ node: nodeRef.describe('Node id, short id, name or host name; "self" is the node of this Engine') }).strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's node object (ID, Version, Spec, Description, Status, ManagerStatus)",
  resultSchema: node,
  async run(ctx, p) {
    const sctx = swarmContext(ctx);
    return (await sctx.json<SwarmNode>({ method: 'GET', path: enginePath`/nodes/${await nodeId(sctx, p.node)}` })).body;
  },
});

export const updateNode = defineOperation({
  name: 'update_node',
  category: 'swarm',
  title: 'Update a swarm node',
  description:
    'Changes a node (POST /nodes/{id}/update): `availability` "drain" moves its tasks to other nodes and takes no new ones (e.g. a compromised node), "pause" keeps its tasks but takes no new ones, "active" returns it to service; `labels` replaces its node labels; `role` promotes or demotes it. What is not named is kept. The connector reads the node and writes it back with its version, reading again when another writer got in first.',
  params: z
    .object({
      node: nodeRef.describe('Node id, short id, name or host name; "self" is the node of this Engine'),
      availability: z.enum(['active', 'pause', 'drain']).optional().describe('"active", "pause" (no new tasks) or "drain" (tasks leave the node)'),
      labels: z.record(z.string().min(1), z.string()).optional().describe('Node labels, replacing all the node has: {"key": "value"} ({} removes them all)'),
      role: z.enum(['worker', 'manager']).optional().describe('"worker" or "manager"'),
    })
    .strict()
    .refine((p) => p.availability !== undefined || p.labels !== undefined || p.role !== undefined, {
      message: 'name at least one of availability, labels, role',
      path: ['availability'],
    }),
  safety: 'write',
  // The write names the version it read; sent again it is rebuilt on the newest version with the same result.
  idempotent: true,
  result: "The Engine's node object after the change",
  resultSchema: node,
  async run(ctx, p) {
    const sctx = swarmContext(ctx);
    const id = await nodeId(sctx, p.node);
    const read = async () => (await sctx.json<SwarmNode>({ method: 'GET', path: enginePath`/nodes/${id}` })).body;
    await writeWithVersion(sctx, read, async (current, version) => {
      const spec = {
        ...current.Spec,
        ...(p.availability !== undefined ? { Availability: p.availability } : {}),
        ...(p.labels !== undefined ? { Labels: p.labels } : {}),
        ...(p.role !== undefined ? { Role: p.role } : {}),
      };
      await sctx.json({ method: 'POST', path: enginePath`/nodes/${current.ID}/update`, query: { version }, body: spec, ignoreBody: true });
    });
    return read();
  },
});

/** Swarm and node operations. */
export const swarmOperations = [inspectSwarm, listNodes, inspectNode, updateNode] as const;
