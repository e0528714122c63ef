/** container_stats: one sample of a container's resource usage, with the figures `docker stats` shows. */
import * as z from 'zod';
import { enginePath } from '../engine/path.js';
import { defineOperation } from './define.js';
import { containerRef } from './shared/params.js';

/** The parts of the Engine's stats object the computed fields come from (Linux). */
export interface EngineStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
  pids_stats?: { current?: number };
  [key: string]: unknown;
}

export interface ComputedStats {
  cpu_percent: number | null;
  memory_usage: number | null;
  memory_limit: number | null;
  memory_percent: number | null;
  network_rx_bytes: number;
  network_tx_bytes: number;
  block_read_bytes: number;
  block_write_bytes: number;
  pids: number | null;
}

/**
 * An unsigned 64-bit counter: published as an integer without zod's
 * safe-integer bound, since cgroup v1 reports "no limit" as about 2^63
 * (JSON readers then round it).
 */
const u64 = z.number().min(0).meta({ type: 'integer' });

const blkioEntries = z
  .array(z.object({ major: u64, minor: u64, op: z.string().describe('"read", "write", … (cgroup v1: "Read", "Write", "Sync", "Async", "Discard", "Total")'), value: u64 }))
  .nullable();

const cpuStats = z.object({
  cpu_usage: z
    .object({
      total_usage: u64.describe('CPU time used, nanoseconds'),
      percpu_usage: z.array(u64).nullable().optional().describe('Per core (cgroup v1 only)'),
      usage_in_kernelmode: u64.describe('Kernel mode, nanoseconds'),
      usage_in_usermode: u64.describe('User mode, nanoseconds'),
    })
    .describe('CPU time since the container started'),
  system_cpu_usage: u64.optional().describe("The host's CPU time, nanoseconds; absent when the container is not running"),
  online_cpus: z.number().int().min(0).optional().describe('Online CPUs; absent when the container is not running'),
  throttling_data: z
    .object({
      periods: u64.describe('Periods with throttling active'),
      throttled_periods: u64.describe('Periods throttled'),
      throttled_time: u64.describe('Time throttled, nanoseconds'),
    })
    .optional(),
});

/**
 * GET /containers/{id}/stats?stream=false (Linux; Windows fields allowed,
 * the object is open). A stopped container answers with zero times
 * ("0001-01-01T00:00:00Z"), empty pids and memory stats, null block I/O
 * lists and no networks.
 */
const engineStats = z.object({
  id: z.string().optional().describe('Container id'),
  name: z.string().optional().describe('Container name, with its leading "/"'),
  os_type: z.string().optional().describe('Newer Engines: "linux" or "windows"'),
  read: z.string().describe('When this sample was taken, RFC 3339 ("0001-01-01T00:00:00Z" for a container not running)'),
  preread: z.string().describe('When the earlier CPU sample was taken; "0001-01-01T00:00:00Z" with one_shot or for a container not running'),
  cpu_stats: cpuStats.describe('CPU usage now'),
  precpu_stats: cpuStats.describe('CPU usage at the earlier sample (zeros with one_shot)'),
  memory_stats: z
    .object({
      usage: u64.optional().describe('Memory used, bytes, page cache included'),
      max_usage: u64.optional().describe('Highest usage (cgroup v1 only)'),
      stats: z.record(z.string(), u64).optional().describe('memory.stat of the cgroup (fields differ between cgroup v1 and v2)'),
      failcnt: u64.optional().describe('Times the limit was hit (cgroup v1 only)'),
      limit: u64.optional().describe('Memory limit, bytes'),
      commitbytes: u64.optional().describe('Windows only'),
      commitpeakbytes: u64.optional().describe('Windows only'),
      privateworkingset: u64.optional().describe('Windows only'),
    })
    .describe('Memory; {} for a container not running'),
  networks: z
    .record(
      z.string(),
      z.object({
        rx_bytes: u64,
        rx_packets: u64,
        rx_errors: u64,
        rx_dropped: u64,
        tx_bytes: u64,
        tx_packets: u64,
        tx_errors: u64,
        tx_dropped: u64,
        endpoint_id: z.string().optional().describe('Windows only'),
        instance_id: z.string().optional().describe('Windows only'),
      }),
    )
    .optional()
    .describe('Per interface; absent without networking or when the container is not running'),
  pids_stats: z
    .object({
      current: u64.optional().describe('Processes in the container'),
      limit: u64.optional().describe('Process limit (0 or absent: none)'),
    })
    .describe('Processes; {} for a container not running'),
  blkio_stats: z
    .object({
      io_service_bytes_recursive: blkioEntries.describe('Bytes read and written, per device and operation; null when the container is not running'),
      io_serviced_recursive: blkioEntries.optional().describe('cgroup v1: operations per device'),
      io_queue_recursive: blkioEntries.optional().describe('cgroup v1'),
      io_service_time_recursive: blkioEntries.optional().describe('cgroup v1'),
      io_wait_time_recursive: blkioEntries.optional().describe('cgroup v1'),
      io_merged_recursive: blkioEntries.optional().describe('cgroup v1'),
      io_time_recursive: blkioEntries.optional().describe('cgroup v1'),
      sectors_recursive: blkioEntries.optional().describe('cgroup v1'),
    })
    .describe('Block I/O'),
  num_procs: z.number().int().min(0).describe('Windows only; 0 on Linux'),
  storage_stats: z
    .object({
      read_count_normalized: u64.optional(),
      read_size_bytes: u64.optional(),
      write_count_normalized: u64.optional(),
      write_size_bytes: u64.optional(),
    })
    .describe('Windows only; {} on Linux'),
});

