import { randomBytes } from 'node:crypto';
import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError } from '@drydock/errors';
import type { ContainerCreateBody, MountBody } from './request-bodies';
import { containerConfigKeys } from './request-bodies';
import { checkEnv, int32Of } from './request-checks';

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
  };
  if (!config.image) throw new InvalidArgumentError('No image was specified');
  checkEnv(config.env ?? []);
  const workdir = config.workingDir ?? '';
  if (workdir && !workdir.startsWith('/')) throw new InvalidArgumentError(`the working directory '${workdir}' is invalid, it needs to be an absolute path`);
  if (b.Healthcheck) warnings.push('Healthcheck is not supported on this node and was ignored');
  const anonVolumes = Object.keys(b.Volumes ?? {});

  const hc = b.HostConfig ?? {};
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
  // dockerd names them with 64 hex characters.
  for (const target of anonVolumes) {
    if (mounts.some((m) => m.target === target)) continue;
    mounts.push({ type: 'volume', source: randomBytes(32).toString('hex'), target, readOnly: false, options: '' });
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
  };
  if (hostConfig.init) throw new InvalidArgumentError('--init is not supported on this node: containers run without an init process');
  if (hc.PortBindings && Object.keys(hc.PortBindings).length > 0) {
    warnings.push(hostConfig.networkMode === 'host' ? 'Published ports are discarded when using host network mode' : 'Published ports are not supported on this node (no container networking) and were ignored');
  }
  return { request: { name, config, hostConfig }, bindSources, warnings };
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
  } else if (!source) {
    // an anonymous volume: dockerd generates the 64-hex name
    return { type, source: randomBytes(32).toString('hex'), target, readOnly, options };
  }
  return { type, source, target, readOnly, options };
}
