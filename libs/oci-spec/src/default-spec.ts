import { InvalidArgumentError } from '@drydock/errors';
import { DEFAULT_CAPABILITIES, tweakCapabilities } from './capabilities';
import { cleanPath, DEFAULT_PROPAGATION, mergeTmpfsOptions, type Propagation } from './mounts';
import { blockIOResources, cpuResources, memoryResources, pidsResources, type ResourceOptions } from './resources';
import {
  OCI_RUNTIME_SPEC_VERSION,
  type Box,
  type LinuxDevice,
  type LinuxDeviceCgroup,
  type LinuxNamespace,
  type Mount,
  type POSIXRlimit,
  type Spec,
} from './types';

/**
 * The runtime spec Docker Engine 20.10 generates for a Linux container (oci/defaults.go plus the
 * daemon's WithXxx options in daemon/oci_linux.go), as a pure function of its inputs.
 *
 * Deliberately absent, because this engine does not have them (yet): the seccomp profile and the
 * AppArmor profile (`docker-default`) that Docker adds on hosts supporting them, SELinux labels,
 * libnetwork's prestart hook, user-namespace remapping, the `--init` binary mount.
 */

/** Docker's /dev/shm size (67108864 bytes). */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
/** RLIMIT_NOFILE a Docker container gets on Debian (containerd's LimitNOFILE, fs.nr_open). */
export const DEFAULT_NOFILE_LIMIT = 1048576;

/** Paths Docker hides from non-privileged containers. */
export const DEFAULT_MASKED_PATHS: readonly string[] = Object.freeze([
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
]);

/** Paths Docker makes read-only in non-privileged containers. */
export const DEFAULT_READONLY_PATHS: readonly string[] = Object.freeze([
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
]);

/**
 * Docker's devices-cgroup rules for non-privileged containers: deny all, then allow the nodes runc
 * creates (null, zero, urandom, random, tty, console), deny /dev/ptmx's sibling 10:229 (fuse).
 * runc appends its own allow-list after these (c/b *:* m, 5:2 ptmx, 136:* pts, 10:200 tun ...).
 */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  const allowC = (major: number, minor: number): LinuxDeviceCgroup => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allowC(1, 5),
    allowC(1, 3),
    allowC(1, 9),
    allowC(1, 8),
    allowC(5, 0),
    allowC(5, 1),
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ];
}

/** Docker's default mounts, before user mounts and /dev/shm sizing. */
export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
  ];
}

/** A user bind mount (already resolved to a host path; named volumes resolve to their directory). */
export interface BindMountOption {
  type: 'bind';
  source: string;
  destination: string;
  readOnly?: boolean;
  /** Default `rprivate`. Shared/slave need the source mount to be shared; the caller checks. */
  propagation?: Propagation;
  /** `bind` instead of `rbind` (mount API BindOptions.NonRecursive). */
  nonRecursive?: boolean;
}

/** A user tmpfs mount; `data` is the raw option string (`size=64m,mode=1777`, may be empty). */
export interface TmpfsMountOption {
  type: 'tmpfs';
  destination: string;
  data?: string;
}

export type UserMountOption = BindMountOption | TmpfsMountOption;

/** One `--ulimit`. */
export interface UlimitOption {
  /** Name without the RLIMIT_ prefix, as Docker takes it (`nofile`, `nproc`). */
  name: string;
  soft: number;
  hard: number;
}

/** A `--device` mapping: the node to create and its cgroup permissions (`rwm` subset). */
export interface DeviceOption {
  device: LinuxDevice;
  access: string;
}

