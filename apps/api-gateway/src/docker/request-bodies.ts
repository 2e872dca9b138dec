import {
  goArray,
  goBool,
  goInt,
  goMap,
  goSlice,
  goStrSlice,
  goString,
  goStruct,
  type Infer,
  type JsonBody,
} from '../http/go-json';

/**
 * Every JSON body the gateway reads, as the Go struct dockerd 20.10 decodes it into
 * (moby v20.10.24 api/types), so a wrong type is refused with dockerd's words before
 * anything is used. Fields Drydock ignores are listed too: dockerd type-checks them,
 * and a client that sends `"Dns": "1.1.1.1"` must hear the same 400 here.
 */

const str = goString();
const bool = goBool();
const int = goInt('int');
const int64 = goInt('int64');
const uint16 = goInt('uint16');
const uint64 = goInt('uint64');
const strList = goSlice(str);
const strMap = goMap(str);
const emptyStruct = goStruct('', 'struct {}', {});

// ---------------------------------------------------------------- container create / update

const restartPolicy = goStruct('RestartPolicy', 'container.RestartPolicy', { Name: str, MaximumRetryCount: int });

const weightDevice = goStruct('WeightDevice', 'blkiodev.WeightDevice', { Path: str, Weight: uint16 });
const throttleDevice = goStruct('ThrottleDevice', 'blkiodev.ThrottleDevice', { Path: str, Rate: uint64 });
const throttleDevices = goSlice(throttleDevice, '[]*blkiodev.ThrottleDevice');

/** container.Resources, embedded in HostConfig and UpdateConfig. */
const resources = {
  CpuShares: int64,
  Memory: int64,
  NanoCpus: int64,
  CgroupParent: str,
  BlkioWeight: uint16,
  BlkioWeightDevice: goSlice(weightDevice, '[]*blkiodev.WeightDevice'),
  BlkioDeviceReadBps: throttleDevices,
  BlkioDeviceWriteBps: throttleDevices,
  BlkioDeviceReadIOps: throttleDevices,
  BlkioDeviceWriteIOps: throttleDevices,
  CpuPeriod: int64,
  CpuQuota: int64,
  CpuRealtimePeriod: int64,
  CpuRealtimeRuntime: int64,
  CpusetCpus: str,
  CpusetMems: str,
  Devices: goSlice(goStruct('DeviceMapping', 'container.DeviceMapping', { PathOnHost: str, PathInContainer: str, CgroupPermissions: str })),
  DeviceCgroupRules: strList,
  DeviceRequests: goSlice(
    goStruct('DeviceRequest', 'container.DeviceRequest', { Driver: str, Count: int, DeviceIDs: strList, Capabilities: goSlice(strList), Options: strMap }),
  ),
  KernelMemory: int64,
  KernelMemoryTCP: int64,
  MemoryReservation: int64,
  MemorySwap: int64,
  MemorySwappiness: int64,
  OomKillDisable: bool,
  PidsLimit: int64,
  Ulimits: goSlice(goStruct('Ulimit', 'units.Ulimit', { Name: str, Hard: int64, Soft: int64 }), '[]*units.Ulimit'),
  CpuCount: int64,
  CpuPercent: int64,
  IOMaximumIOps: uint64,
  IOMaximumBandwidth: uint64,
};

export const mountType = goStruct('Mount', 'mount.Mount', {
  Type: goString('mount.Type'),
  Source: str,
  Target: str,
  ReadOnly: bool,
  Consistency: goString('mount.Consistency'),
  BindOptions: goStruct('BindOptions', 'mount.BindOptions', { Propagation: goString('mount.Propagation'), NonRecursive: bool }),
  VolumeOptions: goStruct('VolumeOptions', 'mount.VolumeOptions', {
    NoCopy: bool,
    Labels: strMap,
    DriverConfig: goStruct('Driver', 'mount.Driver', { Name: str, Options: strMap }),
  }),
  TmpfsOptions: goStruct('TmpfsOptions', 'mount.TmpfsOptions', { SizeBytes: int64, Mode: goInt('fs.FileMode') }),
});
export type MountBody = Infer<typeof mountType>;

const portBinding = goStruct('PortBinding', 'nat.PortBinding', { HostIp: str, HostPort: str });

