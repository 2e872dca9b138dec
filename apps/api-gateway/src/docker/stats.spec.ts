import { statsJson } from './stats';

describe('statsJson', () => {
  const sample = (sec: string, cpu: string) => ({
    read: { seconds: sec, nanos: 0 },
    cpuTotalNs: cpu,
    systemCpuNs: '1000000000000',
    onlineCpus: 2,
    percpuNs: ['100', '200'],
    memoryUsage: '10485760',
    memoryLimit: '67108864',
    memoryCache: '1048576',
    pidsCurrent: '3',
    pidsLimit: '0',
    blkioReadBytes: '4096',
    blkioWriteBytes: '8192',
  });

  it('first sample: zero precpu, Docker field names and units', () => {
    expect(statsJson('abc', 'web', sample('1704067200', '300'))).toEqual({
      read: '2024-01-01T00:00:00Z',
      preread: '0001-01-01T00:00:00Z',
      pids_stats: { current: 3 },
      blkio_stats: {
        io_service_bytes_recursive: [
          { major: 0, minor: 0, op: 'Read', value: 4096 },
          { major: 0, minor: 0, op: 'Write', value: 8192 },
        ],
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
      cpu_stats: {
        cpu_usage: { total_usage: 300, percpu_usage: [100, 200], usage_in_kernelmode: 0, usage_in_usermode: 0 },
        system_cpu_usage: 1000000000000,
        online_cpus: 2,
        throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
      },
      precpu_stats: {
        cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
        throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
      },
      memory_stats: { usage: 10485760, max_usage: 10485760, stats: { total_inactive_file: 1048576 }, limit: 67108864 },
      name: '/web',
      id: 'abc',
    });
  });

  it('later samples carry the previous one as precpu and a pids limit when set', () => {
    const j = statsJson('abc', 'web', { ...sample('1704067201', '500'), pidsLimit: '50' }, sample('1704067200', '300'));
    expect(j.preread).toBe('2024-01-01T00:00:00Z');
    expect((j.precpu_stats as { cpu_usage: { total_usage: number } }).cpu_usage.total_usage).toBe(300);
    expect(j.pids_stats).toEqual({ current: 3, limit: 50 });
  });
});
