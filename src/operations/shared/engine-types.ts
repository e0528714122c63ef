import type * as z from 'zod';
import type { containerInspect, containerSummary, endpointSettings } from './schemas/container.js';
import type { imageInspect, imageSummary } from './schemas/image.js';
import type { network } from './schemas/network.js';
import type { buildCacheRecord } from './schemas/system.js';
import type { volume } from './schemas/volume.js';

/**
 * The parts of the Engine's answers the operations read: views of the
 * result schemas in `schemas/` (the one declaration of each Engine object),
 * with only the identity fields required, so planners and their unit tests
 * can work with the fields they read and an Engine that leaves one out is
 * still handled.
 */

/** Every field, at every depth, optional (lists stay lists, maps stay maps, null stays allowed). */
type Partially<T> = T extends readonly (infer U)[] ? Partially<U>[] : T extends object ? (string extends keyof T ? T : { [K in keyof T]?: Partially<T[K]> }) : T;
/** `R` as the schema has them, `O` optional at every depth. */
type View<T, R extends keyof T, O extends keyof T> = Pick<T, R> & Partially<Pick<T, O>>;

/** An entry of GET /containers/json. `Created` is whole unix seconds (inspect has the fraction). */
export type ContainerSummary = View<z.output<typeof containerSummary>, 'Id' | 'Created', 'Names' | 'Labels' | 'SizeRw' | 'State' | 'ImageID' | 'Mounts'>;

/** The settings of a container's endpoint on one network. */
export type EndpointSettings = Partially<z.output<typeof endpointSettings>>;

/** GET /containers/{id}/json. `Created` is RFC 3339 with nanoseconds. */
export type ContainerInspect = View<z.output<typeof containerInspect>, 'Id' | 'Name', 'Created' | 'State' | 'Mounts' | 'HostConfig' | 'NetworkSettings'>;

/** An entry of GET /images/json. `Created` is whole unix seconds (inspect has the fraction). */
export type ImageSummary = View<z.output<typeof imageSummary>, 'Id' | 'Created', 'ParentId' | 'RepoTags' | 'RepoDigests' | 'Size' | 'Labels'>;

/** GET /images/{name}/json, the parts read here. */
export type ImageInspect = View<z.output<typeof imageInspect>, 'Id', 'RepoTags' | 'RepoDigests' | 'Created'>;

/** An entry of DELETE /images/{name} and POST /images/prune answers (the connector reshapes it: no result schema of its own). */
export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

/** GET /networks and GET /networks/{id}. */
export type NetworkSummary = View<z.output<typeof network>, 'Id' | 'Name', 'Created' | 'Scope' | 'Driver' | 'Ingress' | 'Labels' | 'Containers'>;

/** A volume of GET /volumes. */
export type VolumeSummary = View<z.output<typeof volume>, 'Name', 'Driver' | 'Labels' | 'Mountpoint' | 'CreatedAt' | 'Scope'>;

/** A build cache record of GET /system/df. */
export type BuildCacheRecord = View<z.output<typeof buildCacheRecord>, 'ID', 'Type' | 'Description' | 'InUse' | 'Shared' | 'LastUsedAt'>;
