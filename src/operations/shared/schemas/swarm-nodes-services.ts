/**
 * The Engine's Swarm objects the swarm and services families return: the
 * swarm (GET /swarm), nodes (GET /nodes) and services (GET /services),
 * with the documented fields of the Engine API's `Swarm`, `Node`, `Service`
 * and `ServiceStatus`. Open objects (z.object): newer Engines add fields,
 * and a spec holds only what was set, so its fields are optional.
 */
import * as z from 'zod';
import { stringMap } from './common.js';

export const objectVersion = z
  .object({ Index: z.number().int().min(0).describe('Version number; an update names the version it was made against') })
  .describe("The object's version (raft index)");

const labels = stringMap.nullable().optional();

export const swarm = z.object({
  ID: z.string().describe('Swarm id'),
  Version: objectVersion,
  CreatedAt: z.string().describe('Creation time, RFC 3339'),
  UpdatedAt: z.string().describe('Last update time, RFC 3339'),
  Spec: z
    .object({
      Name: z.string().optional().describe('Swarm name ("default")'),
      Labels: labels.describe('User labels'),
      Orchestration: z.object({}).nullable().optional().describe('Orchestration settings (TaskHistoryRetentionLimit)'),
      Raft: z.object({}).optional().describe('Raft settings'),
      Dispatcher: z.object({}).nullable().optional().describe('Dispatcher settings (HeartbeatPeriod)'),
      CAConfig: z.object({}).nullable().optional().describe('Certificate authority settings'),
      EncryptionConfig: z.object({}).optional().describe('Encryption settings (AutoLockManagers)'),
      TaskDefaults: z.object({}).optional().describe('Defaults for tasks (LogDriver)'),
    })
    .describe("The swarm's settings"),
  TLSInfo: z.object({}).optional().describe('Root CA of the swarm (TrustRoot, CertIssuerSubject, CertIssuerPublicKey)'),
  RootRotationInProgress: z.boolean().optional().describe('A root CA rotation is under way'),
  DataPathPort: z.number().int().optional().describe('UDP port of data-path (VXLAN) traffic'),
  DefaultAddrPool: z.array(z.string()).nullable().optional().describe('Address pools overlay networks take subnets from'),
  SubnetSize: z.number().int().optional().describe('Prefix length of the subnets overlay networks get'),
});

export const nodeSpec = z
  .object({
    Name: z.string().optional().describe('Name set by the user (not the host name)'),
    Labels: labels.describe('Node labels (placement constraints match node.labels.*)'),
    Role: z.string().optional().describe('"worker" or "manager"'),
    Availability: z.string().optional().describe('"active", "pause" (no new tasks) or "drain" (tasks moved away)'),
  })
  .describe("The node's settings");

export const node = z.object({
  ID: z.string().describe('Node id'),
  Version: objectVersion,
  CreatedAt: z.string().describe('Creation time, RFC 3339'),
  UpdatedAt: z.string().describe('Last update time, RFC 3339'),
  Spec: nodeSpec,
  Description: z
    .object({
      Hostname: z.string().optional().describe('Host name'),
      Platform: z.object({ Architecture: z.string().optional(), OS: z.string().optional() }).optional().describe('Architecture and OS'),
      Resources: z.object({ NanoCPUs: z.number().optional(), MemoryBytes: z.number().optional() }).optional().describe('CPUs (in billionths) and memory of the node'),
      Engine: z.object({ EngineVersion: z.string().optional(), Labels: labels, Plugins: z.array(z.object({})).nullable().optional() }).optional().describe('The Engine on the node'),
      TLSInfo: z.object({}).optional().describe("The node's TLS trust root"),
    })
    .describe('What the node reports about itself'),
  Status: z
    .object({
      State: z.string().describe('"unknown", "down", "ready" or "disconnected"'),
      Message: z.string().optional().describe('Why, when not ready'),
      Addr: z.string().optional().describe('Address the node is reached at'),
    })
    .describe("The node's state"),
  ManagerStatus: z
    .object({
      Leader: z.boolean().optional().describe('This manager is the raft leader'),
      Reachability: z.string().optional().describe('"unknown", "unreachable" or "reachable"'),
      Addr: z.string().optional().describe('Address of the manager API'),
    })
    .nullable()
    .optional()
    .describe('Managers only: its raft state'),
});

