import type { z } from 'zod';
import { systemOperations } from './system.js';
import { systemInfoOperations } from './system-info.js';
import { systemPruneOperations } from './system-prune.js';
import { containerOperations } from './containers.js';
import { containerStateOperations } from './container-state.js';
import { execOperations } from './exec.js';
import { logsOperations } from './logs.js';
import { statsOperations } from './stats.js';
import { archiveOperations } from './archive.js';
import { imageOperations } from './images.js';
import { registryOperations } from './registry.js';
import { buildOperations } from './build.js';
import { networkOperations } from './networks.js';
import { volumeOperations } from './volumes.js';
import { containmentOperations } from './containment.js';
import { evidenceOperations } from './evidence.js';
import { swarmOperations } from './swarm.js';
import { serviceOperations } from './services.js';
import { taskOperations } from './tasks.js';
import { secretOperations } from './secrets.js';
import { huntOperations } from './hunts.js';
import type { OperationDefinition } from './define.js';

/**
 * The catalogue of operations, every family loaded at once: the single
 * source of truth. The manifest, the CLI, the HTTP routes and OpenAPI
 * document and the MCP tools are all derived from this list (a caller that
 * runs one operation finds its family through catalogue.ts instead, and
 * loads only that). Adding an operation = one declaration in its family file,
 * its line in catalogue.ts + its tests.
 */
export const operations = [
  ...systemOperations,
  ...systemInfoOperations,
  ...systemPruneOperations,
  ...containerOperations,
  ...containerStateOperations,
  ...execOperations,
  ...logsOperations,
  ...statsOperations,
  ...archiveOperations,
  ...imageOperations,
  ...registryOperations,
  ...buildOperations,
  ...networkOperations,
  ...volumeOperations,
  ...containmentOperations,
  ...evidenceOperations,
  ...swarmOperations,
  ...serviceOperations,
  ...taskOperations,
  ...secretOperations,
  ...huntOperations,
] as const;

export type AnyOperation = (typeof operations)[number];
export type OperationName = AnyOperation['name'];
export type OperationByName<N extends OperationName> = Extract<AnyOperation, { name: N }>;
export type ParamsOf<N extends OperationName> = z.input<OperationByName<N>['params']>;
export type ResultOf<N extends OperationName> = Awaited<ReturnType<OperationByName<N>['run']>>;

const byName = new Map<string, OperationDefinition>(operations.map((op) => [op.name, op as unknown as OperationDefinition]));

export function getOperation(name: string): OperationDefinition | undefined {
  return byName.get(name);
}

export function listOperations(): OperationDefinition[] {
  return [...byName.values()];
}

export type { OperationDefinition, OperationContext, Safety, Category } from './define.js';
