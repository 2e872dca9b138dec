import { randomBytes } from 'node:crypto';
import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError } from '@drydock/errors';
import type { ContainerCreateBody, MountBody } from './request-bodies';
import { containerConfigKeys } from './request-bodies';
import { checkEnv, int32Of } from './request-checks';
import { endpointConfigOf } from './network-request';
import { parseIp } from './ip';

/** The create request for the supervisor plus what the gateway must do around it. */
export interface ParsedCreate {
  request: supervisorV1.CreateContainerRequest;
  /** Host directories of `-v /src:/dst` binds: dockerd creates missing ones (unlike Mounts). */
  bindSources: string[];
  /** Warnings dockerd would add for settings this node accepts but ignores. */
  warnings: string[];
}

const validModes = new Set(['ro', 'rw', 'z', 'Z', 'shared', 'rshared', 'private', 'rprivate', 'slave', 'rslave', 'nocopy', 'consistent', 'cached', 'delegated']);
const propagations = new Set(['shared', 'rshared', 'private', 'rprivate', 'slave', 'rslave']);
/** Keys of the embedded container.Config: with none of them set dockerd's Config pointer stays nil. */
const CONFIG_KEYS: Record<string, true> = Object.fromEntries(containerConfigKeys.map((k) => [k, true]));

/**
 * Docker's create body, already decoded and type-checked (request-bodies.ts:
 * Config fields at the top level, HostConfig, NetworkingConfig) ->
 * CreateContainerRequest. Semantic checks that need node state (image, name,
 * resources, bind sources of Mounts) are the supervisor's.
 */
