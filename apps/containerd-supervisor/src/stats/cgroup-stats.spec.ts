import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { errorCode } from '@drydock/errors';
import { CgroupStatsReader, parseBlkioV1, parseIoStatV2 } from './cgroup-stats';

const PROC_STAT = 'cpu  100 0 50 1000 10 0 5 3 0 0\ncpu0 50 0 25 500 5 0 2 1 0 0\ncpu1 50 0 25 500 5 0 3 2 0 0\ncpu2 0 0 0 0 0 0 0 0 0 0\n';
const MEMINFO = 'MemTotal:        1000000 kB\nMemFree:          500000 kB\nMemAvailable:     600000 kB\n';
const HOST_MEM = 1000000 * 1024;

function put(root: string, rel: string, text: string): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
}

describe('CgroupStatsReader', () => {
  let dir: string;
  let proc: string;
  let cg: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cgstats-'));
    proc = join(dir, 'proc');
    cg = join(dir, 'cgroup');
    put(proc, 'stat', PROC_STAT);
    put(proc, 'meminfo', MEMINFO);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('cgroup v1 (hybrid layout, cpu and cpuacct mounted apart)', () => {
    beforeEach(() => {
      mkdirSync(join(cg, 'unified'), { recursive: true });
      put(cg, 'unified/cgroup.controllers', 'cpu io memory pids\n'); // hybrid: not v2 at the root
      put(cg, 'cpuacct/cpuacct.usage', '999\n');
      const c = 'drydock/abc';
      put(cg, `cpuacct/${c}/cpuacct.usage`, '3000000000\n');
      put(cg, `cpuacct/${c}/cpuacct.usage_percpu`, '1000000000 2000000000 0 \n');
      put(cg, `cpuacct/${c}/cpuacct.stat`, 'user 120\nsystem 30\n');
      put(cg, `memory/${c}/memory.usage_in_bytes`, '6025216\n');
      put(cg, `memory/${c}/memory.max_usage_in_bytes`, '7000000\n');
      put(cg, `memory/${c}/memory.limit_in_bytes`, '9223372036854771712\n');
      put(cg, `memory/${c}/memory.stat`, 'cache 3153920\nrss 1695744\ninactive_file 1000\ntotal_cache 3153920\ntotal_inactive_file 184320\n');
      put(cg, `pids/${c}/pids.current`, '3\n');
      put(cg, `pids/${c}/pids.max`, 'max\n');
      put(cg, `blkio/${c}/blkio.io_service_bytes_recursive`, 'Total 0\n');
      put(cg, `blkio/${c}/blkio.throttle.io_service_bytes_recursive`, '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 1\n8:16 Write 2\nTotal 12291\n');
    });

    it('reads every field Docker needs', async () => {
      const s = await new CgroupStatsReader({ cgroupRoot: cg, procRoot: proc }).read('/drydock/abc');
      expect(s).toEqual({
        present: true,
        cpuTotalNs: 3e9,
        percpuNs: [1e9, 2e9, 0],
        cpuUserNs: 120 * 1e7,
        cpuSystemNs: 30 * 1e7,
        systemCpuNs: (100 + 50 + 1000 + 10 + 5) * 1e7,
        onlineCpus: 3,
        memoryUsage: 6025216,
        memoryMaxUsage: 7000000,
        memoryLimit: HOST_MEM, // "unlimited" clamped to the host's RAM, as dockerd does
        memoryInactiveFile: 184320,
        memoryStat: { cache: 3153920, rss: 1695744, inactive_file: 1000, total_cache: 3153920, total_inactive_file: 184320 },
        pidsCurrent: 3,
        pidsLimit: 0,
        blkioReadBytes: 4097,
        blkioWriteBytes: 8194,
      });
    });

    it('keeps a real memory limit and a pids limit', async () => {
      put(cg, 'memory/drydock/abc/memory.limit_in_bytes', '67108864\n');
      put(cg, 'pids/drydock/abc/pids.max', '100\n');
      const s = await new CgroupStatsReader({ cgroupRoot: cg, procRoot: proc }).read('/drydock/abc');
      expect(s.memoryLimit).toBe(67108864);
      expect(s.pidsLimit).toBe(100);
    });

    it('finds cpuacct co-mounted as cpu,cpuacct', async () => {
      rmSync(join(cg, 'cpuacct'), { recursive: true });
      put(cg, 'cpu,cpuacct/cpuacct.usage', '1\n');
      put(cg, 'cpu,cpuacct/drydock/abc/cpuacct.usage', '42\n');
      const s = await new CgroupStatsReader({ cgroupRoot: cg, procRoot: proc }).read('/drydock/abc');
      expect(s.cpuTotalNs).toBe(42);
    });

    it('reports zeros for a cgroup that does not exist', async () => {
      const s = await new CgroupStatsReader({ cgroupRoot: cg, procRoot: proc }).read('/drydock/gone');
      expect(s.present).toBe(false);
      expect(s.cpuTotalNs + s.memoryUsage + s.memoryLimit + s.pidsCurrent + s.blkioReadBytes).toBe(0);
      expect(s.percpuNs).toEqual([]);
      expect(s.onlineCpus).toBe(3); // host fields stay filled
    });
  });

  describe('cgroup v2', () => {
    beforeEach(() => {
      put(cg, 'cgroup.controllers', 'cpu io memory pids\n');
      const c = 'drydock/abc';
      put(cg, `${c}/cgroup.procs`, '123\n');
      put(cg, `${c}/cpu.stat`, 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 0\n');
      put(cg, `${c}/memory.current`, '1048576\n');
      put(cg, `${c}/memory.max`, '524288000\n');
      put(cg, `${c}/memory.stat`, 'anon 4096\nfile 8192\ninactive_file 4096\n');
      put(cg, `${c}/pids.current`, '2\n');
      put(cg, `${c}/pids.max`, '50\n');
      put(cg, `${c}/io.stat`, '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n');
    });

    it('reads the v2 files', async () => {
      const s = await new CgroupStatsReader({ cgroupRoot: cg, procRoot: proc }).read('/drydock/abc');
      expect(s).toMatchObject({
        present: true,
        cpuTotalNs: 2500000,
        percpuNs: [],
        cpuUserNs: 2000000,
        cpuSystemNs: 500000,
        memoryUsage: 1048576,
        memoryMaxUsage: 0,
        memoryLimit: 524288000,
        memoryInactiveFile: 4096,
        pidsCurrent: 2,
        pidsLimit: 50,
        blkioReadBytes: 101,
        blkioWriteBytes: 202,
      });
    });

    it('reports memory.max "max" as the host RAM', async () => {
      put(cg, 'drydock/abc/memory.max', 'max\n');
      const s = await new CgroupStatsReader({ cgroupRoot: cg, procRoot: proc }).read('/drydock/abc');
      expect(s.memoryLimit).toBe(HOST_MEM);
    });

    it('reports zeros for a missing cgroup', async () => {
      const s = await new CgroupStatsReader({ cgroupRoot: cg, procRoot: proc }).read('/drydock/none');
      expect(s.present).toBe(false);
      expect(s.memoryUsage).toBe(0);
    });
  });

  it.each(['drydock/abc', 'system.slice:drydock:abc', '/drydock/../../etc'])('rejects cgroups path %j', async (p) => {
    let err: unknown;
    try {
      await new CgroupStatsReader({ cgroupRoot: cg, procRoot: proc }).read(p);
    } catch (e) {
      err = e;
    }
    expect(errorCode(err)).toBe('INVALID_ARGUMENT');
  });

  it('parses blkio and io.stat text', () => {
    expect(parseBlkioV1('8:0 Read 5\n8:0 Write 6\n8:0 Async 7\nTotal 11\n')).toEqual({ read: 5, write: 6 });
    expect(parseIoStatV2('253:0 rbytes=7 wbytes=8\n')).toEqual({ read: 7, write: 8 });
  });
});

describe('CgroupStatsReader on this machine', () => {
  // The test process' own memory cgroup (v1) or unified cgroup (v2): it exists and
  // charges at least this process' memory.
  it('reads the memory usage of its own cgroup', async () => {
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => l.split(':'));
    const line = v2 ? lines.find((l) => l[0] === '0') : lines.find((l) => l[1].split(',').includes('memory'));
    expect(line).toBeDefined();
    const s = await new CgroupStatsReader().read(line![2]);
    expect(s.present).toBe(true);
    expect(s.memoryUsage).toBeGreaterThan(0);
    expect(s.memoryLimit).toBeGreaterThan(0);
    expect(s.onlineCpus).toBeGreaterThan(0);
    expect(Object.keys(s.memoryStat).length).toBeGreaterThan(0);
  });
});
