/**
 * The Engine's system objects: GET /version (`SystemVersion`), GET /info
 * (`SystemInfo`, its main documented fields: the Engine adds many more),
 * GET /events (`EventMessage`) and GET /system/df. Open objects (z.object):
 * newer Engines add fields. The connector speaks API 1.51 at most, so
 * system_df has the shape of API 1.51 and earlier (API 1.52 replaced it).
 */
import * as z from 'zod';
import { strings, stringMap } from './common.js';
import { containerSummary } from './container.js';
import { imageSummary } from './image.js';
import { volume } from './volume.js';

/** Label / value pairs the Engine reports for display (DriverStatus and the like). */
const pairs = z.array(z.array(z.string()));

export { systemVersion, type SystemVersion } from './system-version.js';

/* ---------------- GET /info ---------------- */

const commit = z.object({
  ID: z.string().describe('Commit id of the version in use'),
  Expected: z.string().optional().describe('Until Engine 24 (deprecated): the commit the Engine expected'),
});

export const systemInfo = z.object({
  ID: z.string().describe('Engine id'),
  Containers: z.number().int().describe('Number of containers'),
  ContainersRunning: z.number().int().describe('Running containers'),
  ContainersPaused: z.number().int().describe('Paused containers'),
  ContainersStopped: z.number().int().describe('Stopped containers'),
  Images: z.number().int().describe('Number of images (with the classic store: all, intermediate ones included)'),
  Driver: z.string().describe('Storage driver, e.g. "overlay2"'),
  DriverStatus: pairs.nullable().describe('Storage driver details as [label, value] pairs'),
  DockerRootDir: z.string().describe("The Engine's data directory"),
  Plugins: z
    .object({
      Volume: strings.nullable().optional().describe('Volume drivers'),
      Network: strings.nullable().optional().describe('Network drivers'),
      Authorization: strings.nullable().optional().describe('Authorization plugins'),
      Log: strings.nullable().optional().describe('Logging drivers'),
    })
    .describe('Plugins available, by kind'),
  MemoryLimit: z.boolean().describe('Memory limits are supported'),
  SwapLimit: z.boolean().describe('Swap limits are supported'),
  KernelMemory: z.boolean().optional().describe('Deprecated: kernel memory limits are supported (left out by newer Engines)'),
  KernelMemoryTCP: z.boolean().optional().describe('Deprecated (gone in API 1.52): kernel TCP memory limits are supported'),
  CpuCfsPeriod: z.boolean().describe('CFS period is supported'),
  CpuCfsQuota: z.boolean().describe('CFS quota is supported'),
  CPUShares: z.boolean().describe('CPU shares are supported'),
  CPUSet: z.boolean().describe('cpusets are supported'),
  PidsLimit: z.boolean().describe('PID limits are supported'),
  OomKillDisable: z.boolean().describe('Disabling the OOM killer is supported'),
  IPv4Forwarding: z.boolean().describe('IPv4 forwarding is on'),
  BridgeNfIptables: z.boolean().optional().describe('Deprecated: bridge-nf-call-iptables is on (left out by newer Engines)'),
  BridgeNfIp6tables: z.boolean().optional().describe('Deprecated: bridge-nf-call-ip6tables is on (left out by newer Engines)'),
  Debug: z.boolean().describe('The Engine runs in debug mode'),
  NFd: z.number().int().describe('Open file descriptors (only in debug mode, else 0 on newer Engines)'),
  NGoroutines: z.number().int().describe('Goroutines (only in debug mode, else 0 on newer Engines)'),
  SystemTime: z.string().describe("The host's time, RFC 3339 with nanoseconds"),
  LoggingDriver: z.string().describe('Default logging driver'),
  CgroupDriver: z.string().describe('"cgroupfs", "systemd" or "none"'),
  CgroupVersion: z.string().optional().describe('"1" or "2"'),
  NEventsListener: z.number().int().describe('Event listeners subscribed'),
  KernelVersion: z.string().describe("The host's kernel version"),
  OperatingSystem: z.string().describe("The host's operating system, e.g. \"Debian GNU/Linux 12 (bookworm)\""),
  OSVersion: z.string().describe("The host's operating system version"),
  OSType: z.string().describe('"linux" or "windows"'),
  Architecture: z.string().describe('Hardware architecture, e.g. "x86_64"'),
  NCPU: z.number().int().describe('CPUs available to the Engine'),
  MemTotal: z.number().int().describe('Memory of the host, bytes'),
  IndexServerAddress: z.string().describe('Default registry index address'),
  RegistryConfig: z
    .object({
      InsecureRegistryCIDRs: strings.nullable().optional().describe('Subnets whose registries are trusted without TLS'),
      IndexConfigs: z
        .record(
          z.string(),
          z.object({
            Name: z.string().optional(),
            Mirrors: strings.nullable().optional(),
            Secure: z.boolean().optional(),
            Official: z.boolean().optional(),
          }),
        )
        .nullable()
        .optional()
        .describe('Registries by name'),
      Mirrors: strings.nullable().optional().describe('Registry mirrors'),
    })
    .nullable()
    .describe('Registry settings'),
  GenericResources: z.array(z.object({})).nullable().describe('Swarm generic resources of this node (null when none)'),
  HttpProxy: z.string().describe('HTTP proxy the Engine uses (credentials masked by the Engine)'),
  HttpsProxy: z.string().describe('HTTPS proxy the Engine uses (credentials masked by the Engine)'),
  NoProxy: z.string().describe('Hosts reached without the proxy'),
  Name: z.string().describe("The host's name"),
  Labels: strings.nullable().describe('Engine labels, "key=value"'),
  ExperimentalBuild: z.boolean().describe('Experimental features are on'),
  ServerVersion: z.string().describe('Engine version'),
  Runtimes: z
    .record(
      z.string(),
      z.object({
        path: z.string().optional().describe('Runtime binary'),
        runtimeArgs: strings.nullable().optional().describe('Its arguments'),
        status: stringMap.nullable().optional().describe('Newer Engines: runtime details'),
      }),
    )
    .nullable()
    .describe('OCI runtimes by name'),
  DefaultRuntime: z.string().describe('Default OCI runtime'),
  Swarm: z
    .object({
      NodeID: z.string().describe('Node id (empty outside a swarm)'),
      NodeAddr: z.string().describe('Node address (empty outside a swarm)'),
      LocalNodeState: z.string().describe('"", "inactive", "pending", "active", "error" or "locked"'),
      ControlAvailable: z.boolean().describe('This node is a manager'),
      Error: z.string().describe('Last swarm error'),
      RemoteManagers: z.array(z.object({ NodeID: z.string().optional(), Addr: z.string().optional() })).nullable().describe('Managers known to this node'),
      Nodes: z.number().int().nullable().optional().describe('Managers only: nodes in the swarm'),
      Managers: z.number().int().nullable().optional().describe('Managers only: managers in the swarm'),
      Cluster: z.object({}).nullable().optional().describe('Managers only: the swarm (id, spec, TLS info, …)'),
    })
    .describe('Swarm state of this node'),
  LiveRestoreEnabled: z.boolean().describe('Containers keep running while the Engine is down'),
  Isolation: z.string().describe('Windows isolation ("default", "hyperv", "process"; empty on Linux)'),
  InitBinary: z.string().describe('Init binary for --init'),
  ContainerdCommit: commit.describe('containerd commit'),
  RuncCommit: commit.describe('runc commit'),
  InitCommit: commit.describe('init binary commit'),
  SecurityOptions: strings.nullable().describe('Security features on, e.g. "name=seccomp,profile=default"'),
  ProductLicense: z.string().optional().describe('Product license (left out when empty)'),
  DefaultAddressPools: z
    .array(z.object({ Base: z.string().optional(), Size: z.number().int().optional() }))
    .nullable()
    .optional()
    .describe('Custom default address pools for local networks (left out when none)'),
  FirewallBackend: z
    .object({ Driver: z.string().optional().describe('"iptables" or "nftables"'), Info: pairs.nullable().optional() })
    .nullable()
    .optional()
    .describe('Newer Engines (not 20.10), Linux: the firewall backend'),
  CDISpecDirs: strings.nullable().optional().describe('Newer Engines (not 20.10): where CDI device specs are read from'),
  DiscoveredDevices: z
    .array(z.object({ Source: z.string().optional(), ID: z.string().optional() }))
    .nullable()
    .optional()
    .describe('API 1.50+: devices discovered by device drivers'),
  NRI: z.object({ Info: pairs.nullable().optional() }).nullable().optional().describe('API 1.53+: Node Resource Interface details'),
  Containerd: z
    .object({
      Address: z.string().optional().describe("containerd's socket"),
      Namespaces: z.object({ Containers: z.string().optional(), Plugins: z.string().optional() }).optional().describe('containerd namespaces the Engine uses'),
    })
    .nullable()
    .optional()
    .describe('Newer Engines (not 20.10): the containerd the Engine uses'),
  Warnings: strings.nullable().describe('Warnings about the configuration (null when none)'),
});
export type SystemInfo = z.output<typeof systemInfo>;

