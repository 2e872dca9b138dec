import { arch, cpus, hostname, release, totalmem } from 'node:os';
import type { supervisorV1 } from '@drydock/proto';
import type { ContainerLocator } from '../backend/supervisor-client';
import { API_VERSION, MIN_API_VERSION, type Router } from '../http/router';

export interface SystemInfo {
  version: string;
  gitCommit: string;
  stateDir: string;
}

const goArch = (a: string) => (a === 'x64' ? 'amd64' : a === 'arm64' ? 'arm64' : a);

/** /_ping, /version, /info. */
export function registerSystemRoutes(router: Router, nodes: ContainerLocator, sys: SystemInfo): void {
  const pingHeaders = {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
  };
  router.on(['GET', 'HEAD'], '/_ping', (ctx) => {
    ctx.res.writeHead(200, { ...pingHeaders, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  });

  router.on('GET', '/version', async (ctx) => {
    const node = await nodeInfo(nodes);
    ctx.send(200, {
      Platform: { Name: 'Drydock' },
      Components: [
        { Name: 'Engine', Version: sys.version, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: sys.gitCommit, GoVersion: `node${process.versions.node}`, Os: 'linux', Arch: goArch(arch()), KernelVersion: release(), Experimental: 'false', BuildTime: '' } },
        { Name: 'containerd', Version: node.containerdVersion ?? '', Details: { GitCommit: '' } },
        { Name: 'runc', Version: '', Details: { GitCommit: '' } },
      ],
      Version: sys.version,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: sys.gitCommit,
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: goArch(arch()),
      KernelVersion: release(),
      BuildTime: '',
    });
  });

  router.on('GET', '/info', async (ctx) => {
    const node = await nodeInfo(nodes);
    ctx.send(200, {
      ID: node.nodeId ?? '',
      Containers: node.containers ?? 0,
      ContainersRunning: node.containersRunning ?? 0,
      ContainersPaused: node.containersPaused ?? 0,
      ContainersStopped: node.containersStopped ?? 0,
      Images: node.images ?? 0,
      Driver: 'overlayfs',
      DriverStatus: [],
      Plugins: { Volume: ['local'], Network: ['host', 'null'], Authorization: null, Log: ['drydock'] },
      MemoryLimit: true,
      SwapLimit: true,
      KernelMemory: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: true,
      BridgeNfIptables: false,
      BridgeNfIp6tables: false,
      Debug: false,
      NFd: 0,
      OomKillDisable: false,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'drydock',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: '1',
      NEventsListener: 0,
      KernelVersion: node.kernelVersion ?? release(),
      OperatingSystem: node.operatingSystem ?? 'Linux',
      OSVersion: '',
      OSType: 'linux',
      Architecture: arch() === 'x64' ? 'x86_64' : arch(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {}, Mirrors: [] },
      NCPU: node.cpus ?? cpus().length,
      MemTotal: Number(node.memoryBytes ?? totalmem()),
      GenericResources: null,
      DockerRootDir: sys.stateDir,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: node.name ?? hostname(),
      Labels: Object.entries(node.labels ?? {}).map(([k, v]) => `${k}=${v}`),
      ExperimentalBuild: false,
      ServerVersion: sys.version,
      Runtimes: { runc: { path: 'runc' } },
      DefaultRuntime: 'runc',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: ['name=cgroupns'],
      Warnings: [],
    });
  });
}

async function nodeInfo(nodes: ContainerLocator): Promise<supervisorV1.GetNodeInfoResponse> {
  const sc = nodes.local();
  return sc.call(sc.node, sc.node.getNodeInfo, {});
}