/** Inputs of defaultSpec. Everything a Docker HostConfig/Config would say, already resolved. */
export interface DefaultSpecOptions {
  /** argv: [path, ...args] (see mergeContainerConfig). Required. */
  args: string[];
  /** Final process environment (see buildProcessEnv). */
  env?: string[];
  /** Default "/". */
  cwd?: string;
  terminal?: boolean;
  consoleSize?: Box;
  /** Numeric identity (see resolveUser); default root with additionalGids [0]. */
  user?: { uid: number; gid: number; additionalGids?: number[] };
  hostname?: string;
  /** NIS domain name, written as the kernel.domainname sysctl like Docker does. */
  domainname?: string;
  /** Root filesystem path in the bundle; default "rootfs" (containerd's bundle layout). */
  rootPath?: string;
  readonlyRootfs?: boolean;
  /** e.g. "/drydock/<id>" with the cgroupfs driver. */
  cgroupsPath?: string;
  privileged?: boolean;
  /** Host device nodes given to privileged containers (Docker lists /dev itself; the caller does the I/O). */
  hostDevices?: LinuxDevice[];
  capAdd?: string[];
  capDrop?: string[];
  mounts?: UserMountOption[];
  /** Host paths of the generated files, bind-mounted unless a user mount covers the destination. */
  networkFiles?: { resolvConf?: string; hostname?: string; hosts?: string };
  /** /dev/shm size in bytes; default 64 MiB. */
  shmSize?: number;
  /** `private` (default: a new netns, only `lo` until something configures it), `host`, or a netns to join. */
  network?: 'private' | 'host' | { path: string };
  /**
   * Docker sets net.ipv4.ping_group_range="0 2147483647" and net.ipv4.ip_unprivileged_port_start="0"
   * when the container gets its own network namespace. Default: true for `network: 'private'`,
   * false otherwise; set false on kernels lacking these sysctls (runc fails on unknown ones).
   */
  networkSysctls?: boolean;
  /** Default `private`. `none` drops /dev/shm; `host` shares the host's IPC and /dev/shm. */
  ipcMode?: 'private' | 'none' | 'host';
  pidMode?: 'private' | 'host';
  utsMode?: 'private' | 'host';
  /** Default `host`, which is what Docker 20.10 uses on cgroup v1 hosts. */
  cgroupnsMode?: 'host' | 'private';
  /** `--sysctl`, applied over the defaults. */
  sysctls?: Record<string, string>;
  resources?: ResourceOptions;
  /** False on hosts without swap accounting (memory limited without swap, as Docker warns). */
  swapLimitSupported?: boolean;
  devices?: DeviceOption[];
  /** `--device-cgroup-rule` entries like `c 42:* rmw`. */
  deviceCgroupRules?: string[];
  ulimits?: UlimitOption[];
  /**
   * The engine's RLIMIT_NOFILE hard limit (what the shim and runc inherit). The default nofile limit
   * is clamped to it: runc 1.1 fails with "error setting rlimit type 7: operation not permitted"
   * when asked for more than it may raise to (seen on these machines with a 20000 hard limit).
   */
  hostNofileHard?: number;
  oomScoreAdj?: number;
  noNewPrivileges?: boolean;
  /** Overrides (HostConfig.MaskedPaths / ReadonlyPaths), applied even when privileged. */
  maskedPaths?: string[];
  readonlyPaths?: string[];
  annotations?: Record<string, string>;
}

function setNamespace(list: LinuxNamespace[], ns: LinuxNamespace): void {
  const i = list.findIndex((n) => n.type === ns.type);
  if (i >= 0) list[i] = ns;
  else list.push(ns);
}

function removeNamespace(list: LinuxNamespace[], type: LinuxNamespace['type']): void {
  const i = list.findIndex((n) => n.type === type);
  if (i >= 0) list.splice(i, 1);
}

const deviceRuleRegex = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/** Docker's AppendDevicePermissionsFromCgroupRules for `--device-cgroup-rule`. */
export function parseDeviceCgroupRule(rule: string): LinuxDeviceCgroup {
  const m = deviceRuleRegex.exec(rule);
  if (!m) throw new InvalidArgumentError(`invalid device cgroup rule format: '${rule}'`);
  return {
    allow: true,
    type: m[1],
    major: m[2] === '*' ? -1 : Number(m[2]),
    minor: m[3] === '*' ? -1 : Number(m[3]),
    access: m[4],
  };
}

