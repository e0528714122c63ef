/**
 * The Engine's container objects (an entry of GET /containers/json, and
 * GET /containers/{id}/json) as result schemas. Open objects: newer Engines
 * add fields. Go's nil slices and maps reach us as null (Engine 20.10 and
 * 28.x alike: ExecIDs, Binds, CapAdd, Links, Entrypoint, an endpoint's
 * Aliases, …), hence `.nullable()` wherever the Engine's type is a list, a
 * map or a pointer; fields the Engine leaves out unless set (Health,
 * Healthcheck, SizeRw, StopSignal, …) or that only some API versions send
 * are `.optional()`.
 */
import * as z from 'zod';
import { strings, stringMap, emptyObjectSet } from './common.js';
import { healthConfig, ociDescriptor } from './image.js';

/** `{"<key>": {}}`: the Engine's set of ports or paths. */

/** The states a container can be in. */
export const containerStatus = z.enum(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);

/* ---------------- shared pieces ---------------- */

export const portBinding = z
  .object({
    HostIp: z.string().optional().describe('Host address the port is published on ("" or "0.0.0.0" / "::" for all)'),
    HostPort: z.string().optional().describe('Host port, as a string ("" when the Engine picks one at start)'),
  })
  .describe('A host address and port a container port is published on');

export const portMap = z
  .record(z.string(), z.array(portBinding).nullable())
  .describe('"<port>/<tcp|udp|sctp>" → its host bindings (null: exposed, not published)');

/** A mount as the Engine reports it (inspect and list). */
export const mountPoint = z
  .object({
    Type: z.enum(['bind', 'cluster', 'image', 'npipe', 'tmpfs', 'volume']).optional().describe('Mount type ("image": API 1.47+)'),
    Name: z.string().optional().describe('Volume name (volumes only; a 64-hex name is an anonymous volume)'),
    Source: z.string().optional().describe('Host path of the data (for volumes, inside the Engine\'s data root; may be "" in the list)'),
    Destination: z.string().describe('Path inside the container'),
    Driver: z.string().optional().describe('Volume driver (volumes only)'),
    Mode: z.string().describe('Options given at creation, e.g. "z", "ro"'),
    RW: z.boolean().describe('Mounted read-write'),
    Propagation: z.string().describe('Bind propagation, e.g. "rprivate" ("" when not a bind)'),
  })
  .describe('A mount of the container');

/** A container's endpoint on one network (inspect, list). */
export const endpointSettings = z
  .object({
    IPAMConfig: z
      .object({
        IPv4Address: z.string().optional().describe('Static IPv4 address asked for'),
        IPv6Address: z.string().optional().describe('Static IPv6 address asked for'),
        LinkLocalIPs: strings.nullable().optional().describe('Link-local addresses asked for'),
      })
      .nullable()
      .optional()
      .describe('Addresses configured at connect or create; null when dynamic'),
    Links: strings.nullable().optional().describe('Legacy links on this network ("container:alias"); null when none'),
    Aliases: strings.nullable().optional().describe('Network-scoped aliases; null when none (Engines before API 1.45 add the short id here)'),
    MacAddress: z.string().optional().describe('MAC address on this network ("" when not running)'),
    DriverOpts: stringMap.nullable().optional().describe('Driver options of the endpoint'),
    GwPriority: z.number().int().optional().describe('API 1.48+: which endpoint gives the default gateway (highest wins)'),
    NetworkID: z.string().optional().describe('Network id ("" for a container never started on it)'),
    EndpointID: z.string().optional().describe('Endpoint id ("" when not running)'),
    Gateway: z.string().optional().describe('IPv4 gateway'),
    IPAddress: z.string().optional().describe('IPv4 address ("" when not running)'),
    IPPrefixLen: z.number().int().optional().describe('IPv4 prefix length'),
    IPv6Gateway: z.string().optional().describe('IPv6 gateway'),
    GlobalIPv6Address: z.string().optional().describe('Global IPv6 address'),
    GlobalIPv6PrefixLen: z.number().int().optional().describe('IPv6 prefix length'),
    DNSNames: strings.nullable().optional().describe('API 1.44+: DNS names of the endpoint on this network (name, aliases, short id, hostname); null in the list'),
  })
  .describe("The container's endpoint on one network");

