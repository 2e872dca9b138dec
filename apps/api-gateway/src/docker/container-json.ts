import { dirname, join } from 'node:path';
import type { supervisorV1 } from '@drydock/proto';
import { rfc3339Nano, unixSeconds } from './time';
import { dockerStorageDriver } from './storage-driver';
import { networkSettingsJson, networksJson, portBindingsJson, summaryPortsJson } from './container-network-json';

/** dockerd's default /dev/shm size, shown in inspect when none was asked for. */
const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;

/** Paths dockerd masks / makes read-only in unprivileged containers (inspect shows them). */
const MASKED_PATHS = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const num = (s: string | undefined): number => Number(s ?? '0');
/** Docker prints empty lists of Cmd/Entrypoint as null. */
const listOrNull = (l: supervisorV1.StringList | undefined): string[] | null => (l?.values && l.values.length > 0 ? l.values : null);
/** Anonymous volumes carry dockerd-style 64-hex names (see parseCreateBody). */
const isAnonymousVolume = (m: supervisorV1.Mount) => m.type === 'volume' && /^[0-9a-f]{64}$/.test(m.source ?? '');
/** The container's own mounts: those copied by --volumes-from show in Mounts (the points) only. */
const ownMounts = (hc: supervisorV1.HostConfig) => (hc.mounts ?? []).filter((m) => !m.volumesFrom);

/** Docker's types.MountPoint (inspect and ps). */
export function dockerMountPoint(m: supervisorV1.MountPoint): Record<string, unknown> {
  const out: Record<string, unknown> = { Type: m.type ?? '' };
  if (m.name) out.Name = m.name;
  out.Source = m.source ?? '';
  out.Destination = m.destination ?? '';
  if (m.type === 'volume') out.Driver = m.driver || 'local';
  out.Mode = m.mode ?? '';
  out.RW = m.rw ?? false;
  out.Propagation = m.propagation ?? '';
  return out;
}

/** Docker's HostConfig with dockerd 20.10's defaults for everything this node does not model. */
export function dockerHostConfig(hc: supervisorV1.HostConfig): Record<string, unknown> {
  const memory = num(hc.memory);
  // dockerd stores the effective swap limit: unset (0) with a memory limit means twice the memory
  const memorySwap = memory > 0 && num(hc.memorySwap) === 0 ? 2 * memory : num(hc.memorySwap);
  const tmpfs = Object.fromEntries((hc.mounts ?? []).filter((m) => m.type === 'tmpfs').map((m) => [m.target ?? '', m.options ?? '']));
  const out: Record<string, unknown> = {
    Binds: hc.binds && hc.binds.length > 0 ? hc.binds : null,
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: hc.networkMode || 'default',
    PortBindings: portBindingsJson(hc.portBindings),
    RestartPolicy: { Name: hc.restartPolicy?.name || 'no', MaximumRetryCount: hc.restartPolicy?.maximumRetryCount ?? 0 },
    AutoRemove: hc.autoRemove ?? false,
    VolumeDriver: hc.volumeDriver ?? '',
    VolumesFrom: hc.volumesFrom && hc.volumesFrom.length > 0 ? hc.volumesFrom : null,
    CapAdd: hc.capAdd && hc.capAdd.length > 0 ? hc.capAdd : null,
    CapDrop: hc.capDrop && hc.capDrop.length > 0 ? hc.capDrop : null,
    CgroupnsMode: 'host',
    Dns: hc.dns ?? [],
    DnsOptions: hc.dnsOptions ?? [],
    DnsSearch: hc.dnsSearch ?? [],
    ExtraHosts: hc.extraHosts && hc.extraHosts.length > 0 ? hc.extraHosts : null,
    GroupAdd: null,
    IpcMode: 'private',
    Cgroup: '',
    Links: hc.links && hc.links.length > 0 ? hc.links : null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: hc.privileged ?? false,
    PublishAllPorts: hc.publishAllPorts ?? false,
    ReadonlyRootfs: hc.readonlyRootfs ?? false,
    SecurityOpt: null,
  };
  if (Object.keys(tmpfs).length > 0) out.Tmpfs = tmpfs;
  Object.assign(out, {
    UTSMode: '',
    UsernsMode: '',
    ShmSize: num(hc.shmSize) || DEFAULT_SHM_BYTES,
    Runtime: 'runc',
    ConsoleSize: [0, 0],
    Isolation: '',
    CpuShares: num(hc.cpuShares),
    Memory: memory,
    NanoCpus: num(hc.nanoCpus),
    CgroupParent: '',
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: null,
    BlkioDeviceWriteBps: null,
    BlkioDeviceReadIOps: null,
    BlkioDeviceWriteIOps: null,
    CpuPeriod: num(hc.cpuPeriod),
    CpuQuota: num(hc.cpuQuota),
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: '',
    CpusetMems: '',
    Devices: [],
    DeviceCgroupRules: null,
    DeviceRequests: null,
    KernelMemory: 0,
    KernelMemoryTCP: 0,
    MemoryReservation: 0,
    MemorySwap: memorySwap,
    MemorySwappiness: null,
    OomKillDisable: false,
    PidsLimit: num(hc.pidsLimit) > 0 ? num(hc.pidsLimit) : null,
    Ulimits: null,
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
  });
  // HostConfig.Mounts as given (`--mount`): -v binds, anonymous volumes and tmpfs (shown as Tmpfs
  // above; the proto does not say which flag made them) are not echoed here
  const mounts = ownMounts(hc).filter((m) => !(hc.binds ?? []).some((b) => b.split(':')[1] === m.target) && !(m.type === 'tmpfs') && !isAnonymousVolume(m));
  if (mounts.length > 0) {
    out.Mounts = mounts.map((m) => ({
      Type: m.type,
      Source: m.source,
      Target: m.target,
      ...(m.readOnly ? { ReadOnly: true } : {}),
      ...(m.type === 'volume' && (m.driver || Object.keys(m.driverOpts ?? {}).length > 0) ? { VolumeOptions: { DriverConfig: { Name: m.driver ?? '', Options: m.driverOpts ?? {} } } } : {}),
    }));
  }
  out.MaskedPaths = hc.privileged ? null : MASKED_PATHS;
  out.ReadonlyPaths = hc.privileged ? null : READONLY_PATHS;
  return out;
}