export function parseCreateBody(name: string, b: ContainerCreateBody | undefined): ParsedCreate {
  const hc = b?.HostConfig ?? {};
  // runconfig's validateNetMode runs while decoding, before dockerd looks at Config
  checkNetworkMode(b ?? {}, hc);
  // dockerd decodes Config as an embedded pointer: a body without any of its fields leaves it nil
  if (b === undefined || !Object.keys(b).some((k) => k in CONFIG_KEYS)) {
    throw new InvalidArgumentError('Config cannot be empty in order to create a container');
  }
  const warnings: string[] = [];

  // dockerd's runconfig.Merge: with no Entrypoint override an empty Cmd takes the image's CMD;
  // Entrypoint [] or [""] (`--entrypoint ""`) clears the image's ENTRYPOINT.
  const entrypointIn = b.Entrypoint;
  const cmdIn = b.Cmd;
  const entrypoint = entrypointIn === undefined ? undefined : { values: entrypointIn.length === 1 && entrypointIn[0] === '' ? [] : entrypointIn };
  const cmd = cmdIn === undefined || (cmdIn.length === 0 && entrypoint === undefined) ? undefined : { values: cmdIn };

  const config: supervisorV1.ContainerConfig = {
    image: b.Image ?? '',
    cmd,
    entrypoint,
    env: b.Env ?? [],
    workingDir: b.WorkingDir ?? '',
    user: b.User ?? '',
    hostname: b.Hostname ?? '',
    domainname: b.Domainname ?? '',
    labels: { ...(b.Labels ?? {}) },
    tty: b.Tty ?? false,
    openStdin: b.OpenStdin ?? false,
    stdinOnce: b.StdinOnce ?? false,
    attachStdin: b.AttachStdin ?? false,
    attachStdout: b.AttachStdout ?? false,
    attachStderr: b.AttachStderr ?? false,
    stopSignal: b.StopSignal ?? '',
    stopTimeout: b.StopTimeout === undefined ? undefined : int32Of(b.StopTimeout),
    exposedPorts: Object.keys(b.ExposedPorts ?? {}),
    macAddress: b.MacAddress ?? '',
  };
  if (!config.image) throw new InvalidArgumentError('No image was specified');
  checkEnv(config.env ?? []);
  const workdir = config.workingDir ?? '';
  if (workdir && !workdir.startsWith('/')) throw new InvalidArgumentError(`the working directory '${workdir}' is invalid, it needs to be an absolute path`);
  if (b.Healthcheck) warnings.push('Healthcheck is not supported on this node and was ignored');
  const anonVolumes = Object.keys(b.Volumes ?? {});

  const mounts: supervisorV1.Mount[] = [];
  const bindSources: string[] = [];
  const binds = hc.Binds ?? [];
  for (const spec of binds) {
    const m = parseBind(spec);
    mounts.push(m);
    if (m.type === 'bind') bindSources.push(m.source!);
  }
  for (const m of hc.Mounts ?? []) mounts.push(parseMount(m));
  for (const [target, options] of Object.entries(hc.Tmpfs ?? {})) {
    mounts.push({ type: 'tmpfs', source: '', target, readOnly: false, options });
  }
  // Config.Volumes (`-v /data`) asks for anonymous volumes where nothing else is mounted;
  // dockerd names them with 64 hex characters. Marked, since a --volumes-from mount at the same
  // destination (resolved by the supervisor) replaces them where a bind would not.
  for (const target of anonVolumes) {
    if (mounts.some((m) => m.target === target)) continue;
    mounts.push({ type: 'volume', source: randomBytes(32).toString('hex'), target, readOnly: false, options: '', configVolume: true });
  }
  const seen = new Set<string>();
  for (const m of mounts) {
    const t = (m.target ?? '').replace(/\/+$/, '') || '/';
    if (seen.has(t)) throw new InvalidArgumentError(`Duplicate mount point: ${m.target}`);
    seen.add(t);
  }

  const rp = hc.RestartPolicy;
  const networkMode = hc.NetworkMode ?? '';
  const int64 = (v: bigint | undefined) => String(v ?? 0n);
  const hostConfig: supervisorV1.HostConfig = {
    mounts,
    binds,
    readonlyRootfs: hc.ReadonlyRootfs ?? false,
    memory: int64(hc.Memory),
    memorySwap: int64(hc.MemorySwap),
    nanoCpus: int64(hc.NanoCpus),
    cpuShares: int64(hc.CpuShares),
    cpuPeriod: int64(hc.CpuPeriod),
    cpuQuota: int64(hc.CpuQuota),
    pidsLimit: int64(hc.PidsLimit),
    shmSize: int64(hc.ShmSize),
    restartPolicy: { name: rp?.Name ?? '', maximumRetryCount: int32Of(rp?.MaximumRetryCount ?? 0n) },
    autoRemove: hc.AutoRemove ?? false,
    networkMode: networkMode === '' ? 'default' : networkMode,
    privileged: hc.Privileged ?? false,
    capAdd: hc.CapAdd ?? [],
    capDrop: hc.CapDrop ?? [],
    init: hc.Init ?? false,
    portBindings: Object.fromEntries(Object.entries(hc.PortBindings ?? {}).map(([port, list]) => [port, { bindings: (list ?? []).map((pb) => ({ hostIp: pb.HostIp ?? '', hostPort: pb.HostPort ?? '' })) }])),
    publishAllPorts: hc.PublishAllPorts ?? false,
    dns: hc.Dns ?? [],
    dnsSearch: hc.DnsSearch ?? [],
    dnsOptions: hc.DnsOptions ?? [],
    extraHosts: hc.ExtraHosts ?? [],
    links: hc.Links ?? [],
    volumesFrom: hc.VolumesFrom ?? [],
    ...(hc.VolumeDriver ? { volumeDriver: hc.VolumeDriver } : {}),
  };
  if (hostConfig.init) throw new InvalidArgumentError('--init is not supported on this node: containers run without an init process');
  for (const h of hostConfig.extraHosts ?? []) checkExtraHost(h);
  checkPortBindings(hc.PortBindings);
  for (const l of hostConfig.links ?? []) checkLink(l);
  const endpointsIn = Object.entries(b.NetworkingConfig?.EndpointsConfig ?? {});
  if (endpointsIn.length > 1) throw new InvalidArgumentError(`Container cannot be connected to network endpoints: ${endpointsIn.map(([n]) => n).join(', ')}`);
  const endpoints = Object.fromEntries(endpointsIn.map(([net, e]) => [net, endpointConfigOf(e)]));
  if (hostConfig.networkMode === 'host' && Object.keys(hc.PortBindings ?? {}).length > 0) warnings.push('Published ports are discarded when using host network mode');
  return { request: { name, config, hostConfig, endpoints }, bindSources, warnings };
}

