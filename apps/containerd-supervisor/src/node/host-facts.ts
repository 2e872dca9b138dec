import { execFile } from 'node:child_process';
import { access, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@drydock/logging';

/** What `docker info` reports of the host, read once at start (none of it changes while we run). */
export interface HostFacts {
  containerd: { version: string; revision: string };
  runc: { version: string; commit: string };
  os: { name: string; version: string };
  cgroupVersion: '1' | '2' | '';
  capabilities: {
    memoryLimit: boolean;
    swapLimit: boolean;
    cpuCfsPeriod: boolean;
    cpuCfsQuota: boolean;
    cpuShares: boolean;
    cpuset: boolean;
    pidsLimit: boolean;
    ipv4Forwarding: boolean;
    bridgeNfIptables: boolean;
    bridgeNfIp6tables: boolean;
  };
  /** dockerd's overlay2 DriverStatus pairs that hold for containerd's overlayfs snapshotter. */
  driverStatus: [string, string][];
}

/** Where the facts come from; tests hand in fakes and a directory standing in for `/`. */
export interface HostProbe {
  /** Prefix of /etc, /proc and /sys ("/" in production). */
  hostRoot: string;
  containerdVersion(): Promise<{ version: string; revision: string }>;
  /** stdout of `runc --version` (the runtime containerd's shims run). */
  runcVersionText(): Promise<string>;
  /** The overlayfs snapshotter's root directory, as containerd exports it. */
  snapshotterRoot(): Promise<string | undefined>;
}

/**
 * Reads every fact; one that cannot be read is logged and left empty or false, so a
 * missing /proc file never keeps the supervisor from starting.
 */
export async function probeHostFacts(p: HostProbe, log: Logger): Promise<HostFacts> {
  const at = (path: string) => join(p.hostRoot, path);
  const soft = async <T>(what: string, fallback: T, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      log.warn({ err, fact: what }, 'host fact unreadable');
      return fallback;
    }
  };
  const exists = (path: string) =>
    access(at(path)).then(
      () => true,
      () => false,
    );
  const sysctlOn = async (path: string) => (await readFile(at(path), 'utf8').catch(() => '0')).trim() === '1';

  const [containerd, runc, os, cgroup, snapRoot] = await Promise.all([
    soft('containerd version', { version: '', revision: '' }, () => p.containerdVersion()),
    soft('runc version', { version: '', commit: '' }, async () => parseRuncVersion(await p.runcVersionText())),
    soft('os-release', { name: 'Linux', version: '' }, async () => parseOsRelease(await readFile(at('etc/os-release'), 'utf8'))),
    probeCgroups(exists, (path) => readFile(at(path), 'utf8')),
    soft('snapshotter root', undefined, () => p.snapshotterRoot()),
  ]);
  const driverStatus: [string, string][] = [];
  if (snapRoot) {
    const fs = await soft('backing filesystem', undefined, async () => backingFilesystem((await statfs(snapRoot)).type));
    if (fs) driverStatus.push(['Backing Filesystem', fs]);
    // containerd's overlayfs snapshotter refuses to start on a filesystem without d_type
    driverStatus.push(['Supports d_type', 'true']);
  }
  return {
    containerd,
    runc,
    os,
    cgroupVersion: cgroup.version,
    capabilities: {
      ...cgroup.caps,
      ipv4Forwarding: await sysctlOn('proc/sys/net/ipv4/ip_forward'),
      bridgeNfIptables: await sysctlOn('proc/sys/net/bridge/bridge-nf-call-iptables'),
      bridgeNfIp6tables: await sysctlOn('proc/sys/net/bridge/bridge-nf-call-ip6tables'),
    },
    driverStatus,
  };
}

/**
 * dockerd's sysinfo checks: on cgroup v1 a controller counts when its hierarchy is
 * mounted (and swap when memory.memsw.* exists); on v2 when the root lists it in
 * cgroup.controllers (swap comes with memory there).
 */
async function probeCgroups(
  exists: (p: string) => Promise<boolean>,
  read: (p: string) => Promise<string>,
): Promise<{ version: '1' | '2' | ''; caps: Omit<HostFacts['capabilities'], 'ipv4Forwarding' | 'bridgeNfIptables' | 'bridgeNfIp6tables'> }> {
  const none = { memoryLimit: false, swapLimit: false, cpuCfsPeriod: false, cpuCfsQuota: false, cpuShares: false, cpuset: false, pidsLimit: false };
  if (await exists('sys/fs/cgroup/cgroup.controllers')) {
    const controllers = new Set((await read('sys/fs/cgroup/cgroup.controllers').catch(() => '')).split(/\s+/));
    const cpu = controllers.has('cpu');
    return {
      version: '2',
      caps: {
        memoryLimit: controllers.has('memory'),
        swapLimit: controllers.has('memory'),
        cpuCfsPeriod: cpu,
        cpuCfsQuota: cpu,
        cpuShares: cpu,
        cpuset: controllers.has('cpuset'),
        pidsLimit: controllers.has('pids'),
      },
    };
  }
  if (!(await exists('sys/fs/cgroup/memory')) && !(await exists('sys/fs/cgroup/cpu'))) return { version: '', caps: none };
  return {
    version: '1',
    caps: {
      memoryLimit: await exists('sys/fs/cgroup/memory/memory.limit_in_bytes'),
      swapLimit: await exists('sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
      cpuCfsPeriod: await exists('sys/fs/cgroup/cpu/cpu.cfs_period_us'),
      cpuCfsQuota: await exists('sys/fs/cgroup/cpu/cpu.cfs_quota_us'),
      cpuShares: await exists('sys/fs/cgroup/cpu/cpu.shares'),
      cpuset: await exists('sys/fs/cgroup/cpuset/cpuset.cpus'),
      pidsLimit: await exists('sys/fs/cgroup/pids'),
    },
  };
}

/** stdout of `<runc> --version`, with a deadline. */
export function runcVersionText(binary: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['--version'], { timeout: 5000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

/** `runc --version`: "runc version 1.1.5+ds1" and "commit: 1.1.5+ds1-1+deb12u1". */
export function parseRuncVersion(text: string): { version: string; commit: string } {
  return {
    version: /^runc version (\S+)/m.exec(text)?.[1] ?? '',
    commit: /^commit: (\S+)/m.exec(text)?.[1] ?? '',
  };
}

/** os-release's PRETTY_NAME and VERSION_ID (quotes optional, as the format allows). */
export function parseOsRelease(text: string): { name: string; version: string } {
  const field = (k: string) => new RegExp(`^${k}=("?)([^"\\n]*)\\1\\s*$`, 'm').exec(text)?.[2];
  return { name: field('PRETTY_NAME') || 'Linux', version: field('VERSION_ID') ?? '' };
}

/** statfs magic -> the name dockerd's fsutils/graphdriver gives it ("extfs" for ext2/3/4). */
export function backingFilesystem(magic: number): string {
  const names: Record<number, string> = {
    0xef53: 'extfs',
    0x58465342: 'xfs',
    0x9123683e: 'btrfs',
    0x01021994: 'tmpfs',
    0x794c7630: 'overlayfs',
    0x2fc12fc1: 'zfs',
    0x6969: 'nfs',
    0x65735546: 'fuseblk',
    0x52654973: 'reiserfs',
    0x5346544e: 'ntfs',
    0x73717368: 'squashfs',
    0xf2f52010: 'f2fs',
    0x858458f6: 'ramfs',
  };
  return names[magic] ?? `<unknown>`;
}
