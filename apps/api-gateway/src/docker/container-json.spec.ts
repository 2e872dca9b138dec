import type { supervisorV1 } from '@drydock/proto';
import { containerJson, containerSummaryJson } from './container-json';
import { endpointSettingsJson } from './container-network-json';

const id = 'a'.repeat(64);
const info: supervisorV1.ContainerInfo = {
  id,
  name: 'web',
  created: { seconds: '1704067200', nanos: 500 },
  path: 'sh',
  args: ['-c', 'sleep 1'],
  state: { status: 'exited', running: false, paused: false, restarting: false, oomKilled: false, dead: false, pid: 0, exitCode: 3, error: '', startedAt: { seconds: '1704067201', nanos: 0 }, finishedAt: undefined },
  imageId: 'sha256:' + 'b'.repeat(64),
  config: {
    image: 'busybox',
    cmd: { values: ['sh', '-c', 'sleep 1'] },
    entrypoint: { values: [] },
    env: ['PATH=/bin'],
    workingDir: '',
    user: '',
    hostname: 'aaaaaaaaaaaa',
    domainname: '',
    labels: { a: 'b' },
    tty: false,
    openStdin: false,
    stdinOnce: false,
    attachStdin: false,
    attachStdout: true,
    attachStderr: true,
    stopSignal: '',
    exposedPorts: [],
  },
  hostConfig: {
    mounts: [
      { type: 'bind', source: '/srv', target: '/data', readOnly: true, options: '' },
      { type: 'tmpfs', source: '', target: '/run', readOnly: false, options: 'size=1m' },
    ],
    binds: ['/srv:/data:ro'],
    readonlyRootfs: false,
    memory: '67108864',
    memorySwap: '0',
    nanoCpus: '0',
    cpuShares: '0',
    cpuPeriod: '0',
    cpuQuota: '0',
    restartPolicy: { name: '', maximumRetryCount: 0 },
    autoRemove: false,
    networkMode: 'default',
    privileged: false,
    capAdd: [],
    capDrop: [],
    init: false,
    pidsLimit: '0',
    shmSize: '0',
  },
  mounts: [
    { type: 'bind', name: '', source: '/srv', destination: '/data', mode: 'ro', rw: false, propagation: 'rprivate' },
    { type: 'volume', name: 'v', source: '/var/lib/drydock/volumes/v/_data', destination: '/v', mode: 'z', rw: true, propagation: '' },
  ],
  restartCount: 0,
  logPath: `/var/lib/drydock/containers/${id}/container.log`,
  nodeId: 'n1',
  driver: 'overlayfs',
};

