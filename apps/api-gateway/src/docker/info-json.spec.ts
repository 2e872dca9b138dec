import { DEFAULT_REGISTRY_CONFIG, infoJson, versionComponents } from './info-json';
import { dockerStorageDriver } from './storage-driver';

/** A node as Debian 12's containerd 1.6.20 and runc 1.1.5 on cgroup v1 report it. */
const node = {
  nodeId: 'n1',
  name: 'vm',
  labels: { zone: 'a' },
  cpus: 2,
  memoryBytes: '25275973632',
  containers: 3,
  containersRunning: 1,
  containersPaused: 0,
  containersStopped: 2,
  images: 4,
  containerdVersion: '1.6.20~ds1',
  containerdRevision: '1.6.20~ds1-1+deb12u3',
  runcVersion: '1.1.5+ds1',
  runcCommit: '1.1.5+ds1-1+deb12u1',
  kernelVersion: '6.18.44-fc-v1098',
  operatingSystem: 'Debian GNU/Linux 12 (bookworm)',
  osVersion: '12',
  cgroupVersion: '1',
  cgroupDriver: 'cgroupfs',
  rootDir: '/var/lib/drydock',
  snapshotter: 'overlayfs',
  driverStatus: [
    { key: 'Backing Filesystem', value: 'extfs' },
    { key: 'Supports d_type', value: 'true' },
  ],
  capabilities: { memoryLimit: true, swapLimit: true, cpuCfsPeriod: true, cpuCfsQuota: true, cpuShares: true, cpuset: true, pidsLimit: true, ipv4Forwarding: true, bridgeNfIptables: true, bridgeNfIp6tables: true },
};

describe('infoJson', () => {
  const info = infoJson(node, DEFAULT_REGISTRY_CONFIG, { version: '0.1.0', gitCommit: '', arch: 'x64' }, new Date('2026-01-02T03:04:05Z'));

  it("has dockerd 20.10's fields, in its order", () => {
    // `curl --unix-socket ... /v1.41/info` against Debian's dockerd 20.10.24
    expect(Object.keys(info)).toEqual([
      'ID', 'Containers', 'ContainersRunning', 'ContainersPaused', 'ContainersStopped', 'Images', 'Driver', 'DriverStatus', 'Plugins', 'MemoryLimit', 'SwapLimit', 'KernelMemory',
      'KernelMemoryTCP', 'CpuCfsPeriod', 'CpuCfsQuota', 'CPUShares', 'CPUSet', 'PidsLimit', 'IPv4Forwarding', 'BridgeNfIptables', 'BridgeNfIp6tables', 'Debug', 'NFd',
      'OomKillDisable', 'NGoroutines', 'SystemTime', 'LoggingDriver', 'CgroupDriver', 'CgroupVersion', 'NEventsListener', 'KernelVersion', 'OperatingSystem', 'OSVersion',
      'OSType', 'Architecture', 'IndexServerAddress', 'RegistryConfig', 'NCPU', 'MemTotal', 'GenericResources', 'DockerRootDir', 'HttpProxy', 'HttpsProxy', 'NoProxy', 'Name',
      'Labels', 'ExperimentalBuild', 'ServerVersion', 'Runtimes', 'DefaultRuntime', 'Swarm', 'LiveRestoreEnabled', 'Isolation', 'InitBinary', 'ContainerdCommit', 'RuncCommit',
      'InitCommit', 'SecurityOptions', 'Warnings',
    ]);
  });

  it('carries what the node knows, as dockerd shows it on the same host', () => {
    expect(info).toMatchObject({
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true']],
      CgroupDriver: 'cgroupfs',
      CgroupVersion: '1',
      KernelVersion: '6.18.44-fc-v1098',
      OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
      OSVersion: '12',
      Architecture: 'x86_64',
      NCPU: 2,
      MemTotal: 25275973632,
      DockerRootDir: '/var/lib/drydock',
      Name: 'vm',
      Labels: ['zone=a'],
      ContainerdCommit: { ID: '1.6.20~ds1-1+deb12u3', Expected: '1.6.20~ds1-1+deb12u3' },
      RuncCommit: { ID: '1.1.5+ds1-1+deb12u1', Expected: '1.1.5+ds1-1+deb12u1' },
      MemoryLimit: true,
      SwapLimit: true,
      BridgeNfIptables: true,
      SystemTime: '2026-01-02T03:04:05.000Z',
      RegistryConfig: { InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true } }, Mirrors: [] },
      Warnings: null,
    });
  });

  it('/version names containerd and runc with their commits', () => {
    expect(versionComponents(node)).toEqual([
      { Name: 'containerd', Version: '1.6.20~ds1', Details: { GitCommit: '1.6.20~ds1-1+deb12u3' } },
      { Name: 'runc', Version: '1.1.5+ds1', Details: { GitCommit: '1.1.5+ds1-1+deb12u1' } },
    ]);
  });

  it("names containerd's overlayfs snapshotter as dockerd names the driver", () => {
    expect(dockerStorageDriver('overlayfs')).toBe('overlay2');
    expect(dockerStorageDriver('')).toBe('overlay2');
    expect(dockerStorageDriver('btrfs')).toBe('btrfs');
  });
});
