import type { supervisorV1 } from '@drydock/proto';
import type { StatsSource } from '../grpc/containers.service';
import type { CgroupStatsReader } from '../stats/cgroup-stats';

/** StatsSource over the cgroup reader; memory_cache carries the inactive file cache the docker CLI subtracts. */
export class CgroupStatsSource implements StatsSource {
  constructor(private readonly reader: CgroupStatsReader) {}

  async sample(cgroupsPath: string): Promise<Omit<supervisorV1.ContainerStatsResponse, 'read'>> {
    const s = await this.reader.read(cgroupsPath);
    return {
      cpuTotalNs: String(s.cpuTotalNs),
      systemCpuNs: String(s.systemCpuNs),
      onlineCpus: s.onlineCpus,
      percpuNs: s.percpuNs.map(String),
      memoryUsage: String(s.memoryUsage),
      memoryLimit: String(s.memoryLimit),
      memoryCache: String(s.memoryInactiveFile),
      pidsCurrent: String(s.pidsCurrent),
      pidsLimit: String(s.pidsLimit),
      blkioReadBytes: String(s.blkioReadBytes),
      blkioWriteBytes: String(s.blkioWriteBytes),
    };
  }
}