const endpointsByNetwork = z.record(z.string(), endpointSettings).describe('Network name → the endpoint on it');

/* ---------------- GET /containers/json ---------------- */

export const portSummary = z
  .object({
    IP: z.string().optional().describe('Host address the port is published on (absent when not published)'),
    PrivatePort: z.number().int().describe('Port in the container'),
    PublicPort: z.number().int().optional().describe('Port on the host (absent when not published)'),
    Type: z.enum(['tcp', 'udp', 'sctp']).describe('Protocol'),
  })
  .describe('A port of the container and where it is published');

/** An entry of GET /containers/json. */
export const containerSummary = z.object({
  Id: z.string().describe('Container id (64 hex characters)'),
  Names: strings.nullable().describe('Names, each with a leading "/" (several with legacy links)'),
  Image: z.string().describe('The image as given at creation (or its id once that reference is gone)'),
  ImageID: z.string().describe('Image id, "sha256:…"'),
  ImageManifestDescriptor: ociDescriptor
    .nullable()
    .optional()
    .describe('API 1.48+, containerd image store: descriptor of the platform manifest the container was created from'),
  Command: z.string().describe('Command, as one string'),
  Created: z.number().int().describe('Creation time, unix seconds'),
  Ports: z.array(portSummary).nullable().describe('Exposed and published ports'),
  SizeRw: z.number().int().nullable().optional().describe('Bytes written in the container layer (with `size`; absent when 0)'),
  SizeRootFs: z.number().int().nullable().optional().describe('Bytes of the whole filesystem, image included (with `size`)'),
  Labels: stringMap.nullable().describe('Labels'),
  State: containerStatus.describe('State'),
  Status: z.string().describe('Human-readable status, e.g. "Up 4 days (healthy)", "Exited (3) 2 hours ago"'),
  HostConfig: z
    .object({
      NetworkMode: z.string().optional().describe('Network mode or primary network name'),
      Annotations: stringMap.nullable().optional().describe('API 1.46+: annotations given to the runtime'),
    })
    .optional()
    .describe('Part of the host config (Docker Engines always send it; Podman leaves it out)'),
  NetworkSettings: z
    .object({ Networks: endpointsByNetwork.nullable().optional() })
    .nullable()
    .describe('Networks it is attached to'),
  Mounts: z.array(mountPoint).nullable().describe('Mounts'),
  Health: z
    .object({
      Status: z.enum(['none', 'starting', 'healthy', 'unhealthy']).describe('Health status ("none" without a health check)'),
      FailingStreak: z.number().int().optional().describe('Consecutive failed checks'),
    })
    .optional()
    .describe('API 1.52+: health summary'),
}).describe('A container as GET /containers/json lists it');
export type ContainerSummaryResult = z.output<typeof containerSummary>;

/* ---------------- GET /containers/{id}/json ---------------- */

export const containerHealth = z
  .object({
    Status: z.enum(['none', 'starting', 'healthy', 'unhealthy', '']).describe('Health status ("" from Podman for a container without a health check)'),
    FailingStreak: z.number().int().describe('Consecutive failed checks'),
    Log: z
      .array(
        z.object({
          Start: z.string().describe('When the check started, RFC 3339'),
          End: z.string().describe('When it ended, RFC 3339'),
          ExitCode: z.number().int().describe('0 healthy, 1 unhealthy, other: the check could not run'),
          Output: z.string().describe('Its output (truncated by the Engine)'),
        }),
      )
      .nullable()
      .describe('The last few check results, oldest first'),
  })
  .describe('Health check results (only for a container with a health check)');

