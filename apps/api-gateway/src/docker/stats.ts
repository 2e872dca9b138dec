import type { supervisorV1 } from '@drydock/proto';
import { rfc3339Nano, ZERO_TIME } from './time';

const n = (s: string | undefined): number => Number(s ?? '0');

function cpuStats(s: supervisorV1.ContainerStatsResponse | undefined): Record<string, unknown> {
  if (!s) {
    // dockerd's zero CPUStats: percpu, system and online CPUs are omitempty
    return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  }
  return {
    cpu_usage: {
      total_usage: n(s.cpuTotalNs),
      percpu_usage: (s.percpuNs ?? []).map(n),
      // the proto carries no user/kernel split
      usage_in_kernelmode: 0,
      usage_in_usermode: 0,
    },
    system_cpu_usage: n(s.systemCpuNs),
    online_cpus: s.onlineCpus ?? 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/**
 * One sample (and the one before it, if any) -> Docker's stats JSON. The CLI
 * computes CPU % from cpu_stats - precpu_stats and memory as usage minus
 * memory_stats.stats.total_inactive_file (cgroup v1 key), so the page cache
 * figure goes there.
 */
export function statsJson(id: string, name: string, cur: supervisorV1.ContainerStatsResponse, prev?: supervisorV1.ContainerStatsResponse): Record<string, unknown> {
  const pids: Record<string, number> = { current: n(cur.pidsCurrent) };
  if (n(cur.pidsLimit) > 0) pids.limit = n(cur.pidsLimit);
  const io: { major: number; minor: number; op: string; value: number }[] = [];
  if (cur.blkioReadBytes !== undefined || cur.blkioWriteBytes !== undefined) {
    io.push({ major: 0, minor: 0, op: 'Read', value: n(cur.blkioReadBytes) }, { major: 0, minor: 0, op: 'Write', value: n(cur.blkioWriteBytes) });
  }
  return {
    read: rfc3339Nano(cur.read),
    preread: prev ? rfc3339Nano(prev.read) : ZERO_TIME,
    pids_stats: pids,
    blkio_stats: {
      io_service_bytes_recursive: io.length > 0 ? io : null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(cur),
    precpu_stats: cpuStats(prev),
    memory_stats: {
      usage: n(cur.memoryUsage),
      // no peak figure in the proto: the current usage is the best lower bound
      max_usage: n(cur.memoryUsage),
      stats: { total_inactive_file: n(cur.memoryCache) },
      limit: n(cur.memoryLimit),
    },
    name: `/${name}`,
    id,
  };
}