/** container.HostConfig's own fields (Resources added below). */
const hostConfigFields = {
  Binds: strList,
  ContainerIDFile: str,
  LogConfig: goStruct('LogConfig', 'container.LogConfig', { Type: str, Config: strMap }),
  NetworkMode: goString('container.NetworkMode'),
  PortBindings: goMap(goSlice(portBinding), 'nat.PortMap'),
  RestartPolicy: restartPolicy,
  AutoRemove: bool,
  VolumeDriver: str,
  VolumesFrom: strList,
  CapAdd: goStrSlice(),
  CapDrop: goStrSlice(),
  CgroupnsMode: goString('container.CgroupnsMode'),
  Dns: strList,
  DnsOptions: strList,
  DnsSearch: strList,
  ExtraHosts: strList,
  GroupAdd: strList,
  IpcMode: goString('container.IpcMode'),
  Cgroup: goString('container.CgroupSpec'),
  Links: strList,
  OomScoreAdj: int,
  PidMode: goString('container.PidMode'),
  Privileged: bool,
  PublishAllPorts: bool,
  ReadonlyRootfs: bool,
  SecurityOpt: strList,
  StorageOpt: strMap,
  Tmpfs: strMap,
  UTSMode: goString('container.UTSMode'),
  UsernsMode: goString('container.UsernsMode'),
  ShmSize: int64,
  Sysctls: strMap,
  Runtime: str,
  ConsoleSize: goArray(goInt('uint'), 2),
  Isolation: goString('container.Isolation'),
  ...resources,
  Mounts: goSlice(mountType),
  MaskedPaths: strList,
  ReadonlyPaths: strList,
  Init: bool,
};

export const hostConfigType = goStruct('HostConfig', 'container.HostConfig', hostConfigFields);
export type HostConfigBody = Infer<typeof hostConfigType>;

/** container.Config, embedded in the create body. */
const configFields = {
  Hostname: str,
  Domainname: str,
  User: str,
  AttachStdin: bool,
  AttachStdout: bool,
  AttachStderr: bool,
  ExposedPorts: goMap(emptyStruct, 'nat.PortSet'),
  Tty: bool,
  OpenStdin: bool,
  StdinOnce: bool,
  Env: strList,
  Cmd: goStrSlice(),
  Healthcheck: goStruct('HealthConfig', 'container.HealthConfig', {
    Test: strList,
    Interval: goInt('time.Duration'),
    Timeout: goInt('time.Duration'),
    StartPeriod: goInt('time.Duration'),
    Retries: int,
  }),
  ArgsEscaped: bool,
  Image: str,
  Volumes: goMap(emptyStruct),
  WorkingDir: str,
  Entrypoint: goStrSlice(),
  NetworkDisabled: bool,
  MacAddress: str,
  OnBuild: strList,
  Labels: strMap,
  StopSignal: str,
  StopTimeout: int,
  Shell: goStrSlice(),
};

const endpointSettings = goStruct('EndpointSettings', 'network.EndpointSettings', {
  IPAMConfig: goStruct('EndpointIPAMConfig', 'network.EndpointIPAMConfig', { IPv4Address: str, IPv6Address: str, LinkLocalIPs: strList }),
  Links: strList,
  Aliases: strList,
  NetworkID: str,
  EndpointID: str,
  Gateway: str,
  IPAddress: str,
  IPPrefixLen: int,
  IPv6Gateway: str,
  GlobalIPv6Address: str,
  GlobalIPv6PrefixLen: int,
  MacAddress: str,
  DriverOpts: strMap,
});

/**
 * runconfig.ContainerConfigWrapper: Config embedded, HostConfig as a field, and (for
 * pre-1.20 clients) a second HostConfig embedded, whose fields are type-checked at the
 * top level too.
 */
export const containerCreateType = goStruct('ContainerConfigWrapper', 'runconfig.ContainerConfigWrapper', {
  ...hostConfigFields,
  ...configFields,
  HostConfig: hostConfigType,
  Cpuset: str,
  NetworkingConfig: goStruct('NetworkingConfig', 'network.NetworkingConfig', {
    EndpointsConfig: goMap(endpointSettings, 'map[string]*network.EndpointSettings'),
  }),
});
export type EndpointSettingsBody = Infer<typeof endpointSettings>;
export type ContainerCreateBody = Infer<typeof containerCreateType>;
/** The create body's keys that belong to the embedded container.Config. */
export const containerConfigKeys = Object.keys(configFields);