export const containerState = z
  .object({
    Status: containerStatus.describe('State'),
    Running: z.boolean().describe('Running (a paused container is running too)'),
    Paused: z.boolean().describe('Paused'),
    Restarting: z.boolean().describe('Restarting'),
    OOMKilled: z.boolean().describe('A process was killed for lack of memory since the last start'),
    Dead: z.boolean().describe('Dead (removal failed part way)'),
    Pid: z.number().int().describe('Process id of its main process on the host (0 when not running)'),
    ExitCode: z.number().int().describe('Exit code of the last run'),
    Error: z.string().describe('Error of the last start, "" if none'),
    StartedAt: z.string().describe('Last start, RFC 3339 ("0001-01-01T00:00:00Z" if never)'),
    FinishedAt: z.string().describe('Last exit, RFC 3339 ("0001-01-01T00:00:00Z" if never)'),
    Health: containerHealth.optional(),
  })
  .describe('Running state');

const throttleDevice = z.object({ Path: z.string().optional().describe('Device path'), Rate: z.number().int().optional().describe('Rate') });

/** The Engine's HostConfig (main fields; nil lists arrive as null). */
export const hostConfig = z
  .object({
    Binds: strings.nullable().optional().describe('"source:destination[:options]" volume and bind mounts'),
    ContainerIDFile: z.string().optional().describe('File the id was written to'),
    LogConfig: z
      .object({
        Type: z.string().describe('Logging driver, e.g. "json-file", "none"'),
        Config: stringMap.nullable().optional().describe('Driver options'),
      })
      .optional()
      .describe('Logging'),
    NetworkMode: z.string().optional().describe('"bridge", "host", "none", "container:<id>" or a network name ("default" on old Engines)'),
    PortBindings: portMap.nullable().optional(),
    RestartPolicy: z
      .object({
        Name: z.enum(['', 'no', 'always', 'unless-stopped', 'on-failure']).describe('Policy'),
        MaximumRetryCount: z.number().int().optional().describe('Retries (on-failure)'),
      })
      .optional()
      .describe('Restart policy'),
    AutoRemove: z.boolean().optional().describe('Removed when it exits'),
    VolumeDriver: z.string().optional().describe('Volume driver'),
    VolumesFrom: strings.nullable().optional().describe('Containers whose volumes it mounts'),
    Mounts: z
      .array(
        z.object({
          Type: z.string().optional().describe('"bind", "volume", "tmpfs", "image", "npipe", "cluster"'),
          Source: z.string().optional().describe('Volume name or host path'),
          Target: z.string().optional().describe('Path in the container'),
          ReadOnly: z.boolean().optional().describe('Read-only'),
        }),
      )
      .nullable()
      .optional()
      .describe('Mounts given as --mount'),
    ConsoleSize: z.array(z.number().int()).nullable().optional().describe('[height, width] of the TTY'),
    Annotations: stringMap.nullable().optional().describe('API 1.43+: annotations for the runtime'),
    CapAdd: strings.nullable().optional().describe('Capabilities added'),
    CapDrop: strings.nullable().optional().describe('Capabilities dropped'),
    CgroupnsMode: z.string().optional().describe('"private" or "host"'),
    Dns: strings.nullable().optional().describe('DNS servers'),
    DnsOptions: strings.nullable().optional().describe('DNS options'),
    DnsSearch: strings.nullable().optional().describe('DNS search domains'),
    ExtraHosts: strings.nullable().optional().describe('Extra /etc/hosts lines, "host:ip"'),
    GroupAdd: strings.nullable().optional().describe('Extra groups'),
    IpcMode: z.string().optional().describe('IPC namespace mode'),
    Cgroup: z.string().optional().describe('Cgroup'),
    Links: strings.nullable().optional().describe('Legacy links, "/other:/this/alias"'),
    OomScoreAdj: z.number().int().optional().describe('OOM score adjustment'),
    PidMode: z.string().optional().describe('PID namespace mode'),
    Privileged: z.boolean().optional().describe('Privileged'),
    PublishAllPorts: z.boolean().optional().describe('Every exposed port published on a random host port'),
    ReadonlyRootfs: z.boolean().optional().describe('Read-only root filesystem'),
    SecurityOpt: strings.nullable().optional().describe('Security options'),
    StorageOpt: stringMap.nullable().optional().describe('Storage driver options'),
    Tmpfs: stringMap.nullable().optional().describe('Path → tmpfs mount options'),
    UTSMode: z.string().optional().describe('UTS namespace mode'),
    UsernsMode: z.string().optional().describe('User namespace mode'),
    ShmSize: z.number().int().optional().describe('Bytes of /dev/shm'),
    Sysctls: stringMap.nullable().optional().describe('Kernel parameters'),
    Runtime: z.string().nullable().optional().describe('OCI runtime, e.g. "runc"'),
    Isolation: z.string().optional().describe('Isolation technology (Windows)'),
    MaskedPaths: strings.nullable().optional().describe('Paths masked in the container'),
    ReadonlyPaths: strings.nullable().optional().describe('Paths read-only in the container'),
    // Resources
    CpuShares: z.number().int().optional().describe('Relative CPU weight'),
    Memory: z.number().int().optional().describe('Memory limit in bytes (0: none)'),
    NanoCpus: z.number().int().optional().describe('CPU limit in 10⁻⁹ CPUs (0: none)'),
    CgroupParent: z.string().optional().describe('Parent cgroup'),
    BlkioWeight: z.number().int().optional().describe('Block IO weight'),
    BlkioWeightDevice: z
      .array(z.object({ Path: z.string().optional().describe('Device path'), Weight: z.number().int().optional().describe('Weight') }))
      .nullable()
      .optional()
      .describe('Block IO weight per device'),
    BlkioDeviceReadBps: z.array(throttleDevice).nullable().optional().describe('Read bytes per second per device'),
    BlkioDeviceWriteBps: z.array(throttleDevice).nullable().optional().describe('Write bytes per second per device'),
    BlkioDeviceReadIOps: z.array(throttleDevice).nullable().optional().describe('Read operations per second per device'),
    BlkioDeviceWriteIOps: z.array(throttleDevice).nullable().optional().describe('Write operations per second per device'),
    CpuPeriod: z.number().int().optional().describe('CFS period, microseconds'),
    CpuQuota: z.number().int().optional().describe('CFS quota, microseconds'),
    CpuRealtimePeriod: z.number().int().optional().describe('Real-time period, microseconds'),
    CpuRealtimeRuntime: z.number().int().optional().describe('Real-time runtime, microseconds'),
    CpusetCpus: z.string().optional().describe('CPUs it may use, e.g. "0-3"'),
    CpusetMems: z.string().optional().describe('Memory nodes it may use'),
    Devices: z
      .array(
        z.object({
          PathOnHost: z.string().optional().describe('Device on the host'),
          PathInContainer: z.string().optional().describe('Device in the container'),
          CgroupPermissions: z.string().optional().describe('e.g. "rwm"'),
        }),
      )
      .nullable()
      .optional()
      .describe('Devices added'),
    DeviceCgroupRules: strings.nullable().optional().describe('Device cgroup rules'),
    DeviceRequests: z
      .array(
        z.object({
          Driver: z.string().optional().describe('Device driver, e.g. "nvidia"'),
          Count: z.number().int().optional().describe('Devices wanted (-1: all)'),
          DeviceIDs: strings.nullable().optional().describe('Device ids'),
          Capabilities: z.array(strings).nullable().optional().describe('OR list of AND lists of capabilities'),
          Options: stringMap.nullable().optional().describe('Driver options'),
        }),
      )
      .nullable()
      .optional()
      .describe('Device requests (GPUs)'),
    MemoryReservation: z.number().int().optional().describe('Soft memory limit in bytes'),
    MemorySwap: z.number().int().optional().describe('Memory + swap limit in bytes (-1: unlimited swap)'),
    MemorySwappiness: z.number().int().nullable().optional().describe('Swappiness 0-100; null: the default'),
    OomKillDisable: z.boolean().nullable().optional().describe('OOM killer disabled'),
    Init: z.boolean().nullable().optional().describe('Runs an init process'),
    PidsLimit: z.number().int().nullable().optional().describe('Process limit; null or 0: none'),
    Ulimits: z
      .array(z.object({ Name: z.string().optional().describe('Limit name'), Soft: z.number().int().optional().describe('Soft limit'), Hard: z.number().int().optional().describe('Hard limit') }))
      .nullable()
      .optional()
      .describe('ulimits'),
    CpuCount: z.number().int().optional().describe('Usable CPUs (Windows)'),
    CpuPercent: z.number().int().optional().describe('Usable CPU percentage (Windows)'),
    IOMaximumIOps: z.number().int().optional().describe('Maximum IO operations per second (Windows)'),
    IOMaximumBandwidth: z.number().int().optional().describe('Maximum IO bytes per second (Windows)'),
  })
  .describe('Host-specific configuration');

