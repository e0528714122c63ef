/**
 * The Engine's Swarm task object (GET /tasks, GET /tasks/{id}): the
 * documented fields of the Engine API's `Task`. Open objects (z.object):
 * newer Engines add fields. The task's spec is the service's task template
 * at the time the task was made, left open here (its many fields belong to
 * the service's schema).
 */
import * as z from 'zod';
import { stringMap } from './common.js';

export const TASK_STATES = ['new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running', 'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned'] as const;

/** Every Swarm object carries one: the index a write must name. */
export const objectVersion = z.object({ Index: z.number().int().optional().describe('Version index') }).describe("The object's version (the Engine's optimistic-concurrency index)");

const taskState = z.string().describe(`Task state: ${TASK_STATES.join(', ')}`);

export const taskStatus = z
  .object({
    Timestamp: z.string().optional().describe('When the task reached this state, RFC 3339'),
    State: taskState.optional(),
    Message: z.string().optional().describe('What the orchestrator says about the state, e.g. "started"'),
    Err: z.string().optional().describe('Why the task failed or was rejected'),
    ContainerStatus: z
      .object({
        ContainerID: z.string().optional().describe('Id of the container running the task (on its node)'),
        PID: z.number().int().optional().describe('Process id of its main process'),
        ExitCode: z.number().int().optional().describe('Exit code, once it exited'),
      })
      .optional()
      .describe('The container of the task'),
    PortStatus: z.object({ Ports: z.array(z.object({})).nullable().optional() }).optional().describe('Host ports the task publishes (host-mode publishing)'),
  })
  .describe('The current state of the task');

export const task = z.object({
  ID: z.string().describe('Task id'),
  Version: objectVersion.optional(),
  CreatedAt: z.string().optional().describe('Creation time, RFC 3339'),
  UpdatedAt: z.string().optional().describe('Last update time, RFC 3339'),
  Name: z.string().optional().describe('Task name (often absent: the CLI shows "service.slot")'),
  Labels: stringMap.nullable().optional().describe('Labels'),
  Spec: z.object({}).optional().describe("The task's spec: the service's task template when the task was made (ContainerSpec, Resources, RestartPolicy, Placement, Networks, …)"),
  ServiceID: z.string().optional().describe('Id of the service the task belongs to'),
  Slot: z.number().int().optional().describe('Replica slot (replicated services)'),
  NodeID: z.string().optional().describe('Id of the node it is assigned to (absent before assignment)'),
  AssignedGenericResources: z.array(z.object({})).nullable().optional().describe('Generic resources assigned to it'),
  Status: taskStatus.optional(),
  DesiredState: taskState.optional().describe('The state the orchestrator wants it in: running, shutdown, accepted, …'),
  JobIteration: objectVersion.optional().describe('Job-mode services: the job iteration the task was made for'),
  NetworksAttachments: z
    .array(z.object({ Network: z.object({}).optional().describe('The network (Swarm network object)'), Addresses: z.array(z.string()).nullable().optional().describe('Its addresses there (CIDR)') }))
    .nullable()
    .optional()
    .describe('Networks the task is attached to, with its addresses'),
});
export type Task = z.output<typeof task>;