export const containerUpdateType = goStruct('UpdateConfig', 'container.UpdateConfig', { ...resources, RestartPolicy: restartPolicy });
export type ContainerUpdateBody = Infer<typeof containerUpdateType>;

// ---------------------------------------------------------------- exec, volumes, auth

export const execCreateType = goStruct('ExecConfig', 'types.ExecConfig', {
  User: str,
  Privileged: bool,
  Tty: bool,
  AttachStdin: bool,
  AttachStderr: bool,
  AttachStdout: bool,
  Detach: bool,
  DetachKeys: str,
  Env: strList,
  WorkingDir: str,
  Cmd: strList,
});

/** ConsoleSize came with API 1.42 ([height, width]); 20.10 ignores it, Drydock sizes the tty with it. */
export const execStartType = goStruct('ExecStartCheck', 'types.ExecStartCheck', { Detach: bool, Tty: bool, ConsoleSize: goArray(goInt('uint'), 2) });

export const volumeCreateType = goStruct('VolumeCreateBody', 'volume.VolumeCreateBody', { Driver: str, DriverOpts: strMap, Labels: strMap, Name: str });

/** types.AuthConfig (lower-case JSON names). */
export const authConfigType = goStruct('AuthConfig', 'types.AuthConfig', {
  username: str,
  password: str,
  auth: str,
  email: str,
  serveraddress: str,
  identitytoken: str,
  registrytoken: str,
});
export type AuthConfigBody = Infer<typeof authConfigType>;

// ---------------------------------------------------------------- networks


/** types.NetworkCreateRequest: NetworkCreate embedded (its fields flat), Name beside it. */
export const networkCreateType = goStruct('NetworkCreateRequest', 'types.NetworkCreateRequest', {
  CheckDuplicate: bool,
  Driver: str,
  Scope: str,
  EnableIPv6: bool,
  IPAM: goStruct('IPAM', 'network.IPAM', {
    Driver: str,
    Options: strMap,
    Config: goSlice(goStruct('IPAMConfig', 'network.IPAMConfig', { Subnet: str, IPRange: str, Gateway: str, AuxiliaryAddresses: strMap })),
  }),
  Internal: bool,
  Attachable: bool,
  Ingress: bool,
  ConfigOnly: bool,
  ConfigFrom: goStruct('ConfigReference', 'network.ConfigReference', { Network: str }),
  Options: strMap,
  Labels: strMap,
  Name: str,
});
export type NetworkCreateBody = Infer<typeof networkCreateType>;

export const networkConnectType = goStruct('NetworkConnect', 'types.NetworkConnect', { Container: str, EndpointConfig: endpointSettings });
export type NetworkConnectBody = Infer<typeof networkConnectType>;

export const networkDisconnectType = goStruct('NetworkDisconnect', 'types.NetworkDisconnect', { Container: str, Force: bool });
export type NetworkDisconnectBody = Infer<typeof networkDisconnectType>;

// ---------------------------------------------------------------- decoding

const EOF = 'EOF';
const GOT_EOF = 'got EOF while reading request body';

export const bodies = {
  containerCreate: { type: containerCreateType, emptyMessage: EOF },
  containerUpdate: { type: containerUpdateType, emptyMessage: EOF },
  execCreate: { type: execCreateType, emptyMessage: GOT_EOF },
  execStart: { type: execStartType, emptyMessage: GOT_EOF },
  volumeCreate: { type: volumeCreateType, emptyMessage: GOT_EOF },
  networkCreate: { type: networkCreateType, emptyMessage: GOT_EOF },
  networkConnect: { type: networkConnectType, emptyMessage: GOT_EOF },
  networkDisconnect: { type: networkDisconnectType, emptyMessage: GOT_EOF },
  auth: { type: authConfigType, emptyMessage: EOF },
  // POST /commit: dockerd decodes the container config with create's decoder and takes an empty body
  commit: { type: containerCreateType, emptyMessage: EOF },
} satisfies Record<string, JsonBody<unknown>>;