/** The container's portable configuration (Config). */
export const containerConfig = z
  .object({
    Hostname: z.string().describe('Host name'),
    Domainname: z.string().describe('Domain name'),
    User: z.string().describe('User commands run as ("" for the image\'s)'),
    AttachStdin: z.boolean().describe('stdin attached'),
    AttachStdout: z.boolean().describe('stdout attached'),
    AttachStderr: z.boolean().describe('stderr attached'),
    ExposedPorts: emptyObjectSet.nullable().optional().describe('{"<port>/<proto>": {}}; absent when none'),
    Tty: z.boolean().describe('Has a TTY'),
    OpenStdin: z.boolean().describe('stdin open'),
    StdinOnce: z.boolean().describe('stdin closed after the first attach ends'),
    Env: strings.nullable().describe('["NAME=value", …]'),
    Cmd: strings.nullable().describe('Command'),
    Healthcheck: healthConfig.optional(),
    ArgsEscaped: z.boolean().nullable().optional().describe('The command is already escaped (Windows)'),
    Image: z.string().describe('The image as given at creation'),
    Volumes: emptyObjectSet.nullable().describe('{"<path>": {}} anonymous volume paths; null when none'),
    WorkingDir: z.string().describe('Working directory ("" for the image\'s)'),
    Entrypoint: strings.nullable().describe('Entry point; null when none'),
    NetworkDisabled: z.boolean().nullable().optional().describe('Networking disabled'),
    MacAddress: z.string().optional().describe('Deprecated from API 1.44 (set per network endpoint instead): MAC address; only when set'),
    OnBuild: strings.nullable().optional().describe('ONBUILD instructions; API 1.52+ leaves it out when empty'),
    Labels: stringMap.nullable().describe('Labels'),
    StopSignal: z.string().nullable().optional().describe('Signal that stops it; absent for the default (SIGTERM)'),
    StopTimeout: z.number().int().nullable().optional().describe('Seconds to wait on stop before killing; absent for the default'),
    Shell: strings.nullable().optional().describe('Shell of shell-form commands'),
  })
  .describe('Portable configuration');