describe('containerJson', () => {
  it("a joined network namespace shows the target's hostname, hosts and resolv.conf paths", () => {
    const target = 'c'.repeat(64);
    const j = containerJson({ ...info, hostConfig: { ...info.hostConfig, networkMode: `container:${target}` } });
    const dir = `/var/lib/drydock/containers/${target}`;
    expect(j).toMatchObject({ ResolvConfPath: `${dir}/resolv.conf`, HostnamePath: `${dir}/hostname`, HostsPath: `${dir}/hosts`, LogPath: `/var/lib/drydock/containers/${id}/container.log` });
  });

  it('has dockerd 20.10 ContainerJSON shape', () => {
    const dir = `/var/lib/drydock/containers/${id}`;
    expect(containerJson(info)).toEqual({
      Id: id,
      Created: '2024-01-01T00:00:00.0000005Z',
      Path: 'sh',
      Args: ['-c', 'sleep 1'],
      State: { Status: 'exited', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 3, Error: '', StartedAt: '2024-01-01T00:00:01Z', FinishedAt: '0001-01-01T00:00:00Z' },
      Image: 'sha256:' + 'b'.repeat(64),
      ResolvConfPath: `${dir}/resolv.conf`,
      HostnamePath: `${dir}/hostname`,
      HostsPath: `${dir}/hosts`,
      LogPath: `${dir}/container.log`,
      Name: '/web',
      RestartCount: 0,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: null,
      HostConfig: {
        Binds: ['/srv:/data:ro'],
        ContainerIDFile: '',
        LogConfig: { Type: 'json-file', Config: {} },
        NetworkMode: 'default',
        PortBindings: {},
        RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
        AutoRemove: false,
        VolumeDriver: '',
        VolumesFrom: null,
        CapAdd: null,
        CapDrop: null,
        CgroupnsMode: 'host',
        Dns: [],
        DnsOptions: [],
        DnsSearch: [],
        ExtraHosts: null,
        GroupAdd: null,
        IpcMode: 'private',
        Cgroup: '',
        Links: null,
        OomScoreAdj: 0,
        PidMode: '',
        Privileged: false,
        PublishAllPorts: false,
        ReadonlyRootfs: false,
        SecurityOpt: null,
        Tmpfs: { '/run': 'size=1m' },
        UTSMode: '',
        UsernsMode: '',
        ShmSize: 67108864,
        Runtime: 'runc',
        ConsoleSize: [0, 0],
        Isolation: '',
        CpuShares: 0,
        Memory: 67108864,
        NanoCpus: 0,
        CgroupParent: '',
        BlkioWeight: 0,
        BlkioWeightDevice: [],
        BlkioDeviceReadBps: null,
        BlkioDeviceWriteBps: null,
        BlkioDeviceReadIOps: null,
        BlkioDeviceWriteIOps: null,
        CpuPeriod: 0,
        CpuQuota: 0,
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
        MemorySwap: 134217728,
        MemorySwappiness: null,
        OomKillDisable: false,
        PidsLimit: null,
        Ulimits: null,
        CpuCount: 0,
        CpuPercent: 0,
        IOMaximumIOps: 0,
        IOMaximumBandwidth: 0,
        MaskedPaths: ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
        ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      },
      GraphDriver: { Data: null, Name: 'overlay2' },
      Mounts: [
        { Type: 'bind', Source: '/srv', Destination: '/data', Mode: 'ro', RW: false, Propagation: 'rprivate' },
        { Type: 'volume', Name: 'v', Source: '/var/lib/drydock/volumes/v/_data', Destination: '/v', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
      ],
      Config: {
        Hostname: 'aaaaaaaaaaaa',
        Domainname: '',
        User: '',
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        OpenStdin: false,
        StdinOnce: false,
        Env: ['PATH=/bin'],
        Cmd: ['sh', '-c', 'sleep 1'],
        Image: 'busybox',
        Volumes: null,
        WorkingDir: '',
        Entrypoint: null,
        OnBuild: null,
        Labels: { a: 'b' },
      },
      NetworkSettings: {
        Bridge: '',
        SandboxID: '',
        HairpinMode: false,
        LinkLocalIPv6Address: '',
        LinkLocalIPv6PrefixLen: 0,
        Ports: {},
        SandboxKey: '',
        SecondaryIPAddresses: null,
        SecondaryIPv6Addresses: null,
        EndpointID: '',
        Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        IPAddress: '',
        IPPrefixLen: 0,
        IPv6Gateway: '',
        MacAddress: '',
        Networks: {
          bridge: { IPAMConfig: null, Links: null, Aliases: null, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null },
        },
      },
    });
  });

  it('shows host networking, stop settings, --mount entries and anonymous volumes', () => {
    const anon = 'c'.repeat(64);
    const j = containerJson({
      ...info,
      config: { ...info.config, stopSignal: 'SIGINT', stopTimeout: 5, exposedPorts: ['80/tcp'] },
      hostConfig: {
        ...info.hostConfig,
        binds: [],
        networkMode: 'host',
        privileged: true,
        pidsLimit: '20',
        mounts: [
          { type: 'bind', source: '/x', target: '/y', readOnly: true },
          { type: 'volume', source: anon, target: '/data' },
        ],
      },
    });
    const hc = j.HostConfig as Record<string, unknown>;
    const cfg = j.Config as Record<string, unknown>;
    expect(hc.Binds).toBeNull();
    expect(hc.Tmpfs).toBeUndefined();
    expect(hc.Mounts).toEqual([{ Type: 'bind', Source: '/x', Target: '/y', ReadOnly: true }]);
    expect(hc.MaskedPaths).toBeNull();
    expect(hc.PidsLimit).toBe(20);
    expect(cfg.StopSignal).toBe('SIGINT');
    expect(cfg.StopTimeout).toBe(5);
    expect(cfg.ExposedPorts).toEqual({ '80/tcp': {} });
    expect(cfg.Volumes).toEqual({ '/data': {} });
    expect(Object.keys((j.NetworkSettings as { Networks: object }).Networks)).toEqual(['host']);
  });

  it('echoes VolumesFrom as given and keeps the copied mounts out of HostConfig.Mounts and Config.Volumes', () => {
    const src = 'd'.repeat(64);
    const j = containerJson({
      ...info,
      hostConfig: {
        ...info.hostConfig,
        binds: [],
        volumesFrom: ['store:ro'],
        mounts: [
          { type: 'volume', source: 'e'.repeat(64), target: '/anon', readOnly: true, volumesFrom: src },
          { type: 'bind', source: '/x', target: '/y', readOnly: true, volumesFrom: src },
          { type: 'volume', source: 'named', target: '/own' },
        ],
      },
      mounts: [{ type: 'volume', name: 'e'.repeat(64), source: '/v/_data', destination: '/anon', driver: 'local', mode: '', rw: false, propagation: '' }],
    });
    const hc = j.HostConfig as Record<string, unknown>;
    expect(hc.VolumesFrom).toEqual(['store:ro']);
    expect(hc.Mounts).toEqual([{ Type: 'volume', Source: 'named', Target: '/own' }]);
    expect((j.Config as Record<string, unknown>).Volumes).toBeNull();
    expect(j.Mounts).toEqual([{ Type: 'volume', Name: 'e'.repeat(64), Source: '/v/_data', Destination: '/anon', Driver: 'local', Mode: '', RW: false, Propagation: '' }]);
  });
});

describe('containerSummaryJson', () => {
  const row: supervisorV1.ContainerSummary = {
    id,
    name: 'web',
    image: 'busybox',
    imageId: 'sha256:' + 'b'.repeat(64),
    command: 'sh -c sleep 1',
    created: { seconds: '1704067200', nanos: 999 },
    state: 'exited',
    status: 'Exited (3) 2 minutes ago',
    labels: { a: 'b' },
    mounts: [{ type: 'bind', name: '', source: '/srv', destination: '/data', mode: '', rw: true, propagation: 'rprivate' }],
    exitCode: 3,
  };
  it('has Docker ps shape', () => {
    expect(containerSummaryJson(row)).toEqual({
      Id: id,
      Names: ['/web'],
      Image: 'busybox',
      ImageID: 'sha256:' + 'b'.repeat(64),
      Command: 'sh -c sleep 1',
      Created: 1704067200,
      Ports: [],
      Labels: { a: 'b' },
      State: 'exited',
      Status: 'Exited (3) 2 minutes ago',
      HostConfig: { NetworkMode: 'default' },
      NetworkSettings: { Networks: { bridge: endpointSettingsJson() } },
      Mounts: [{ Type: 'bind', Source: '/srv', Destination: '/data', Mode: '', RW: true, Propagation: 'rprivate' }],
    });
  });
  it('adds sizes only when asked', () => {
    expect(containerSummaryJson(row, { sizeRw: 10, sizeRootFs: 110 })).toMatchObject({ SizeRw: 10, SizeRootFs: 110 });
    expect(containerSummaryJson(row)).not.toHaveProperty('SizeRw');
  });
});