/** Docker's container Config (inspect). */
export function dockerConfig(c: supervisorV1.ContainerConfig, mounts: supervisorV1.Mount[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Hostname: c.hostname ?? '',
    Domainname: c.domainname ?? '',
    User: c.user ?? '',
    AttachStdin: c.attachStdin ?? false,
    AttachStdout: c.attachStdout ?? false,
    AttachStderr: c.attachStderr ?? false,
  };
  if (c.exposedPorts && c.exposedPorts.length > 0) out.ExposedPorts = Object.fromEntries(c.exposedPorts.map((p) => [p, {}]));
  const volumes = mounts.filter(isAnonymousVolume);
  Object.assign(out, {
    Tty: c.tty ?? false,
    OpenStdin: c.openStdin ?? false,
    StdinOnce: c.stdinOnce ?? false,
    Env: c.env && c.env.length > 0 ? c.env : null,
    Cmd: listOrNull(c.cmd),
    Image: c.image ?? '',
    Volumes: volumes.length > 0 ? Object.fromEntries(volumes.map((m) => [m.target ?? '', {}])) : null,
    WorkingDir: c.workingDir ?? '',
    Entrypoint: listOrNull(c.entrypoint),
  });
  if (c.macAddress) out.MacAddress = c.macAddress;
  Object.assign(out, { OnBuild: null, Labels: c.labels ?? {} });
  if (c.stopSignal) out.StopSignal = c.stopSignal;
  if (c.stopTimeout !== undefined && c.stopTimeout !== null) out.StopTimeout = c.stopTimeout;
  return out;
}

/** ContainerInfo -> dockerd 20.10's ContainerJSON (GET /containers/{id}/json), in dockerd's field order. */
export function containerJson(c: supervisorV1.ContainerInfo): Record<string, unknown> {
  const s = c.state ?? {};
  const hc = c.hostConfig ?? {};
  const dir = c.logPath ? dirname(c.logPath) : '';
  // a joined network namespace uses the target's files (dockerd's initializeNetworkingPaths)
  const joined = /^container:([0-9a-f]{64})$/.exec(hc.networkMode ?? '');
  const filesDir = dir && joined ? join(dirname(dir), joined[1]) : dir;
  return {
    Id: c.id ?? '',
    Created: rfc3339Nano(c.created),
    Path: c.path ?? '',
    Args: c.args ?? [],
    State: {
      Status: s.status ?? 'created',
      Running: s.running ?? false,
      Paused: s.paused ?? false,
      Restarting: s.restarting ?? false,
      OOMKilled: s.oomKilled ?? false,
      Dead: s.dead ?? false,
      Pid: s.pid ?? 0,
      ExitCode: s.exitCode ?? 0,
      Error: s.error ?? '',
      StartedAt: rfc3339Nano(s.startedAt),
      FinishedAt: rfc3339Nano(s.finishedAt),
    },
    Image: c.imageId ?? '',
    ResolvConfPath: filesDir ? join(filesDir, 'resolv.conf') : '',
    HostnamePath: filesDir ? join(filesDir, 'hostname') : '',
    HostsPath: filesDir ? join(filesDir, 'hosts') : '',
    LogPath: c.logPath ?? '',
    Name: `/${c.name ?? ''}`,
    RestartCount: c.restartCount ?? 0,
    Driver: dockerStorageDriver(c.driver),
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: dockerHostConfig(hc),
    GraphDriver: { Data: null, Name: dockerStorageDriver(c.driver) },
    Mounts: (c.mounts ?? []).map(dockerMountPoint),
    Config: dockerConfig(c.config ?? {}, ownMounts(hc)),
    NetworkSettings: networkSettingsJson(c.networkSettings, hc.networkMode ?? ''),
  };
}

/** Sizes for `ps --size`: SizeRw of the container, SizeRootFs = image + SizeRw. */
export interface SummarySizes {
  sizeRw: number;
  sizeRootFs: number;
}

/** ContainerSummary -> one element of GET /containers/json. */
export function containerSummaryJson(c: supervisorV1.ContainerSummary, sizes?: SummarySizes): Record<string, unknown> {
  const networkMode = c.networkMode || 'default';
  const out: Record<string, unknown> = {
    Id: c.id ?? '',
    Names: [`/${c.name ?? ''}`],
    Image: c.image ?? '',
    ImageID: c.imageId ?? '',
    Command: c.command ?? '',
    Created: unixSeconds(c.created),
    Ports: summaryPortsJson(c.networkSettings),
  };
  if (sizes) {
    out.SizeRw = sizes.sizeRw;
    out.SizeRootFs = sizes.sizeRootFs;
  }
  Object.assign(out, {
    Labels: c.labels ?? {},
    State: c.state ?? '',
    Status: c.status ?? '',
    HostConfig: { NetworkMode: networkMode },
    NetworkSettings: { Networks: networksJson(c.networkSettings, networkMode, true) },
    Mounts: (c.mounts ?? []).map(dockerMountPoint),
  });
  return out;
}
