import type { supervisorV1 } from '@drydock/proto';
import type { RegistryServiceConfig } from '../registry/registry-proxy-client';
import { dockerStorageDriver } from './storage-driver';

/** What the gateway itself knows for /info and /version. */
export interface EngineFacts {
  version: string;
  gitCommit: string;
  /** Node's os.arch() ("x64"). */
  arch: string;
  /** Warnings to add (a part that could not be asked). */
  warnings?: string[];
  /** Volume drivers found on the node ("local" and the volume plugins). */
  volumeDrivers?: string[];
}

/** dockerd's defaults when the registry-proxy cannot be asked: loopback insecure, Docker Hub secure. */
export const DEFAULT_REGISTRY_CONFIG: RegistryServiceConfig = {
  AllowNondistributableArtifactsCIDRs: [],
  AllowNondistributableArtifactsHostnames: [],
  InsecureRegistryCIDRs: ['127.0.0.0/8'],
  IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true } },
  Mirrors: [],
};

export const goArch = (a: string) => (a === 'x64' ? 'amd64' : a);
const unameMachine = (a: string) => (a === 'x64' ? 'x86_64' : a === 'arm64' ? 'aarch64' : a);

/**
 * types.Info of API 1.41 in dockerd 20.10's field order, from the node's facts and the
 * registry-proxy's registry configuration. Fields with no Drydock counterpart (Swarm,
 * plugins, goroutines) carry what a dockerd without them reports.
 */
export function infoJson(node: supervisorV1.GetNodeInfoResponse, registry: RegistryServiceConfig, engine: EngineFacts, now: Date): Record<string, unknown> {
  const caps = node.capabilities ?? {};
  return {
    ID: node.nodeId ?? '',
    Containers: node.containers ?? 0,
    ContainersRunning: node.containersRunning ?? 0,
    ContainersPaused: node.containersPaused ?? 0,
    ContainersStopped: node.containersStopped ?? 0,
    Images: node.images ?? 0,
    Driver: dockerStorageDriver(node.snapshotter),
    DriverStatus: (node.driverStatus ?? []).map((e) => [e.key ?? '', e.value ?? '']),
    // only what this node runs: local volumes, bridge/host/none networking, its json-file-compatible log writer
    Plugins: { Volume: engine.volumeDrivers && engine.volumeDrivers.length > 0 ? engine.volumeDrivers : ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: !!caps.memoryLimit,
    SwapLimit: !!caps.swapLimit,
    // kernel memory limits and --oom-kill-disable are not applied by this node, whatever the kernel has
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: !!caps.cpuCfsPeriod,
    CpuCfsQuota: !!caps.cpuCfsQuota,
    CPUShares: !!caps.cpuShares,
    CPUSet: !!caps.cpuset,
    PidsLimit: !!caps.pidsLimit,
    IPv4Forwarding: !!caps.ipv4Forwarding,
    BridgeNfIptables: !!caps.bridgeNfIptables,
    BridgeNfIp6tables: !!caps.bridgeNfIp6tables,
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: now.toISOString(),
    // container inspect says json-file: `docker logs` reads it the same way
    LoggingDriver: 'json-file',
    CgroupDriver: node.cgroupDriver || 'cgroupfs',
    CgroupVersion: node.cgroupVersion || '1',
    NEventsListener: 0,
    KernelVersion: node.kernelVersion ?? '',
    OperatingSystem: node.operatingSystem || 'Linux',
    OSVersion: node.osVersion ?? '',
    OSType: 'linux',
    Architecture: unameMachine(engine.arch),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: registry,
    NCPU: node.cpus ?? 0,
    MemTotal: Number(node.memoryBytes ?? 0),
    GenericResources: null,
    DockerRootDir: node.rootDir ?? '',
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: node.name ?? '',
    Labels: Object.entries(node.labels ?? {}).map(([k, v]) => `${k}=${v}`),
    ExperimentalBuild: false,
    ServerVersion: engine.version,
    // containers run with containerd's runc v2 shim and runc; --runtime chooses nothing else here
    Runtimes: { runc: { path: 'runc' } },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    // containers keep running while any Drydock service is down or restarting
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: '',
    // dockerd shows the revisions as the commits and expects what it finds
    ContainerdCommit: { ID: node.containerdRevision ?? '', Expected: node.containerdRevision ?? '' },
    RuncCommit: { ID: node.runcCommit ?? '', Expected: node.runcCommit ?? '' },
    InitCommit: { ID: '', Expected: '' },
    SecurityOptions: ['name=cgroupns'],
    Warnings: engine.warnings && engine.warnings.length > 0 ? engine.warnings : null,
  };
}

/** The Components of /version that come from the node. */
export function versionComponents(node: supervisorV1.GetNodeInfoResponse): Record<string, unknown>[] {
  return [
    { Name: 'containerd', Version: node.containerdVersion ?? '', Details: { GitCommit: node.containerdRevision ?? '' } },
    { Name: 'runc', Version: node.runcVersion ?? '', Details: { GitCommit: node.runcCommit ?? '' } },
  ];
}
