/**
 * Swarm tasks and service logs: list_tasks, inspect_task, service_logs.
 * Every Engine call goes through `swarmContext`, so a non-manager Engine or
 * one without Swarm (Podman) gives the clear error.
 */
import * as z from 'zod';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { defineOperation, STREAM_TYPES, type OperationContext } from './define.js';
import { engineLogQuery, logParams, logReadable, logsResultSchema, outputIsRaw, readLog, type LogFilter, type LogsFileResult, type LogsResult, type LogWindow, type OpenedLog } from './shared/log-output.js';
import type { OutStream } from './shared/output-pump.js';
import { engineFilters, oneOrMany, toUnixSeconds } from './shared/params.js';
import { task, type Task } from './shared/schemas/task.js';
import { serviceRef, swarmContext, taskRef } from './shared/swarm.js';

const text = z.string().min(1);

export const listTasks = defineOperation({
  name: 'list_tasks',
  category: 'swarm',
  title: 'List tasks',
  description:
    'Swarm tasks (GET /tasks): the containers a service is made of, scheduled on nodes, with their desired and current state. Filter like the Engine: {"service": ["web"], "node": ["n1"], "desired-state": ["running"]}. Needs a swarm manager.',
  params: z
    .object({
      filters: engineFilters({
        'desired-state': oneOrMany(z.enum(['running', 'shutdown', 'accepted'])).describe('Desired state: running, shutdown or accepted'),
        id: oneOrMany(text).describe('Task id'),
        label: oneOrMany(text).describe('"key" or "key=value"'),
        name: oneOrMany(text).describe('Task name'),
        node: oneOrMany(text).describe('Node id or name'),
        service: oneOrMany(text).describe('Service id or name'),
      })
        .optional()
        .describe('Filters: desired-state, id, label, name, node, service; each one value or a list (any of them matches)'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: "[the Engine's task objects (ID, ServiceID, Slot, NodeID, Status {State, ContainerStatus}, DesiredState, Spec, …)]",
  resultSchema: z.array(task).describe("The Engine's task objects"),
  async run(ctx, p) {
    const res = await swarmContext(ctx).json<Task[] | null>({ method: 'GET', path: '/tasks', query: { filters: normalizeFilters(p.filters) } });
    return res.body ?? [];
  },
});

export const inspectTask = defineOperation({
  name: 'inspect_task',
  category: 'swarm',
  title: 'Inspect a task',
  description: 'One Swarm task (GET /tasks/{id}): its service, slot, node, desired and current state, container, spec and network addresses. Needs a swarm manager.',
  params: z.object({ task: taskRef }).strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's task object",
  resultSchema: task,
  async run(ctx, p) {
    return (await swarmContext(ctx).json<Task>({ method: 'GET', path: enginePath`/tasks/${p.task}` })).body;
  },
});

/** RFC 3339 with up to nanoseconds, as the Engine stamps log lines. */
const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** An RFC 3339 time in nanoseconds since 1970; undefined if it is not one. */
export function rfc3339Nanos(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** Unix seconds (with a fraction) in nanoseconds. */
function secondsToNanos(seconds: number): bigint {
  const [whole, frac = ''] = seconds.toFixed(9).split('.');
  return BigInt(whole!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
}

/** Longest timestamp the filter waits for before it reads a line as having none. */
const MAX_STAMP = 64;

/**
 * `until` for service logs, which the Engine does not apply there: the log
 * is asked for with timestamps, each line whose time is after `until` is
 * dropped (the Engine's own rule for containers: a line at `until` stays),
 * and the timestamps are taken off again unless the caller asked for them.
 * Works on bytes as they come, holding at most a timestamp's worth per
 * stream, so a long line is never buffered whole.
 */
export class UntilFilter implements LogFilter {
  private readonly state: Record<OutStream, { head: Buffer; keep: boolean | undefined }> = {
    stdout: { head: Buffer.alloc(0), keep: undefined },
    stderr: { head: Buffer.alloc(0), keep: undefined },
  };

  constructor(
    private readonly untilNanos: bigint,
    private readonly keepTimestamps: boolean,
  ) {}

  push(stream: OutStream, chunk: Buffer): Buffer {
    const st = this.state[stream];
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (st.keep === undefined) {
        // Gather the line's timestamp: up to its space (or a newline, or MAX_STAMP bytes).
        const room = MAX_STAMP - st.head.length;
        let end = i;
        while (end < chunk.length && end - i < room && chunk[end] !== 0x20 && chunk[end] !== 0x0a) end++;
        st.head = Buffer.concat([st.head, chunk.subarray(i, end)]);
        i = end;
        if (end === chunk.length && st.head.length < MAX_STAMP) break;
        const stamped = this.decide(st, out);
        // The space after the timestamp goes with it.
        if (stamped && !this.keepTimestamps && chunk[i] === 0x20) i++;
      } else {
        const nl = chunk.indexOf(0x0a, i);
        const end = nl < 0 ? chunk.length : nl + 1;
        if (st.keep) out.push(chunk.subarray(i, end));
        i = end;
        if (nl >= 0) st.keep = undefined;
      }
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  flush(): [OutStream, Buffer][] {
    const out: [OutStream, Buffer][] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const st = this.state[stream];
      if (st.keep === undefined && st.head.length) {
        const kept: Buffer[] = [];
        this.decide(st, kept);
        if (kept.length) out.push([stream, Buffer.concat(kept)]);
      }
      st.keep = undefined;
      st.head = Buffer.alloc(0);
    }
    return out;
  }

  /** Decides the current line from its head; true when the head was a timestamp. */
  private decide(st: { head: Buffer; keep: boolean | undefined }, out: Buffer[]): boolean {
    const nanos = rfc3339Nanos(st.head.toString('latin1'));
    // A line without a readable time is kept whole: the filter cannot say it is late.
    st.keep = nanos === undefined || nanos <= this.untilNanos;
    if (st.keep && (this.keepTimestamps || nanos === undefined)) out.push(st.head);
    st.head = Buffer.alloc(0);
    return nanos !== undefined;
  }
}

/** Opens a service's log body; says whether it is framed and how `until` is applied. */
async function openServiceLogs(ctx: OperationContext, p: LogWindow & { service: string }): Promise<OpenedLog> {
  const sctx = swarmContext(ctx);
  let tty = false;
  if (!ctx.atLeast('1.42')) {
    // Older Engines label every log body raw-stream: the service's TTY says whether it is framed.
    const svc = await sctx.json<{ Spec?: { TaskTemplate?: { ContainerSpec?: { TTY?: boolean } } } }>({ method: 'GET', path: enginePath`/services/${p.service}` });
    tty = Boolean(svc.body.Spec?.TaskTemplate?.ContainerSpec?.TTY);
  }
  const now = Date.now();
  // An RFC 3339 `until` is read to the nanosecond (a line's own time, given back, keeps that line).
  const untilNanos = p.until === undefined ? undefined : ((typeof p.until === 'string' ? rfc3339Nanos(p.until.trim()) : undefined) ?? secondsToNanos(toUnixSeconds(p.until, now)!));
  const { until: _until, ...query } = engineLogQuery(p, now);
  const res = await sctx.stream({
    method: 'GET',
    path: enginePath`/services/${p.service}/logs`,
    // The Engine has no `until` for services: the lines' own times decide, so ask for them.
    query: { ...query, timestamps: p.timestamps || untilNanos !== undefined },
    // While following, silence is normal: the follow window ends the read, not the idle timer.
    idleTimeoutMs: ((p.follow_for ?? 0) + ctx.config.timeout) * 1000,
  });
  return {
    body: res.body,
    raw: outputIsRaw(ctx, res.headers['content-type'], tty),
    ...(untilNanos === undefined ? {} : { filter: new UntilFilter(untilNanos, p.timestamps) }),
  };
}

export const serviceLogs = defineOperation({
  name: 'service_logs',
  localPaths: ['path'],
  category: 'swarm',
  title: 'Service logs',
  description:
    "Reads the stdout and stderr of every task of a Swarm service (GET /services/{id}/logs), as container_logs does for one container: at most `max_bytes` (truncated: true when cut); " +
    '`follow_for` keeps reading new output for that many seconds; `timestamps` adds `lines` with each line\'s time; `path` streams the whole log to a file. ' +
    'The order between tasks is not guaranteed. `until` is applied by the connector from each line\'s time (the Engine has none for services). Works for services using the json-file, local or journald log driver. Needs a swarm manager.',
  params: logParams({ service: serviceRef }),
  safety: 'read',
  idempotent: true,
  streaming: true,
  result: '{stdout, stderr, truncated, lines?: [{stream, timestamp, text}]}; with `path`: {path, bytes, sha256, truncated}',
  resultSchema: logsResultSchema,
  async run(ctx, p): Promise<LogsResult | LogsFileResult> {
    return readLog(ctx, p, () => openServiceLogs(ctx, p));
  },
  async openStream(ctx, p) {
    const { stream } = logReadable(ctx, await openServiceLogs(ctx, p), p.max_bytes, p.follow_for);
    return { stream, contentType: STREAM_TYPES.text };
  },
  streamContentType: STREAM_TYPES.text,
});

export const taskOperations = [listTasks, inspectTask, serviceLogs] as const;