/** runconfig's validateNetMode / validateNetContainerMode (dockerd 20.10), in their order. */
function checkNetworkMode(c: ContainerCreateBody, hc: NonNullable<ContainerCreateBody['HostConfig']>): void {
  const mode = hc.NetworkMode ?? '';
  const isContainer = mode.startsWith('container:');
  if (mode.split(':')[0] === 'container' && !mode.split(':')[1]) throw new InvalidArgumentError('Invalid network mode: invalid container format container:<name|id>');
  if (isContainer) {
    if (c.Hostname) throw new InvalidArgumentError('conflicting options: hostname and the network mode');
    if ((hc.Links ?? []).length > 0) throw new InvalidArgumentError("conflicting options: container type network can't be used with links. This would result in undefined behavior");
    if ((hc.Dns ?? []).length > 0) throw new InvalidArgumentError('conflicting options: dns and the network mode');
    if ((hc.ExtraHosts ?? []).length > 0) throw new InvalidArgumentError('conflicting options: custom host-to-IP mapping and the network mode');
  }
  if ((isContainer || mode === 'host') && c.MacAddress) throw new InvalidArgumentError('conflicting options: mac-address and the network mode');
  if (isContainer && (Object.keys(hc.PortBindings ?? {}).length > 0 || hc.PublishAllPorts)) throw new InvalidArgumentError('conflicting options: port publishing and the container type network mode');
  if (isContainer && Object.keys(c.ExposedPorts ?? {}).length > 0) throw new InvalidArgumentError('conflicting options: port exposing and the container type network mode');
  if (hc.UTSMode === 'host' && c.Hostname) throw new InvalidArgumentError('conflicting options: hostname and the UTS mode');
  if (mode === 'host' && (hc.Links ?? []).length > 0) throw new InvalidArgumentError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
}

/** opts.ValidateExtraHost: "name:ip", the ip may be "host-gateway". */
export function checkExtraHost(h: string): void {
  const i = h.indexOf(':');
  if (i <= 0) throw new InvalidArgumentError(`bad format for add-host: ${JSON.stringify(h)}`);
  const ip = h.slice(i + 1);
  if (ip !== 'host-gateway' && !parseIp(ip)) throw new InvalidArgumentError(`invalid IP address in add-host: ${JSON.stringify(ip)}`);
}

/** Go's strconv.ParseUint(s, 10, 16). */
const isUint16 = (s: string) => /^\d+$/.test(s) && Number(s) <= 65535;

/** go-connections nat.ParsePortRange: "p" or "a-b" with a <= b. */
function validPortRange(s: string): boolean {
  if (!s.includes('-')) return isUint16(s);
  const [a, b] = s.split('-');
  return isUint16(a) && isUint16(b) && Number(b) >= Number(a);
}

/** nat.SplitProtoPort: the port part of "80/tcp" (the proto is not checked by dockerd). */
function portPart(raw: string): string {
  const parts = raw.split('/');
  return raw === '' || parts[0] === '' ? '' : parts[0];
}

/**
 * daemon/container.go verifyContainerSettings: a container port is one number (no range)
 * and a host port is empty, one number or a range; texts quote the offending part.
 */
export function checkPortBindings(pb: Record<string, { HostIp?: string; HostPort?: string }[] | undefined> | undefined): void {
  for (const [port, bindings] of Object.entries(pb ?? {})) {
    const p = portPart(port);
    if (p !== '' && !isUint16(p)) throw new InvalidArgumentError(`invalid port specification: ${JSON.stringify(p)}`);
    for (const b of bindings ?? []) {
      const hp = portPart(b.HostPort ?? '');
      if (hp !== '' && !validPortRange(hp)) throw new InvalidArgumentError(`invalid port specification: ${JSON.stringify(b.HostPort ?? '')}`);
    }
  }
}