// Docker's mount sort: by number of path separators in the cleaned destination (stable).
function depth(dest: string): number {
  return (cleanPath(dest).match(/\//g) ?? []).length;
}

/**
 * Builds the runtime spec of a container the way Docker 20.10 does. Throws InvalidArgumentError
 * for bad capabilities (`unknown capability: "CAP_FOO"`), tmpfs options or device cgroup rules.
 * Resource values are taken as given: run validateResources first.
 */
export function defaultSpec(opts: DefaultSpecOptions): Spec {
  const privileged = opts.privileged ?? false;
  const user = opts.user ?? { uid: 0, gid: 0 };
  const caps = tweakCapabilities(DEFAULT_CAPABILITIES, opts.capAdd, opts.capDrop, privileged);
  const network = opts.network ?? 'private';
  const ipcMode = opts.ipcMode ?? 'private';

  // --- namespaces (Docker's default order: mount, network, uts, pid, ipc)
  const namespaces: LinuxNamespace[] = [{ type: 'mount' }, { type: 'network' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }];
  if (network === 'host') removeNamespace(namespaces, 'network');
  else if (typeof network === 'object') setNamespace(namespaces, { type: 'network', path: network.path });
  if (ipcMode === 'host') removeNamespace(namespaces, 'ipc');
  if (opts.pidMode === 'host') removeNamespace(namespaces, 'pid');
  if (opts.utsMode === 'host') removeNamespace(namespaces, 'uts');
  if (opts.cgroupnsMode === 'private') setNamespace(namespaces, { type: 'cgroup' });

  // --- user mounts: binds, then the network files, then tmpfs, stably sorted by depth
  type Pending = { destination: string; mount: Mount; isUser: boolean };
  const pending: Pending[] = [];
  const readonlyRootfs = opts.readonlyRootfs ?? false;
  const bindOptions = (readOnly: boolean, propagation: string, nonRecursive = false): string[] => {
    const o = [nonRecursive ? 'bind' : 'rbind'];
    if (readOnly) o.push('ro');
    o.push(propagation);
    return o;
  };
  const userMounts = opts.mounts ?? [];
  for (const m of userMounts) {
    if (m.type !== 'bind') continue;
    pending.push({
      destination: m.destination,
      isUser: true,
      mount: {
        destination: m.destination,
        type: 'bind',
        source: m.source,
        options: bindOptions(m.readOnly ?? false, m.propagation ?? DEFAULT_PROPAGATION, m.nonRecursive),
      },
    });
  }
  const userDests = new Set(userMounts.map((m) => m.destination));
  const netFiles: [string, string | undefined][] = [
    ['/etc/resolv.conf', opts.networkFiles?.resolvConf],
    ['/etc/hostname', opts.networkFiles?.hostname],
    ['/etc/hosts', opts.networkFiles?.hosts],
  ];
  for (const [dest, src] of netFiles) {
    if (!src || userDests.has(dest)) continue;
    pending.push({
      destination: dest,
      isUser: true,
      mount: { destination: dest, type: 'bind', source: src, options: bindOptions(readonlyRootfs, DEFAULT_PROPAGATION) },
    });
  }
  if (ipcMode === 'host' && !userDests.has('/dev/shm')) {
    pending.push({
      destination: '/dev/shm',
      isUser: true,
      mount: { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: bindOptions(false, DEFAULT_PROPAGATION) },
    });
  }
  for (const m of userMounts) {
    if (m.type !== 'tmpfs') continue;
    const base = ['noexec', 'nosuid', 'nodev', DEFAULT_PROPAGATION];
    const options = mergeTmpfsOptions(m.data ? [...base, ...m.data.split(',')] : base);
    pending.push({ destination: m.destination, isUser: true, mount: { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options } });
  }
  const sorted = pending
    .map((p, i) => ({ p, i }))
    .sort((a, b) => depth(a.p.destination) - depth(b.p.destination) || a.i - b.i)
    .map(({ p }) => p);
  const mountedDests = new Set(sorted.map((p) => p.destination));

  // --- default mounts minus overridden ones; /dev/shm sized
  const mounts: Mount[] = [];
  const devMounted = mountedDests.has('/dev');
  for (const m of defaultMounts()) {
    if (mountedDests.has(m.destination)) continue;
    if (devMounted && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm') {
      if (ipcMode === 'none') continue;
      m.options = [...(m.options ?? []), `size=${opts.shmSize || DEFAULT_SHM_SIZE}`];
    }
    mounts.push(m);
  }
  for (const p of sorted) mounts.push(p.mount);

  if (readonlyRootfs) {
    for (const m of mounts) {
      if (['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination)) continue;
      if (mountedDests.has(m.destination)) continue;
      if (!m.options?.includes('ro')) m.options = [...(m.options ?? []), 'ro'];
    }
  }
  if (privileged) {
    for (const m of mounts) {
      if (m.destination === '/sys' || m.type === 'cgroup') m.options = m.options?.filter((o) => o !== 'ro');
    }
  }

  // --- devices
  let deviceRules: LinuxDeviceCgroup[];
  const devices: LinuxDevice[] = [];
  if (privileged) {
    devices.push(...(opts.hostDevices ?? []));
    for (const d of opts.devices ?? []) if (!devices.some((h) => h.path === d.device.path)) devices.push(d.device);
    deviceRules = [{ allow: true, access: 'rwm' }];
  } else {
    deviceRules = defaultDeviceRules();
    for (const d of opts.devices ?? []) {
      devices.push(d.device);
      deviceRules.push({ allow: true, type: d.device.type, major: d.device.major, minor: d.device.minor, access: d.access });
    }
    for (const rule of opts.deviceCgroupRules ?? []) deviceRules.push(parseDeviceCgroupRule(rule));
  }

  // --- rlimits: the user's, then the default nofile unless the user set one
  const rlimits: POSIXRlimit[] = (opts.ulimits ?? []).map((u) => ({
    type: 'RLIMIT_' + u.name.toUpperCase(),
    hard: u.hard,
    soft: u.soft,
  }));
  if (!rlimits.some((r) => r.type === 'RLIMIT_NOFILE')) {
    const nofile = Math.min(DEFAULT_NOFILE_LIMIT, opts.hostNofileHard ?? DEFAULT_NOFILE_LIMIT);
    rlimits.push({ type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile });
  }

  // --- sysctls
  const sysctl: Record<string, string> = {};
  if (opts.domainname) sysctl['kernel.domainname'] = opts.domainname;
  if (opts.networkSysctls ?? network === 'private') {
    sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  Object.assign(sysctl, opts.sysctls ?? {});
  // Go's encoding/json writes map keys sorted; do the same so config.json matches byte for byte.
  const sortedSysctl = Object.fromEntries(Object.entries(sysctl).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

  // Privileged containers get neither, unless the caller overrides them explicitly (Docker
  // applies HostConfig.MaskedPaths/ReadonlyPaths after the privileged reset).
  const maskedPaths = [...(opts.maskedPaths ?? (privileged ? [] : DEFAULT_MASKED_PATHS))];
  const readonlyPaths = [...(opts.readonlyPaths ?? (privileged ? [] : DEFAULT_READONLY_PATHS))];

  const r = opts.resources ?? {};
  const pids = pidsResources(r);
  const spec: Spec = {
    ociVersion: OCI_RUNTIME_SPEC_VERSION,
    process: {
      ...(opts.terminal ? { terminal: true } : {}),
      ...(opts.terminal && opts.consoleSize ? { consoleSize: { ...opts.consoleSize } } : {}),
      user: { uid: user.uid, gid: user.gid, additionalGids: [...(user.additionalGids ?? [user.gid])] },
      args: [...opts.args],
      ...(opts.env && opts.env.length > 0 ? { env: [...opts.env] } : {}),
      cwd: opts.cwd || '/',
      // Docker sets only the bounding set for non-root users, to match what execve does.
      capabilities:
        user.uid === 0 ? { bounding: caps, effective: [...caps], permitted: [...caps] } : { bounding: caps },
      rlimits,
      ...(opts.noNewPrivileges ? { noNewPrivileges: true } : {}),
      oomScoreAdj: opts.oomScoreAdj ?? 0,
    },
    root: { path: opts.rootPath ?? 'rootfs', ...(readonlyRootfs ? { readonly: true } : {}) },
    ...(opts.hostname && opts.utsMode !== 'host' ? { hostname: opts.hostname } : {}),
    mounts,
    ...(opts.annotations ? { annotations: { ...opts.annotations } } : {}),
    linux: {
      ...(Object.keys(sortedSysctl).length > 0 ? { sysctl: sortedSysctl } : {}),
      resources: {
        devices: deviceRules,
        memory: memoryResources(r, opts.swapLimitSupported ?? true),
        cpu: cpuResources(r),
        ...(pids ? { pids } : {}),
        blockIO: blockIOResources(r),
      },
      ...(opts.cgroupsPath ? { cgroupsPath: opts.cgroupsPath } : {}),
      namespaces,
      ...(devices.length > 0 ? { devices } : {}),
      ...(maskedPaths.length > 0 ? { maskedPaths } : {}),
      ...(readonlyPaths.length > 0 ? { readonlyPaths } : {}),
    },
  };
  return spec;
}