/** The fields NetworkSettings had before Networks: deprecated since API 1.21, sent until API 1.51, gone from API 1.52. */
const legacyNetworkFields = {
  Bridge: z.string().optional().describe('Until API 1.51 (deprecated): bridge name'),
  HairpinMode: z.boolean().optional().describe('Until API 1.51 (deprecated)'),
  LinkLocalIPv6Address: z.string().optional().describe('Until API 1.51 (deprecated)'),
  LinkLocalIPv6PrefixLen: z.number().int().optional().describe('Until API 1.51 (deprecated)'),
  SecondaryIPAddresses: z.array(z.object({ Addr: z.string().optional(), PrefixLen: z.number().int().optional() })).nullable().optional().describe('Until API 1.51 (deprecated)'),
  SecondaryIPv6Addresses: z.array(z.object({ Addr: z.string().optional(), PrefixLen: z.number().int().optional() })).nullable().optional().describe('Until API 1.51 (deprecated)'),
  EndpointID: z.string().optional().describe('Until API 1.51 (deprecated; see Networks): endpoint on the default bridge'),
  Gateway: z.string().optional().describe('Until API 1.51 (deprecated; see Networks): gateway on the default bridge'),
  GlobalIPv6Address: z.string().optional().describe('Until API 1.51 (deprecated; see Networks)'),
  GlobalIPv6PrefixLen: z.number().int().optional().describe('Until API 1.51 (deprecated; see Networks)'),
  IPAddress: z.string().optional().describe('Until API 1.51 (deprecated; see Networks): IPv4 address on the default bridge'),
  IPPrefixLen: z.number().int().optional().describe('Until API 1.51 (deprecated; see Networks)'),
  IPv6Gateway: z.string().optional().describe('Until API 1.51 (deprecated; see Networks)'),
  MacAddress: z.string().optional().describe('Until API 1.51 (deprecated; see Networks): MAC address on the default bridge'),
};