/** opts.ParseLink: "name[:alias]". */
function checkLink(l: string): void {
  if (l === '') throw new InvalidArgumentError('empty string specified for links');
  if (l.split(':').length > 2) throw new InvalidArgumentError(`bad format for links: ${l}`);
}

/** One `HostConfig.Binds` entry: "src:dst[:mode]"; an absolute src is a bind, a bare name a named volume. */
export function parseBind(spec: string): supervisorV1.Mount {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p, i) => p === '' && i < 2)) throw new InvalidArgumentError(`invalid volume specification: '${spec}'`);
  const [src, dst, modeText = ''] = parts;
  const modes = modeText ? modeText.split(',') : [];
  for (const m of modes) if (!validModes.has(m)) throw new InvalidArgumentError(`invalid mode: ${modeText}`);
  if (modes.includes('ro') && modes.includes('rw')) throw new InvalidArgumentError(`invalid mode: ${modeText}`);
  const type = src.startsWith('/') ? 'bind' : 'volume';
  if (!dst.startsWith('/')) throw new InvalidArgumentError(`invalid volume specification: '${spec}': invalid mount config for type "${type}": invalid mount path: '${dst}' mount path must be absolute`);
  const propagation = modes.find((m) => propagations.has(m)) ?? '';
  if (type === 'volume' && propagation) throw new InvalidArgumentError(`invalid volume specification: '${spec}': invalid mount config for type "volume": field BindOptions must not be specified`);
  return { type, source: src, target: dst, readOnly: modes.includes('ro'), options: propagation };
}

/** One `HostConfig.Mounts` entry (`--mount`). */
export function parseMount(m: MountBody): supervisorV1.Mount {
  const type = m.Type ?? '';
  const source = m.Source ?? '';
  const target = m.Target ?? '';
  const readOnly = m.ReadOnly ?? false;
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw new InvalidArgumentError(`invalid mount config for type "${type}": mount type unknown`);
  if (!target) throw new InvalidArgumentError(`invalid mount config for type "${type}": field Target must not be empty`);
  if (m.BindOptions && type !== 'bind') throw new InvalidArgumentError(`invalid mount config for type "${type}": field BindOptions must not be specified`);
  if (m.TmpfsOptions && type !== 'tmpfs') throw new InvalidArgumentError(`invalid mount config for type "${type}": field TmpfsOptions must not be specified`);
  if (m.VolumeOptions && type !== 'volume') throw new InvalidArgumentError(`invalid mount config for type "${type}": field VolumeOptions must not be specified`);
  let options = '';
  if (type === 'bind') {
    if (!source) throw new InvalidArgumentError('invalid mount config for type "bind": field Source must not be empty');
    options = m.BindOptions?.Propagation ?? '';
  } else if (type === 'tmpfs') {
    const size = m.TmpfsOptions?.SizeBytes ?? 0n;
    const mode = m.TmpfsOptions?.Mode ?? 0n;
    options = [size !== 0n ? `size=${size}` : '', mode !== 0n ? `mode=${mode.toString(8)}` : ''].filter(Boolean).join(',');
    if (readOnly) options = options ? `${options},ro` : 'ro';
  }
  // `--mount volume-driver=,volume-opt=`: the driver a new volume is made with
  const dc = type === 'volume' ? m.VolumeOptions?.DriverConfig : undefined;
  const driver = dc && (dc.Name || Object.keys(dc.Options ?? {}).length > 0) ? { driver: dc.Name ?? '', driverOpts: { ...dc.Options } } : {};
  if (type === 'volume' && !source) {
    // an anonymous volume: dockerd generates the 64-hex name
    return { type, source: randomBytes(32).toString('hex'), target, readOnly, options, ...driver };
  }
  return { type, source, target, readOnly, options, ...driver };
}
