import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@drydock/errors';
import { CLOCK_TICKS_PER_SECOND, readMeminfo, readProcStat, systemCpuNs } from './proc';

/**
 * One sample of a container's resource usage: the raw numbers Docker's stats JSON
 * (GET /containers/{id}/stats, API 1.41) is built from. All byte and ns counts are JS
 * numbers: exact up to 2^53 (about 104 CPU-days of ns, 8 PiB).
 */
export interface CgroupStats {
  /** False when the container's cgroup does not exist (not running): every cgroup field is then 0. */
  present: boolean;
  /** cgroup_stats.cpu_usage.total_usage. */
  cpuTotalNs: number;
  /** cpu_usage.percpu_usage; empty on cgroup v2 (no per-CPU accounting there, as in Docker). */
  percpuNs: number[];
  /** cpu_usage.usage_in_usermode / usage_in_kernelmode (v1: cpuacct.stat ticks converted). */
  cpuUserNs: number;
  cpuSystemNs: number;
  /** cpu_stats.system_cpu_usage: host CPU time, Docker's formula (see systemCpuNs in proc.ts). Filled even when !present. */
  systemCpuNs: number;
  /** cpu_stats.online_cpus: `cpuN` lines of /proc/stat. Filled even when !present. */
  onlineCpus: number;
  /**
   * memory_stats.usage, RAW: v1 memory.usage_in_bytes, v2 memory.current (page cache
   * included). The docker CLI subtracts the inactive file cache itself (v1
   * `total_inactive_file`, v2 `inactive_file` from memory_stats.stats); the gateway must
   * pass memoryStat through as memory_stats.stats for that to work.
   */
  memoryUsage: number;
  /** memory_stats.max_usage (v1 memory.max_usage_in_bytes; v2 memory.peak where the kernel has it, else 0). */
  memoryMaxUsage: number;
  /**
   * memory_stats.limit. "Unlimited" (v1 ~2^63, v2 `max`) and any limit above the host's
   * RAM are reported as the host's MemTotal, as dockerd does.
   */
  memoryLimit: number;
  /**
   * The inactive page cache the CLI subtracts from usage: v1 `total_inactive_file`
   * (hierarchical), v2 `inactive_file`. usage - memoryInactiveFile is "MEM USAGE".
   */
  memoryInactiveFile: number;
  /** memory.stat as is (v1 or v2 keys), for memory_stats.stats. */
  memoryStat: Record<string, number>;
  /** pids_stats.current. */
  pidsCurrent: number;
  /** pids_stats.limit; 0 when unlimited (`max`), as Docker leaves it out. */
  pidsLimit: number;
  /** Sums over devices of the blkio/io Read and Write byte counters. */
  blkioReadBytes: number;
  blkioWriteBytes: number;
}

export interface CgroupStatsReaderOptions {
  /** Where the cgroup hierarchy is mounted. Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** Where /proc is. Default /proc. */
  procRoot?: string;
  /** Host RAM; read from <procRoot>/meminfo on first use when not given. */
  machineMemoryBytes?: number;
}

type CgroupLayout = { version: 2 } | { version: 1; cpuacctDir: string };

/** Names under which v1 mounts cpuacct, alone or co-mounted with cpu. */
const CPUACCT_DIRS = ['cpuacct', 'cpu,cpuacct', 'cpuacct,cpu'];

/**
 * Reads a container's usage from its cgroup, given the OCI spec's linux.cgroupsPath as
 * runc's cgroupfs driver uses it (`/drydock/<id>`; the systemd driver's
 * `slice:prefix:name` form is not supported).
 *
 * cgroup v1 (these machines, hybrid layout with /sys/fs/cgroup/unified) and v2 are both
 * handled; v2 is detected by `<root>/cgroup.controllers`, the test runc itself uses.
 * A controller that is missing (not mounted, not enabled, cgroup gone) yields zeros
 * for its fields rather than an error: stats are best effort, like Docker's.
 */
export class CgroupStatsReader {
  private readonly cgroupRoot: string;
  private readonly procRoot: string;
  private machineMemory?: number;
  private layout?: Promise<CgroupLayout>;

  constructor(opts: CgroupStatsReaderOptions = {}) {
    this.cgroupRoot = opts.cgroupRoot ?? '/sys/fs/cgroup';
    this.procRoot = opts.procRoot ?? '/proc';
    this.machineMemory = opts.machineMemoryBytes;
  }

