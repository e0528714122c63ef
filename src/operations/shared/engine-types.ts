/**
 * The parts of the Engine's answers the operations read, declared once.
 * Fields the connector does not read are left out (results pass the
 * Engine's objects through whole); unknown fields are ignored.
 */

/** An entry of GET /containers/json. */
export interface ContainerSummary {
  Id: string;
  Names?: string[] | null;
  /** Unix seconds, whole (the list drops the fraction; inspect has it). */
  Created: number;
  Labels?: Record<string, string> | null;
  SizeRw?: number;
  State?: string;
  ImageID?: string;
  Mounts?: { Type?: string; Name?: string }[] | null;
}

/** The settings of a container's endpoint on one network. */
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

/** GET /containers/{id}/json. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  /** RFC 3339 with nanoseconds. */
  Created?: string;
  State?: { Status?: string; Running?: boolean; Paused?: boolean; Restarting?: boolean };
  Mounts?: { Type?: string; Name?: string; Destination?: string }[] | null;
  HostConfig?: { AutoRemove?: boolean; Links?: string[] | null; NetworkMode?: string };
  NetworkSettings?: { Networks?: Record<string, EndpointSettings> | null };
}

/** An entry of GET /images/json. */
export interface ImageSummary {
  Id: string;
  ParentId?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  /** Unix seconds, whole (the list drops the fraction; inspect has it). */
  Created: number;
  Size?: number;
  Labels?: Record<string, string> | null;
}

/** GET /images/{name}/json, the parts read here. */
export interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  /** RFC 3339 with nanoseconds. */
  Created?: string;
}

/** An entry of DELETE /images/{name} and POST /images/prune answers. */
export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

/** GET /networks and GET /networks/{id}. */
export interface NetworkSummary {
  Id: string;
  Name: string;
  /** RFC 3339 with nanoseconds. */
  Created?: string;
  Scope?: string;
  Driver?: string;
  Ingress?: boolean;
  Labels?: Record<string, string> | null;
  /** Only in the single-network form (inspect). */
  Containers?: Record<string, { Name?: string }> | null;
}

/** A volume of GET /volumes. */
export interface VolumeSummary {
  Name: string;
  Driver?: string;
  Labels?: Record<string, string> | null;
  Mountpoint?: string;
  CreatedAt?: string;
  Scope?: string;
}

/** A build cache record of GET /system/df. */
export interface BuildCacheRecord {
  ID: string;
  Type?: string;
  Description?: string;
  InUse?: boolean;
  Shared?: boolean;
  LastUsedAt?: string | null;
}