/* ---------------- GET /events ---------------- */

export const eventMessage = z.object({
  Type: z.string().describe('Object type: "container", "image", "volume", "network", "daemon", "plugin", "node", "service", "secret", "config" or "builder"'),
  Action: z.string().describe('What happened, e.g. "create", "start", "die", "exec_start: sh", "prune"'),
  Actor: z
    .object({
      ID: z.string().describe('Id of the object (a name for volumes)'),
      Attributes: stringMap.nullable().optional().describe('Details: name, image, labels, exit code, …'),
    })
    .describe('The object the event is about'),
  scope: z.string().describe('"local" or "swarm"'),
  time: z.number().int().describe('Unix seconds'),
  // Not .int(): zod caps integers at 2^53, and nanoseconds since 1970 are beyond it.
  timeNano: z.number().describe('Unix nanoseconds, a whole number (beyond 2^53, so rounded once parsed in JavaScript)'),
  status: z.string().optional().describe('Deprecated, until API 1.51: the action (some object types only)'),
  id: z.string().optional().describe('Deprecated, until API 1.51: the object id (some object types only)'),
  from: z.string().optional().describe('Deprecated, until API 1.51: the image of a container event'),
});
export type EventMessage = z.output<typeof eventMessage>;

/* ---------------- GET /system/df ---------------- */