  async read(cgroupsPath: string): Promise<CgroupStats> {
    const rel = validateCgroupsPath(cgroupsPath);
    const [layout, stat, machineMemory] = await Promise.all([this.detect(), readProcStat(this.procRoot), this.hostMemory()]);
    const out = emptyStats();
    out.systemCpuNs = systemCpuNs(stat);
    out.onlineCpus = stat.onlineCpus;
    if (layout.version === 2) await this.readV2(join(this.cgroupRoot, rel), out);
    else await this.readV1(rel, layout.cpuacctDir, out);
    if (out.present && (out.memoryLimit === 0 || out.memoryLimit > machineMemory) && machineMemory > 0) out.memoryLimit = machineMemory;
    return out;
  }

  private detect(): Promise<CgroupLayout> {
    this.layout ??= (async (): Promise<CgroupLayout> => {
      if (await exists(join(this.cgroupRoot, 'cgroup.controllers'))) return { version: 2 };
      for (const d of CPUACCT_DIRS) {
        if (await exists(join(this.cgroupRoot, d, 'cpuacct.usage'))) return { version: 1, cpuacctDir: d };
      }
      return { version: 1, cpuacctDir: 'cpuacct' };
    })();
    return this.layout;
  }

  private async hostMemory(): Promise<number> {
    if (this.machineMemory === undefined) this.machineMemory = (await readMeminfo(this.procRoot)).MemTotal ?? 0;
    return this.machineMemory;
  }

  private async readV1(rel: string, cpuacctDir: string, out: CgroupStats): Promise<void> {
    const dir = (controller: string) => join(this.cgroupRoot, controller, rel);
    const cpu = dir(cpuacctDir);
    const mem = dir('memory');
    const pids = dir('pids');
    const blkio = dir('blkio');
    const [usage, percpu, cpuacctStat, memUsage, memMax, memLimit, memStat, pidsCur, pidsMax, blkCfq, blkThrottleRec, blkThrottle] = await Promise.all([
      readText(join(cpu, 'cpuacct.usage')),
      readText(join(cpu, 'cpuacct.usage_percpu')),
      readText(join(cpu, 'cpuacct.stat')),
      readText(join(mem, 'memory.usage_in_bytes')),
      readText(join(mem, 'memory.max_usage_in_bytes')),
      readText(join(mem, 'memory.limit_in_bytes')),
      readText(join(mem, 'memory.stat')),
      readText(join(pids, 'pids.current')),
      readText(join(pids, 'pids.max')),
      // containerd's order: the CFQ counters where the kernel has them, else the
      // throttle layer's, which count every bio whether or not a limit is set.
      readText(join(blkio, 'blkio.io_service_bytes_recursive')),
      readText(join(blkio, 'blkio.throttle.io_service_bytes_recursive')),
      readText(join(blkio, 'blkio.throttle.io_service_bytes')),
    ]);
    out.present = [usage, memUsage, pidsCur, blkThrottleRec, blkThrottle].some((t) => t !== undefined);
    if (!out.present) return;
    out.cpuTotalNs = toNumber(usage);
    out.percpuNs = percpu ? percpu.trim().split(/\s+/).filter(Boolean).map(Number) : [];
    const cs = parseFlatKeyed(cpuacctStat);
    const tickNs = 1e9 / CLOCK_TICKS_PER_SECOND;
    out.cpuUserNs = (cs.user ?? 0) * tickNs;
    out.cpuSystemNs = (cs.system ?? 0) * tickNs;
    out.memoryUsage = toNumber(memUsage);
    out.memoryMaxUsage = toNumber(memMax);
    out.memoryLimit = toNumber(memLimit);
    out.memoryStat = parseFlatKeyed(memStat);
    out.memoryInactiveFile = out.memoryStat.total_inactive_file ?? 0;
    out.pidsCurrent = toNumber(pidsCur);
    out.pidsLimit = toNumber(pidsMax);
    const io = parseBlkioV1(hasBlkioEntries(blkCfq) ? blkCfq : (blkThrottleRec ?? blkThrottle));
    out.blkioReadBytes = io.read;
    out.blkioWriteBytes = io.write;
  }