export const serviceStatus = z
  .object({
    RunningTasks: z.number().int().min(0).describe('Tasks in the running state'),
    DesiredTasks: z.number().int().min(0).describe('Tasks that should run: the replica count, or for a global service the tasks not meant to shut down'),
    CompletedTasks: z.number().int().min(0).optional().describe('Jobs: tasks that completed'),
  })
  .describe("How many of the service's tasks run (only with status: true)");

const endpointPort = z.object({
  Name: z.string().optional(),
  Protocol: z.string().optional().describe('"tcp", "udp" or "sctp"'),
  TargetPort: z.number().int().optional().describe('Port inside the container'),
  PublishedPort: z.number().int().optional().describe('Port published on the node(s)'),
  PublishMode: z.string().optional().describe('"ingress" (routing mesh) or "host" (the node running the task)'),
});

export const serviceSpec = z
  .object({
    Name: z.string().optional().describe('Service name'),
    Labels: labels.describe('Service labels'),
    TaskTemplate: z
      .object({
        ContainerSpec: z
          .object({
            Image: z.string().optional().describe('Image of the tasks'),
            Command: z.array(z.string()).nullable().optional().describe('Command (replaces the entrypoint)'),
            Args: z.array(z.string()).nullable().optional().describe('Arguments to the command'),
            Env: z.array(z.string()).nullable().optional().describe('Environment, "KEY=value"'),
            Labels: labels.describe("Labels of the tasks' containers"),
            Mounts: z.array(z.object({})).nullable().optional(),
            Secrets: z.array(z.object({})).nullable().optional().describe('Secrets given to the tasks (references, never data)'),
            Configs: z.array(z.object({})).nullable().optional().describe('Configs given to the tasks'),
          })
          .optional()
          .describe("The tasks' container"),
        Resources: z.object({}).nullable().optional().describe('Limits and reservations'),
        RestartPolicy: z.object({}).nullable().optional().describe('When tasks are restarted'),
        Placement: z.object({}).nullable().optional().describe('Constraints and preferences'),
        Networks: z.array(z.object({})).nullable().optional().describe('Networks the tasks join'),
        ForceUpdate: z.number().int().optional().describe('Counter that forces a redeploy when changed'),
      })
      .describe('What each task runs'),
    Mode: z
      .object({
        Replicated: z.object({ Replicas: z.number().int().min(0).optional() }).optional(),
        Global: z.object({}).optional(),
        ReplicatedJob: z.object({}).optional(),
        GlobalJob: z.object({}).optional(),
      })
      .optional()
      .describe('Replicated (with Replicas) or Global (one task per node), or a job'),
    UpdateConfig: z.object({}).nullable().optional().describe('How updates roll out'),
    RollbackConfig: z.object({}).nullable().optional().describe('How rollbacks roll out'),
    Networks: z.array(z.object({})).nullable().optional().describe('Deprecated place of TaskTemplate.Networks'),
    EndpointSpec: z.object({ Mode: z.string().optional().describe('"vip" or "dnsrr"'), Ports: z.array(endpointPort).nullable().optional() }).optional().describe('How the service is reached'),
  })
  .describe("The service's settings");

export const service = z.object({
  ID: z.string().describe('Service id'),
  Version: objectVersion,
  CreatedAt: z.string().describe('Creation time, RFC 3339'),
  UpdatedAt: z.string().describe('Last update time, RFC 3339'),
  Spec: serviceSpec,
  PreviousSpec: serviceSpec.optional().describe('The spec before the last update (what a rollback restores)'),
  Endpoint: z
    .object({
      Spec: z.object({}).optional(),
      Ports: z.array(endpointPort).nullable().optional().describe('Ports published'),
      VirtualIPs: z.array(z.object({ NetworkID: z.string().optional(), Addr: z.string().optional() })).nullable().optional().describe('Virtual IPs per network (vip mode)'),
    })
    .optional()
    .describe('How the service is reached'),
  UpdateStatus: z
    .object({ State: z.string().optional().describe('"updating", "paused", "completed", "rollback_started", …'), StartedAt: z.string().optional(), CompletedAt: z.string().optional(), Message: z.string().optional() })
    .optional()
    .describe('The last update or rollback'),
  ServiceStatus: serviceStatus.optional(),
  JobStatus: z.object({}).optional().describe('Jobs: iteration and last execution'),
});
export type Service = z.output<typeof service>;
export type ServiceSpec = z.output<typeof serviceSpec>;
export type SwarmNode = z.output<typeof node>;