/** The Engine's sample with the figures the connector computes, last so they win over any Engine field of the same name. */
const statsResult = engineStats.extend({
  cpu_percent: z.number().min(0).nullable().describe('CPU use in % of one CPU (100 = one full core), as `docker stats`; null with one_shot or for a container not running'),
  memory_usage: u64.nullable().describe('Memory used less reclaimable page cache (inactive_file), bytes; null when unknown (container not running)'),
  memory_limit: u64.nullable().describe('Memory limit, bytes (the host memory when none was set); null when unknown'),
  memory_percent: z.number().min(0).nullable().describe('memory_usage / memory_limit in %; null when unknown'),
  network_rx_bytes: u64.describe('Bytes received, all interfaces'),
  network_tx_bytes: u64.describe('Bytes sent, all interfaces'),
  block_read_bytes: u64.describe('Bytes read from block devices'),
  block_write_bytes: u64.describe('Bytes written to block devices'),
  pids: u64.nullable().describe('Processes in the container; null when unknown'),
});

/** Four decimals: enough for a tiny container on a big host (0.0013 %), without float noise. */
const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/**
 * The figures `docker stats` shows, computed the way the docker CLI does:
 * - CPU %: (container CPU delta / system CPU delta) × online CPUs × 100,
 *   between `precpu_stats` and `cpu_stats`; null when there is no earlier
 *   sample (one-shot stats), 0 when nothing moved.
 * - Memory usage excludes the page cache the kernel can reclaim: usage minus
 *   `total_inactive_file` (cgroup v1) or `inactive_file` (cgroup v2).
 * - Network: rx/tx summed over interfaces. Block I/O: the "read"/"write"
 *   entries of io_service_bytes_recursive (v1 spells them "Read"/"Write").
 * Unknown figures (a stopped container reports empty memory stats) are null.
 */
export function computeStats(s: EngineStats): ComputedStats {
  let cpuPercent: number | null = null;
  const cpu = s.cpu_stats;
  const pre = s.precpu_stats;
  if (cpu?.cpu_usage?.total_usage !== undefined && pre?.system_cpu_usage) {
    const cpuDelta = cpu.cpu_usage.total_usage - (pre.cpu_usage?.total_usage ?? 0);
    const systemDelta = (cpu.system_cpu_usage ?? 0) - pre.system_cpu_usage;
    const online = cpu.online_cpus || cpu.cpu_usage.percpu_usage?.length || 0;
    cpuPercent = systemDelta > 0 && cpuDelta > 0 ? round4((cpuDelta / systemDelta) * online * 100) : 0;
  }

  const mem = s.memory_stats;
  let memoryUsage: number | null = null;
  if (mem?.usage !== undefined) {
    const st = mem.stats ?? {};
    const v1 = st['total_inactive_file'];
    const v2 = st['inactive_file'];
    if (v1 !== undefined && v1 < mem.usage) memoryUsage = mem.usage - v1;
    else if (v2 !== undefined && v2 < mem.usage) memoryUsage = mem.usage - v2;
    else memoryUsage = mem.usage;
  }
  const memoryLimit = mem?.limit ?? null;
  const memoryPercent = memoryUsage !== null && memoryLimit ? round4((memoryUsage / memoryLimit) * 100) : null;

  let rx = 0;
  let tx = 0;
  for (const net of Object.values(s.networks ?? {})) {
    rx += net.rx_bytes ?? 0;
    tx += net.tx_bytes ?? 0;
  }
  let read = 0;
  let write = 0;
  for (const entry of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = entry.op?.[0]?.toLowerCase();
    if (op === 'r') read += entry.value ?? 0;
    else if (op === 'w') write += entry.value ?? 0;
  }
  return {
    cpu_percent: cpuPercent,
    memory_usage: memoryUsage,
    memory_limit: memoryLimit,
    memory_percent: memoryPercent,
    network_rx_bytes: rx,
    network_tx_bytes: tx,
    block_read_bytes: read,
    block_write_bytes: write,
    pids: s.pids_stats?.current ?? null,
  };
}

export const containerStats = defineOperation({
  name: 'container_stats',
  category: 'containers',
  title: 'Container resource usage',
  description:
    'One sample of a container\'s resource usage (GET /containers/{id}/stats?stream=false) with the figures `docker stats` shows computed the same way. ' +
    'By default the Engine takes two samples about a second apart, so cpu_percent is meaningful; `one_shot` answers at once but without an earlier CPU sample (cpu_percent null).',
  params: z
    .object({
      container: containerRef,
      one_shot: z.boolean().default(false).describe('Answer at once without the second CPU sample (API 1.41+): faster, but cpu_percent is null'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's stats object plus cpu_percent, memory_usage, memory_limit, memory_percent, network_rx_bytes, network_tx_bytes, block_read_bytes, block_write_bytes, pids",
  resultSchema: statsResult,
  async run(ctx, p) {
    const oneShot = p.one_shot && ctx.atLeast('1.41');
    const res = await ctx.json<z.output<typeof engineStats>>({
      method: 'GET',
      path: enginePath`/containers/${p.container}/stats`,
      query: { stream: false, ...(oneShot ? { 'one-shot': true } : {}) },
      // The two-sample answer takes a second or two on top of the usual.
      timeoutMs: (ctx.config.timeout + 5) * 1000,
    });
    const stats = res.body;
    // Computed fields come last: they are the connector's contract, whatever the Engine adds.
    return { ...stats, ...computeStats(stats) };
  },
});

export const statsOperations = [containerStats] as const;