export const buildCacheRecord = z.object({
  ID: z.string().describe('Record id'),
  Parent: z.string().optional().describe('Until API 1.41: the parent record id'),
  Parents: strings.nullable().optional().describe('API 1.42+: parent record ids'),
  Type: z.string().describe('"internal", "frontend", "source.local", "source.git.checkout", "exec.cachemount" or "regular"'),
  Description: z.string().describe('What the record holds'),
  InUse: z.boolean().describe('In use by a build now'),
  Shared: z.boolean().describe('Shared with other records'),
  Size: z.number().int().describe('Bytes'),
  CreatedAt: z.string().describe('Creation time, RFC 3339'),
  LastUsedAt: z.string().nullable().describe('Last use, RFC 3339; null when never used'),
  UsageCount: z.number().int().describe('Times used'),
});

export const systemDf = z.object({
  LayersSize: z.number().int().describe('Bytes used by image layers (0 when images were not asked for)'),
  Images: z.array(imageSummary).nullable().describe('Images, with Containers (how many use each) and SharedSize; null when not asked for'),
  Containers: z.array(containerSummary).nullable().describe('Containers, with SizeRw and SizeRootFs; null when not asked for'),
  Volumes: z.array(volume).nullable().describe('Volumes, with UsageData; null when not asked for'),
  BuildCache: z.array(buildCacheRecord).nullable().optional().describe('Build cache records; null when there are none (20.10) or when not asked for'),
  BuilderSize: z.number().int().optional().describe('Until API 1.41: bytes used by the builder (use BuildCache)'),
});
export type SystemDf = z.output<typeof systemDf>;