  private async readV2(dir: string, out: CgroupStats): Promise<void> {
    if (!(await exists(join(dir, 'cgroup.procs')))) return;
    out.present = true;
    const [cpuStat, memCurrent, memPeak, memMax, memStat, pidsCur, pidsMax, ioStat] = await Promise.all([
      readText(join(dir, 'cpu.stat')),
      readText(join(dir, 'memory.current')),
      readText(join(dir, 'memory.peak')),
      readText(join(dir, 'memory.max')),
      readText(join(dir, 'memory.stat')),
      readText(join(dir, 'pids.current')),
      readText(join(dir, 'pids.max')),
      readText(join(dir, 'io.stat')),
    ]);
    const cs = parseFlatKeyed(cpuStat);
    out.cpuTotalNs = (cs.usage_usec ?? 0) * 1000;
    out.cpuUserNs = (cs.user_usec ?? 0) * 1000;
    out.cpuSystemNs = (cs.system_usec ?? 0) * 1000;
    out.memoryUsage = toNumber(memCurrent);
    out.memoryMaxUsage = toNumber(memPeak);
    out.memoryLimit = toNumber(memMax);
    out.memoryStat = parseFlatKeyed(memStat);
    out.memoryInactiveFile = out.memoryStat.inactive_file ?? 0;
    out.pidsCurrent = toNumber(pidsCur);
    out.pidsLimit = toNumber(pidsMax);
    const io = parseIoStatV2(ioStat);
    out.blkioReadBytes = io.read;
    out.blkioWriteBytes = io.write;
  }
}

function emptyStats(): CgroupStats {
  return {
    present: false,
    cpuTotalNs: 0,
    percpuNs: [],
    cpuUserNs: 0,
    cpuSystemNs: 0,
    systemCpuNs: 0,
    onlineCpus: 0,
    memoryUsage: 0,
    memoryMaxUsage: 0,
    memoryLimit: 0,
    memoryInactiveFile: 0,
    memoryStat: {},
    pidsCurrent: 0,
    pidsLimit: 0,
    blkioReadBytes: 0,
    blkioWriteBytes: 0,
  };
}

/** The path relative to a controller's mount, refusing anything that could leave the hierarchy. */
function validateCgroupsPath(p: string): string {
  if (!p.startsWith('/')) throw new InvalidArgumentError(`unsupported cgroups path ${JSON.stringify(p)}: expected an absolute cgroupfs path such as /drydock/<id>`);
  const parts = p.split('/').filter(Boolean);
  if (parts.some((s) => s === '..' || s === '.')) throw new InvalidArgumentError(`invalid cgroups path ${JSON.stringify(p)}`);
  return parts.join('/');
}

/**
 * A single-value cgroup file as a number. `max` (v2, pids.max in v1) is unlimited: 0.
 * Values above 2^53 (v1's "unlimited" memory limit, 0x7FFFFFFFFFFFF000) lose precision
 * but stay huge, and the caller clamps memory limits to the host's RAM anyway.
 */
function toNumber(text: string | undefined): number {
  const t = text?.trim();
  if (!t || t === 'max') return 0;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat). */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** v1 blkio `MAJ:MIN Op value` lines; `Total` lines ignored. */
export function parseBlkioV1(text: string | undefined): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    const v = Number(f[2]);
    if (!Number.isFinite(v)) continue;
    if (f[1] === 'Read') read += v;
    else if (f[1] === 'Write') write += v;
  }
  return { read, write };
}

function hasBlkioEntries(text: string | undefined): boolean {
  return (text ?? '').split('\n').some((l) => l.trim().split(/\s+/).length === 3);
}

/** v2 io.stat `MAJ:MIN rbytes=.. wbytes=.. rios=.. ...` lines. */
export function parseIoStatV2(text: string | undefined): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of (text ?? '').split('\n')) {
    for (const kv of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = kv.split('=');
      const n = Number(v);
      if (!Number.isFinite(n)) continue;
      if (k === 'rbytes') read += n;
      else if (k === 'wbytes') write += n;
    }
  }
  return { read, write };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT: no such cgroup/controller file; ENODEV/EINVAL: the cgroup is being torn down;
    // EOPNOTSUPP: memory.peak on kernels without it. All mean "no value".
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV' || code === 'EINVAL' || code === 'EOPNOTSUPP') return undefined;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}
