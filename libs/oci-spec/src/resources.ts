import { InvalidArgumentError } from '@drydock/errors';
import type { LinuxBlockIO, LinuxCPU, LinuxMemory, LinuxPids } from './types';

/**
 * Container resource limits: Docker 20.10's create-time validation (verifyPlatformContainerResources
 * and friends) and the translation to runtime-spec resources (getMemoryResources, getCPUResources,
 * getPidsLimit). Field names and units are the Docker API's HostConfig ones (bytes, nano-CPUs,
 * microseconds).
 */

/** The HostConfig resource fields Drydock honours. */
export interface ResourceOptions {
  /** Memory limit in bytes; 0 = unlimited. */
  memory?: number;
  /** Memory+swap in bytes: 0/undefined = twice `memory`, -1 = unlimited swap. */
  memorySwap?: number;
  /** Soft limit in bytes. */
  memoryReservation?: number;
  /** 0..100; -1 or undefined = host default. */
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  /** CPUs in units of 1e-9 (`--cpus 1.5` = 1.5e9). */
  nanoCpus?: number;
  /** Relative weight (cgroup v1 cpu.shares). */
  cpuShares?: number;
  /** CFS period in microseconds. */
  cpuPeriod?: number;
  /** CFS quota in microseconds; -1 = unlimited. */
  cpuQuota?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** Max processes; 0 or negative = unlimited. */
  pidsLimit?: number;
  /** 10..1000, 0 = unset. */
  blkioWeight?: number;
}

/** Other HostConfig fields validated alongside resources. */
export interface HostConfigLimits extends ResourceOptions {
  /** /dev/shm size in bytes; 0 = default (64 MiB). */
  shmSize?: number;
  /** -1000..1000. */
  oomScoreAdj?: number;
}

/** Docker's minimum memory limit (linuxMinMemory), 6 MiB. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
/** The CFS period Docker uses with --cpus. */
export const DEFAULT_CPU_PERIOD_US = 100000;

/**
 * Docker's resource checks for `docker create/run` (not `update`), in Docker's order, with its
 * texts, as InvalidArgumentError. `hostCpus` is the number of CPUs the engine may use (Docker's
 * sysinfo.NumCPU). Drydock additionally rejects 0 < nanoCpus < 0.01 CPU with Docker's range
 * message: Docker lets those through and runc then fails writing a quota below 1ms.
 */
export function validateResources(hc: HostConfigLimits, hostCpus: number): void {
  const r = hc;
  const memory = r.memory ?? 0;
  const swap = r.memorySwap ?? 0;
  if (memory !== 0 && memory < MIN_MEMORY_BYTES) fail('Minimum memory limit allowed is 6MB');
  if (memory > 0 && swap > 0 && swap < memory) fail('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (memory === 0 && swap > 0) fail('You should always set the Memory limit when using Memoryswap limit, see usage');
  const swappiness = r.memorySwappiness;
  if (swappiness !== undefined && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    fail(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  const reservation = r.memoryReservation ?? 0;
  if (reservation > 0 && reservation < MIN_MEMORY_BYTES) fail('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) {
    fail('Minimum memory limit can not be less than memory reservation limit, see usage');
  }

  const nano = r.nanoCpus ?? 0;
  const period = r.cpuPeriod ?? 0;
  const quota = r.cpuQuota ?? 0;
  if (nano > 0 && period > 0) fail('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0) fail('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano < 0 || nano > hostCpus * 1e9 || (nano > 0 && nano < 1e7)) {
    fail(`Range of CPUs is from 0.01 to ${hostCpus}.00, as there are only ${hostCpus} CPUs available`);
  }
  if ((r.cpuShares ?? 0) < 0) fail('shares: invalid argument');
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    fail('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (quota > 0 && quota < 1000) fail('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  const blkio = r.blkioWeight ?? 0;
  if (blkio > 0 && (blkio < 10 || blkio > 1000)) fail('Range of blkio weight is from 10 to 1000');
  if (blkio < 0) fail(`Range of blkio weight is from 10 to 1000`);

  if ((hc.shmSize ?? 0) < 0) fail('SHM size can not be less than 0');
  const oom = hc.oomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) fail(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
}

function fail(msg: string): never {
  throw new InvalidArgumentError(msg);
}

/**
 * Memory resources as Docker writes them: only set fields, swap defaulting to 2x memory (Docker's
 * adaptContainerSettings) unless the host has no swap accounting, `disableOOMKiller` always present
 * (Docker defaults it to false).
 */
export function memoryResources(r: ResourceOptions, swapLimitSupported = true): LinuxMemory {
  const m: LinuxMemory = {};
  const memory = r.memory ?? 0;
  let swap = r.memorySwap ?? 0;
  if (memory > 0 && swap === 0) swap = memory * 2;
  if (!swapLimitSupported) swap = -1;
  if (memory > 0) m.limit = memory;
  if ((r.memoryReservation ?? 0) > 0) m.reservation = r.memoryReservation;
  if (memory > 0 && swap > 0) m.swap = swap;
  if (r.memorySwappiness !== undefined && r.memorySwappiness !== -1) m.swappiness = r.memorySwappiness;
  m.disableOOMKiller = r.oomKillDisable ?? false;
  return m;
}

/**
 * CPU resources as Docker writes them: `shares` always present (0 = unset), `--cpus` as quota over
 * a 100ms period, explicit period/quota overriding.
 */
export function cpuResources(r: ResourceOptions): LinuxCPU {
  const shares = r.cpuShares ?? 0;
  if (shares < 0) throw new InvalidArgumentError('shares: invalid argument');
  const c: LinuxCPU = { shares };
  if (r.cpusetCpus) c.cpus = r.cpusetCpus;
  if (r.cpusetMems) c.mems = r.cpusetMems;
  const nano = r.nanoCpus ?? 0;
  if (nano > 0) {
    c.period = DEFAULT_CPU_PERIOD_US;
    c.quota = Math.trunc((nano * DEFAULT_CPU_PERIOD_US) / 1e9);
  }
  if (r.cpuPeriod) c.period = r.cpuPeriod;
  if (r.cpuQuota) c.quota = r.cpuQuota;
  return c;
}

/** Pids limit as Docker writes it: absent when unset, -1 for 0/negative ("unlimited"). */
export function pidsResources(r: ResourceOptions): LinuxPids | undefined {
  if (r.pidsLimit === undefined) return undefined;
  return { limit: r.pidsLimit <= 0 ? -1 : r.pidsLimit };
}

/** Block-IO weight as Docker writes it (always present, 0 = unset). */
export function blockIOResources(r: ResourceOptions): LinuxBlockIO {
  return { weight: r.blkioWeight ?? 0 };
}
