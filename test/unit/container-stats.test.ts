import { describe, expect, it } from 'vitest';
import { computeStats, type EngineStats } from '../../src/operations/stats.js';

/** A running container's sample on a cgroup v1 host, trimmed from a real Engine 20.10 answer. */
const v1: EngineStats = {
  cpu_stats: { cpu_usage: { total_usage: 2_500_000_000, percpu_usage: [1_500_000_000, 1_000_000_000] }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
  precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 18_000_000_000 },
  memory_stats: { usage: 50_000_000, limit: 200_000_000, stats: { cache: 12_000_000, total_inactive_file: 10_000_000, inactive_file: 9_000_000 } },
  networks: { eth0: { rx_bytes: 1000, tx_bytes: 200 }, eth1: { rx_bytes: 24, tx_bytes: 6 } },
  blkio_stats: {
    io_service_bytes_recursive: [
      { op: 'Read', value: 4096 },
      { op: 'Write', value: 8192 },
      { op: 'Sync', value: 1 },
      { op: 'Total', value: 12288 },
      { op: 'Read', value: 100 },
    ],
  },
  pids_stats: { current: 3 },
};

/** The same on a cgroup v2 host: no total_* keys, lower-case ops, no percpu list. */
const v2: EngineStats = {
  cpu_stats: { cpu_usage: { total_usage: 1_100_000_000 }, system_cpu_usage: 10_000_000_000, online_cpus: 4 },
  precpu_stats: { cpu_usage: { total_usage: 1_000_000_000 }, system_cpu_usage: 9_000_000_000 },
  memory_stats: { usage: 30_000_000, limit: 60_000_000, stats: { anon: 20_000_000, file: 9_000_000, inactive_file: 6_000_000 } },
  networks: { eth0: { rx_bytes: 5, tx_bytes: 7 } },
  blkio_stats: { io_service_bytes_recursive: [{ op: 'read', value: 10 }, { op: 'write', value: 20 }] },
  pids_stats: { current: 1 },
};

describe('computeStats (as docker stats computes them)', () => {
  it('cgroup v1: cpu over system delta × online cpus, memory minus total_inactive_file', () => {
    expect(computeStats(v1)).toEqual({
      cpu_percent: 50, // 0.5e9 / 2e9 × 2 × 100
      memory_usage: 40_000_000, // total_inactive_file wins over inactive_file on v1
      memory_limit: 200_000_000,
      memory_percent: 20,
      network_rx_bytes: 1024,
      network_tx_bytes: 206,
      block_read_bytes: 4196,
      block_write_bytes: 8192,
      pids: 3,
    });
  });

  it('cgroup v2: memory minus inactive_file, lower-case block ops', () => {
    expect(computeStats(v2)).toMatchObject({
      cpu_percent: 40, // 0.1e9 / 1e9 × 4 × 100
      memory_usage: 24_000_000,
      memory_percent: 40,
      block_read_bytes: 10,
      block_write_bytes: 20,
      pids: 1,
    });
  });

  it('falls back to the per-cpu list when online_cpus is missing', () => {
    const s: EngineStats = { ...v1, cpu_stats: { ...v1.cpu_stats, online_cpus: 0 } };
    expect(computeStats(s).cpu_percent).toBe(50);
    const four: EngineStats = { ...v1, cpu_stats: { cpu_usage: { total_usage: 2_500_000_000, percpu_usage: [1, 1, 1, 1] }, system_cpu_usage: 20_000_000_000 } };
    expect(computeStats(four).cpu_percent).toBe(100);
  });

  it('one-shot sample (no previous CPU reading): cpu_percent is null, not 0', () => {
    const oneShot: EngineStats = { ...v1, precpu_stats: { cpu_usage: { total_usage: 0 } } };
    expect(computeStats(oneShot).cpu_percent).toBeNull();
    expect(computeStats(oneShot).memory_usage).toBe(40_000_000);
  });

  it('an idle container is 0 %, and a counter going backwards is not negative', () => {
    const idle: EngineStats = { ...v1, cpu_stats: { ...v1.cpu_stats!, cpu_usage: { total_usage: 2_000_000_000 } } };
    expect(computeStats(idle).cpu_percent).toBe(0);
    const reset: EngineStats = { ...v1, cpu_stats: { ...v1.cpu_stats!, cpu_usage: { total_usage: 1 } } };
    expect(computeStats(reset).cpu_percent).toBe(0);
  });

  it('keeps usage as is when the inactive cache is not below it', () => {
    const s: EngineStats = { memory_stats: { usage: 100, limit: 1000, stats: { total_inactive_file: 150 } } };
    expect(computeStats(s)).toMatchObject({ memory_usage: 100, memory_percent: 10 });
  });

  it('keeps small percentages visible (a tiny container on a big host)', () => {
    const s: EngineStats = { memory_stats: { usage: 327_680, limit: 25_276_514_304, stats: { total_inactive_file: 0 } } };
    expect(computeStats(s).memory_percent).toBeGreaterThan(0);
  });

  it('a stopped container (empty stats, as the Engine sends them): unknowns are null, counters 0', () => {
    const stopped: EngineStats = {
      pids_stats: {},
      blkio_stats: { io_service_bytes_recursive: null },
      cpu_stats: { cpu_usage: { total_usage: 0 } },
      precpu_stats: { cpu_usage: { total_usage: 0 } },
      memory_stats: {},
    };
    expect(computeStats(stopped)).toEqual({
      cpu_percent: null,
      memory_usage: null,
      memory_limit: null,
      memory_percent: null,
      network_rx_bytes: 0,
      network_tx_bytes: 0,
      block_read_bytes: 0,
      block_write_bytes: 0,
      pids: null,
    });
  });
});
