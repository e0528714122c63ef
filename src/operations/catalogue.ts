import type { OperationDefinition } from './define.js';
import type { OperationName } from './index.js';

/**
 * Which family file declares each operation, so that a caller running one
 * operation imports only that family: importing every family (and the zod
 * schemas they build) slows CLI start-up and costs memory (bench/README.md),
 * and a `run ping` needs only system.ts.
 *
 * The type below makes this table complete by construction: an operation
 * added to a family and missing here (or a name here that no family
 * declares) is a compile error, and test/unit/catalogue.test.ts checks each
 * name sits in the family it names.
 */
export type Family = 'system' | 'system-info' | 'system-prune' | 'containers' | 'container-state' | 'exec' | 'logs' | 'stats' | 'archive' | 'images' | 'registry' | 'build' | 'networks' | 'volumes' | 'containment' | 'evidence' | 'swarm' | 'services' | 'tasks' | 'secrets' | 'hunts';

export const OPERATION_FAMILIES: { readonly [N in OperationName]: Family } = {
  ping: 'system',
  get_version: 'system',
  get_info: 'system-info',
  system_df: 'system-info',
  system_events: 'system-info',
  health: 'system',
  list_containers: 'containers',
  inspect_container: 'containers',
  create_container: 'containers',
  start_container: 'container-state',
  stop_container: 'container-state',
  restart_container: 'container-state',
  kill_container: 'container-state',
  pause_container: 'container-state',
  unpause_container: 'container-state',
  rename_container: 'containers',
  remove_container: 'containers',
  container_top: 'containers',
  container_changes: 'containers',
  wait_container: 'container-state',
  container_commit: 'containers',
  update_container: 'containers',
  prune_containers: 'containers',
  exec_container: 'exec',
  container_logs: 'logs',
  container_stats: 'stats',
  container_export: 'archive',
  copy_from_container: 'archive',
  copy_to_container: 'archive',
  list_images: 'images',
  inspect_image: 'images',
  image_history: 'images',
  remove_image: 'images',
  tag_image: 'images',
  pull_image: 'registry',
  push_image: 'registry',
  search_images: 'registry',
  inspect_distribution: 'registry',
  registry_login: 'registry',
  build_image: 'build',
  prune_images: 'images',
  save_images: 'images',
  load_images: 'images',
  list_networks: 'networks',
  inspect_network: 'networks',
  create_network: 'networks',
  remove_network: 'networks',
  connect_network: 'networks',
  disconnect_network: 'networks',
  prune_networks: 'networks',
  list_volumes: 'volumes',
  inspect_volume: 'volumes',
  create_volume: 'volumes',
  remove_volume: 'volumes',
  prune_volumes: 'volumes',
  isolate_container: 'containment',
  restore_container: 'containment',
  collect_evidence: 'evidence',
  verify_evidence: 'evidence',
  system_prune: 'system-prune',
  inspect_swarm: 'swarm',
  list_nodes: 'swarm',
  inspect_node: 'swarm',
  update_node: 'swarm',
  list_services: 'services',
  inspect_service: 'services',
  create_service: 'services',
  update_service: 'services',
  scale_service: 'services',
  rollback_service: 'services',
  remove_service: 'services',
  list_tasks: 'tasks',
  inspect_task: 'tasks',
  service_logs: 'tasks',
  list_secrets: 'secrets',
  inspect_secret: 'secrets',
  create_secret: 'secrets',
  remove_secret: 'secrets',
  list_configs: 'secrets',
  inspect_config: 'secrets',
  create_config: 'secrets',
  remove_config: 'secrets',
  find_containers: 'hunts',
  find_images: 'hunts',
};

type Declarations = readonly OperationDefinition[];

/** One dynamic import per family: a bundler turns each into a chunk of its own. */
export const FAMILY_LOADERS: { readonly [F in Family]: () => Promise<Declarations> } = {
  system: async () => (await import('./system.js')).systemOperations as unknown as Declarations,
  'system-info': async () => (await import('./system-info.js')).systemInfoOperations as unknown as Declarations,
  'system-prune': async () => (await import('./system-prune.js')).systemPruneOperations as unknown as Declarations,
  containers: async () => (await import('./containers.js')).containerOperations as unknown as Declarations,
  'container-state': async () => (await import('./container-state.js')).containerStateOperations as unknown as Declarations,
  exec: async () => (await import('./exec.js')).execOperations as unknown as Declarations,
  logs: async () => (await import('./logs.js')).logsOperations as unknown as Declarations,
  stats: async () => (await import('./stats.js')).statsOperations as unknown as Declarations,
  archive: async () => (await import('./archive.js')).archiveOperations as unknown as Declarations,
  images: async () => (await import('./images.js')).imageOperations as unknown as Declarations,
  registry: async () => (await import('./registry.js')).registryOperations as unknown as Declarations,
  build: async () => (await import('./build.js')).buildOperations as unknown as Declarations,
  networks: async () => (await import('./networks.js')).networkOperations as unknown as Declarations,
  volumes: async () => (await import('./volumes.js')).volumeOperations as unknown as Declarations,
  containment: async () => (await import('./containment.js')).containmentOperations as unknown as Declarations,
  evidence: async () => (await import('./evidence.js')).evidenceOperations as unknown as Declarations,
  swarm: async () => (await import('./swarm.js')).swarmOperations as unknown as Declarations,
  services: async () => (await import('./services.js')).serviceOperations as unknown as Declarations,
  tasks: async () => (await import('./tasks.js')).taskOperations as unknown as Declarations,
  secrets: async () => (await import('./secrets.js')).secretOperations as unknown as Declarations,
  hunts: async () => (await import('./hunts.js')).huntOperations as unknown as Declarations,
};

const loaded = new Map<string, OperationDefinition>();

export function isOperationName(name: string): name is OperationName {
  return Object.hasOwn(OPERATION_FAMILIES, name);
}

/** The operation if its family is already loaded: the synchronous fast path of every call after the first. */
export function loadedOperation(name: string): OperationDefinition | undefined {
  return loaded.get(name);
}

/** Imports the family that declares `name` (once) and returns the operation; undefined for unknown names. */
export async function loadOperation(name: string): Promise<OperationDefinition | undefined> {
  const hit = loaded.get(name);
  if (hit || !isOperationName(name)) return hit;
  for (const op of await FAMILY_LOADERS[OPERATION_FAMILIES[name]]()) loaded.set(op.name, op);
  return loaded.get(name);
}