export const networkSettings = z
  .object({
    SandboxID: z.string().optional().describe('Id of its network stack ("" when not running)'),
    SandboxKey: z.string().optional().describe('Path of its network namespace'),
    Ports: portMap.nullable().optional().describe('Exposed ports and where they are published (filled while running)'),
    Networks: endpointsByNetwork.nullable().optional().describe('Network name → its endpoint there'),
    ...legacyNetworkFields,
  })
  .describe('Network settings');

/** GET /containers/{id}/json. */
export const containerInspect = z.object({
  Id: z.string().describe('Container id (64 hex characters)'),
  Created: z.string().describe('Creation time, RFC 3339 with nanoseconds'),
  Path: z.string().describe('Command path'),
  Args: strings.nullable().describe('Command arguments'),
  State: containerState,
  Image: z.string().describe('Image id, "sha256:…"'),
  ResolvConfPath: z.string().describe('Host path of its /etc/resolv.conf'),
  HostnamePath: z.string().describe('Host path of its /etc/hostname'),
  HostsPath: z.string().describe('Host path of its /etc/hosts'),
  LogPath: z.string().nullable().describe('Host path of its log file ("" for drivers without one)'),
  Name: z.string().describe('Name, with a leading "/"'),
  RestartCount: z.number().int().describe('Restarts by its restart policy'),
  Driver: z.string().describe('Storage driver'),
  Platform: z.string().describe('Platform, e.g. "linux"'),
  ImageManifestDescriptor: ociDescriptor.optional().describe('API 1.48+, containerd image store: descriptor of the platform manifest it was created from'),
  MountLabel: z.string().describe('SELinux mount label'),
  ProcessLabel: z.string().describe('SELinux process label'),
  AppArmorProfile: z.string().describe('AppArmor profile'),
  ExecIDs: strings.nullable().describe('Ids of its exec instances; null when none'),
  HostConfig: hostConfig,
  GraphDriver: z
    .object({
      Name: z.string().describe('Storage driver, e.g. "overlay2"'),
      Data: stringMap.nullable().describe('Driver-specific details (directories, …)'),
    })
    .nullable()
    .optional()
    .describe('Storage driver data; absent with the containerd image store'),
  Storage: z
    .object({
      RootFS: z
        .object({
          Snapshot: z
            .object({ Name: z.string().describe('Snapshotter name') })
            .nullable()
            .optional()
            .describe('The snapshot backing the root filesystem'),
        })
        .nullable()
        .optional()
        .describe('Storage of the root filesystem'),
    })
    .nullable()
    .optional()
    .describe('API 1.52+: storage of the container (containerd image store)'),
  SizeRw: z.number().int().nullable().optional().describe('Bytes written in the container layer (with `size`)'),
  SizeRootFs: z.number().int().nullable().optional().describe('Bytes of the whole filesystem, image included (with `size`)'),
  Mounts: z.array(mountPoint).nullable().describe('Mounts'),
  Config: containerConfig,
  NetworkSettings: networkSettings,
}).describe("The Engine's container object (GET /containers/{id}/json)");
export type ContainerInspectResult = z.output<typeof containerInspect>;
