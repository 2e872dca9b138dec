import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/**
 * USER_HZ. The kernel reports /proc/stat in USER_HZ, fixed at 100 on every Linux
 * architecture Node runs on; Docker hard-codes the same constant.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  /** The aggregate `cpu` line's fields, in jiffies: user nice system idle iowait irq softirq steal guest guest_nice. */
  cpu: number[];
  /** Number of `cpuN` lines: the online CPUs, as Docker counts them. */
  onlineCpus: number;
}

export function parseProcStat(text: string): ProcStat {
  let cpu: number[] | undefined;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu ')) {
      cpu = line.trim().split(/\s+/).slice(1).map(Number);
    } else if (/^cpu\d+\s/.test(line)) {
      onlineCpus++;
    }
  }
  // Docker needs user..softirq: the first seven fields.
  if (!cpu || cpu.length < 7 || cpu.some((n) => !Number.isFinite(n))) throw new Error('invalid /proc/stat: no aggregate cpu line');
  return { cpu, onlineCpus };
}

export async function readProcStat(procRoot = '/proc'): Promise<ProcStat> {
  return parseProcStat(await fs.readFile(join(procRoot, 'stat'), 'utf8'));
}

/**
 * Host CPU time in ns as Docker's stats collector computes `system_cpu_usage`: the sum of
 * user, nice, system, idle, iowait, irq and softirq (steal and guest excluded).
 */
export function systemCpuNs(stat: ProcStat): number {
  const ticks = stat.cpu.slice(0, 7).reduce((a, b) => a + b, 0);
  return (ticks * 1e9) / CLOCK_TICKS_PER_SECOND;
}

/** Busy and total jiffies for a utilisation fraction: idle and iowait count as not busy. */
export function cpuBusyTotal(stat: ProcStat): { busy: number; total: number } {
  // guest and guest_nice are already included in user and nice.
  const f = stat.cpu.slice(0, 8);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** /proc/meminfo as bytes by key (`MemTotal`, `MemAvailable`, ...). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([^:]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * (line.trimEnd().endsWith('kB') ? 1024 : 1);
  }
  return out;
}

export async function readMeminfo(procRoot = '/proc'): Promise<Record<string, number>> {
  return parseMeminfo(await fs.readFile(join(procRoot, 'meminfo'), 'utf8'));
}
