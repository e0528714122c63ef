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
  async run(ctx, p) {
    const oneShot = p.one_shot && ctx.atLeast('1.41');
    const res = await ctx.json<EngineStats>({
      method: 'GET',
      path: enginePath`/containers/${p.container}/stats`,
      query: { stream: false, ...(oneShot ? { 'one-shot': true } : {}) },
      // The two-sample answer takes a second or two on top of the usual.
      timeoutMs: (ctx.config.timeout + 5) * 1000,
    });
    const stats = res.body ?? {};
    // Computed fields come last: they are the connector's contract, whatever the Engine adds.
    return { ...stats, ...computeStats(stats) };
  },
});

export const statsOperations = [containerStats] as const;
