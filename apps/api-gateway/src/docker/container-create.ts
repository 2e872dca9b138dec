import { randomBytes } from 'node:crypto';
import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError } from '@drydock/errors';
import { JsonReader } from './json-types';

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

/**
 * Docker's create body (Config fields at the top level, HostConfig,
 * NetworkingConfig) -> CreateContainerRequest. Type errors are 400 with Go's
 * texts; semantic checks that need node state (image, name, resources, bind
 * sources of Mounts) are the supervisor's.
 */
export function parseCreateBody(name: string, body: unknown): ParsedCreate {
  if (body === undefined || body === null) throw new InvalidArgumentError('Config cannot be empty in order to create a container');
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidArgumentError(`json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type runconfig.ContainerConfigWrapper`);
  }
  const b = body as Record<string, unknown>;
  // dockerd decodes Config as an embedded pointer: a body with only HostConfig/NetworkingConfig leaves it nil
  if (Object.keys(b).every((k) => k === 'HostConfig' || k === 'NetworkingConfig')) {
    throw new InvalidArgumentError('Config cannot be empty in order to create a container');
  }
  const r = new JsonReader('ContainerConfigWrapper');
  const warnings: string[] = [];

  const entrypointIn = r.strSlice(b, 'Entrypoint');
  const cmdIn = r.strSlice(b, 'Cmd');
  // dockerd's runconfig.Merge: with no Entrypoint override an empty Cmd takes the image's CMD;
  // Entrypoint [] or [""] (`--entrypoint ""`) clears the image's ENTRYPOINT.
  const entrypoint = entrypointIn === undefined ? undefined : { values: entrypointIn.length === 1 && entrypointIn[0] === '' ? [] : entrypointIn };
  const cmd = cmdIn === undefined || (cmdIn.length === 0 && entrypoint === undefined) ? undefined : { values: cmdIn };

  const stopTimeout = r.int(b, 'StopTimeout', 'StopTimeout', 'int');
  const config: supervisorV1.ContainerConfig = {
    image: r.str(b, 'Image') ?? '',
    cmd,
    entrypoint,
    env: r.strList(b, 'Env') ?? [],
    workingDir: r.str(b, 'WorkingDir') ?? '',
    user: r.str(b, 'User') ?? '',
    hostname: r.str(b, 'Hostname') ?? '',
    domainname: r.str(b, 'Domainname') ?? '',
    labels: r.strMap(b, 'Labels') ?? {},
    tty: r.bool(b, 'Tty') ?? false,
    openStdin: r.bool(b, 'OpenStdin') ?? false,
    stdinOnce: r.bool(b, 'StdinOnce') ?? false,
    attachStdin: r.bool(b, 'AttachStdin') ?? false,
    attachStdout: r.bool(b, 'AttachStdout') ?? false,
    attachStderr: r.bool(b, 'AttachStderr') ?? false,
    stopSignal: r.str(b, 'StopSignal') ?? '',
    stopTimeout: stopTimeout === undefined ? undefined : Number(stopTimeout),
    exposedPorts: r.keySet(b, 'ExposedPorts') ?? [],
  };
  if (!config.image) throw new InvalidArgumentError('No image was specified');
  const workdir = config.workingDir ?? '';
  if (workdir && !workdir.startsWith('/')) throw new InvalidArgumentError(`the working directory '${workdir}' is invalid, it needs to be an absolute path`);
  if (r.obj(b, 'Healthcheck')) warnings.push('Healthcheck is not supported on this node and was ignored');
  const anonVolumes = r.keySet(b, 'Volumes') ?? [];

  const hcIn = r.obj(b, 'HostConfig') ?? {};
  const hc = new JsonReader('ContainerConfigWrapper.HostConfig');
  const mounts: supervisorV1.Mount[] = [];
  const bindSources: string[] = [];
  const binds = hc.strList(hcIn, 'Binds') ?? [];
  for (const spec of binds) {
    const m = parseBind(spec);
    mounts.push(m);
    if (m.type === 'bind') bindSources.push(m.source!);
  }
  for (const [i, m] of (hc.objList(hcIn, 'Mounts', 'Mounts', '[]mount.Mount') ?? []).entries()) mounts.push(parseMount(m, i));
  for (const [target, options] of Object.entries(hc.strMap(hcIn, 'Tmpfs') ?? {})) {
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

  const rp = hc.obj(hcIn, 'RestartPolicy');
  const rpr = new JsonReader('ContainerConfigWrapper.HostConfig.RestartPolicy');
  const networkMode = hc.str(hcIn, 'NetworkMode') ?? '';
  const hostConfig: supervisorV1.HostConfig = {
    mounts,
    binds,
    readonlyRootfs: hc.bool(hcIn, 'ReadonlyRootfs') ?? false,
    memory: hc.int(hcIn, 'Memory') ?? '0',
    memorySwap: hc.int(hcIn, 'MemorySwap') ?? '0',
    nanoCpus: hc.int(hcIn, 'NanoCpus') ?? '0',
    cpuShares: hc.int(hcIn, 'CpuShares') ?? '0',
    cpuPeriod: hc.int(hcIn, 'CpuPeriod') ?? '0',
    cpuQuota: hc.int(hcIn, 'CpuQuota') ?? '0',
    pidsLimit: hc.int(hcIn, 'PidsLimit') ?? '0',
    shmSize: hc.int(hcIn, 'ShmSize') ?? '0',
    restartPolicy: rp ? { name: rpr.str(rp, 'Name') ?? '', maximumRetryCount: Number(rpr.int(rp, 'MaximumRetryCount', 'MaximumRetryCount', 'int') ?? '0') } : { name: '', maximumRetryCount: 0 },
    autoRemove: hc.bool(hcIn, 'AutoRemove') ?? false,
    networkMode: networkMode === '' ? 'default' : networkMode,
    privileged: hc.bool(hcIn, 'Privileged') ?? false,
    capAdd: hc.strList(hcIn, 'CapAdd') ?? [],
    capDrop: hc.strList(hcIn, 'CapDrop') ?? [],
    init: hc.bool(hcIn, 'Init') ?? false,
  };
  if (hostConfig.init) throw new InvalidArgumentError('--init is not supported on this node: containers run without an init process');
  const portBindings = hc.obj(hcIn, 'PortBindings');
  if (portBindings && Object.keys(portBindings).length > 0) {
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
export function parseMount(m: Record<string, unknown>, i: number): supervisorV1.Mount {
  const r = new JsonReader(`ContainerConfigWrapper.HostConfig.Mounts[${i}]`);
  const type = r.str(m, 'Type') ?? '';
  const source = r.str(m, 'Source') ?? '';
  const target = r.str(m, 'Target') ?? '';
  const readOnly = r.bool(m, 'ReadOnly') ?? false;
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw new InvalidArgumentError(`invalid mount config for type "${type}": mount type unknown`);
  if (!target) throw new InvalidArgumentError(`invalid mount config for type "${type}": field Target must not be empty`);
  const bindOpts = r.obj(m, 'BindOptions');
  const tmpfsOpts = r.obj(m, 'TmpfsOptions');
  if (bindOpts && type !== 'bind') throw new InvalidArgumentError(`invalid mount config for type "${type}": field BindOptions must not be specified`);
  if (tmpfsOpts && type !== 'tmpfs') throw new InvalidArgumentError(`invalid mount config for type "${type}": field TmpfsOptions must not be specified`);
  if (r.obj(m, 'VolumeOptions') && type !== 'volume') throw new InvalidArgumentError(`invalid mount config for type "${type}": field VolumeOptions must not be specified`);
  let options = '';
  if (type === 'bind') {
    if (!source) throw new InvalidArgumentError('invalid mount config for type "bind": field Source must not be empty');
    options = bindOpts ? new JsonReader(`ContainerConfigWrapper.HostConfig.Mounts[${i}].BindOptions`).str(bindOpts, 'Propagation') ?? '' : '';
  } else if (type === 'tmpfs') {
    const tr = new JsonReader(`ContainerConfigWrapper.HostConfig.Mounts[${i}].TmpfsOptions`);
    const size = tmpfsOpts ? tr.int(tmpfsOpts, 'SizeBytes') : undefined;
    const mode = tmpfsOpts ? tr.int(tmpfsOpts, 'Mode', 'Mode', 'os.FileMode') : undefined;
    options = [size && size !== '0' ? `size=${size}` : '', mode && mode !== '0' ? `mode=${Number(mode).toString(8)}` : ''].filter(Boolean).join(',');
    if (readOnly) options = options ? `${options},ro` : 'ro';
  } else if (!source) {
    // an anonymous volume: dockerd generates the 64-hex name
    return { type, source: randomBytes(32).toString('hex'), target, readOnly, options };
  }
  return { type, source, target, readOnly, options };
}
