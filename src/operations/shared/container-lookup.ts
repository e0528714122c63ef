import { enginePath, type QueryValue } from '../../engine/path.js';
import type { OperationContext } from '../define.js';
import type { ContainerInspect, ContainerSummary } from './engine-types.js';

/** GET /containers/{id}/json. */
export async function inspectContainer(ctx: OperationContext, ref: string): Promise<ContainerInspect> {
  return (await ctx.json<ContainerInspect>({ method: 'GET', path: enginePath`/containers/${ref}/json` })).body;
}

/** Every container, running or not (GET /containers/json?all=true). */
export async function listAllContainers(ctx: OperationContext, query: Record<string, QueryValue> = {}): Promise<ContainerSummary[]> {
  return (await ctx.json<ContainerSummary[]>({ method: 'GET', path: '/containers/json', query: { all: true, ...query } })).body ?? [];
}

/** A container name as people write it: the Engine's "/name" without the slash ("" for none). */
export function nameWithoutSlash(name: string | undefined): string {
  return (name ?? '').replace(/^\//, '');
}

/** The first of a list entry's Names, without its slash; null when it has none. */
export function firstName(names: string[] | null | undefined): string | null {
  const first = names?.[0];
  return first === undefined ? null : nameWithoutSlash(first);
}
