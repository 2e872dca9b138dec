import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { supervisorV1 } from '@drydock/proto';
import { AlreadyExistsError, InvalidArgumentError } from '@drydock/errors';
import { mergeEnv } from '@drydock/oci-spec';
import { actor, newRuntime, type ContainerContext } from './container-context';
import type { StoredContainer } from './container-store';
import { newContainerId, normalizeName, randomName } from './names';
import type { Mount } from './ports';
import { initialState, nowNs, type ContainerSpecRecord } from './record';
import { validateRestartPolicy } from './restart-policy';
import { mergeVolumesFrom } from './volumes-from';

/** dockerd's text for a name another container holds (create and rename). */
export function nameConflict(name: string, ownerId: string): AlreadyExistsError {
  return new AlreadyExistsError(
    `Conflict. The container name "/${name}" is already in use by container "${ownerId}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}

/** docker create: validates, resolves the image's defaults and writes the record, snapshot and host files. */
export async function createContainer(ctx: ContainerContext, req: supervisorV1.CreateContainerRequest): Promise<{ id: string; warnings: string[] }> {
  const config = req.config;
  if (!config?.image) throw new InvalidArgumentError('config.image is required');
  let hc: supervisorV1.HostConfig = req.hostConfig ?? {};
  validateRestartPolicy(hc.restartPolicy, hc.autoRemove ?? false);
  ctx.specs.validateHostConfig(hc);
  if (hc.init) throw new InvalidArgumentError('init processes are not supported on this node yet');
  const netMode = sharedNamespaceMode(ctx, hc.networkMode ?? '');
  for (const m of hc.mounts ?? []) validateMount(m);
  const image = await ctx.images.resolveImage(config.image);
  // a taken name is refused before a plugin is asked to make a volume for it (checked again under the lock)
  if (req.name) {
    const owner = ctx.nameOwner(normalizeName(req.name));
    if (owner) throw nameConflict(normalizeName(req.name), owner.c.spec.id);
  }
  // before the create lock: a plugin's Create (its 2-minute deadline) holds only this create
  hc = { ...hc, mounts: await resolveVolumeDrivers(ctx, hc) };

  // The name check and the record write are serialized so two creates cannot take one name.
  return ctx.nameLock.run('create', async () => {
    let name: string;
    if (req.name) {
      name = normalizeName(req.name);
      const owner = ctx.nameOwner(name);
      if (owner) throw nameConflict(name, owner.c.spec.id);
    } else {
      name = randomName((n) => !!ctx.nameOwner(n));
    }
    // dockerd's registerMountPoints, under the create lock (the new container is not in the
    // table yet, so `--volumes-from` naming itself is "No such container", as in dockerd)
    hc = { ...hc, mounts: mergeVolumesFrom(hc.mounts ?? [], hc.volumesFrom ?? [], (ref) => sourceMounts(ctx, ref)) };
    const id = newContainerId();
    const ic = image.config;
    const entrypoint = config.entrypoint ? config.entrypoint.values ?? [] : ic.Entrypoint ?? [];
    // dockerd: overriding the entrypoint drops the image's CMD unless a cmd is given
    const cmd = config.cmd ? config.cmd.values ?? [] : config.entrypoint ? [] : ic.Cmd ?? [];
    const argv = [...entrypoint, ...cmd];
    if (argv.length === 0) throw new InvalidArgumentError('No command specified');
    const resolvedConfig: supervisorV1.ContainerConfig = {
      ...config,
      // dockerd: the host's name on the host network, else the short id
      hostname: config.hostname || (netMode === 'host' ? hostname() : id.slice(0, 12)),
      entrypoint: { values: entrypoint },
      cmd: { values: cmd },
      env: mergeEnv(config.env ?? [], ic.Env ?? []),
      workingDir: config.workingDir || ic.WorkingDir || '',
      user: config.user || ic.User || '',
      labels: { ...(ic.Labels ?? {}), ...(config.labels ?? {}) },
      stopSignal: config.stopSignal || ic.StopSignal || '',
      exposedPorts: [...new Set([...(config.exposedPorts ?? []), ...Object.keys(ic.ExposedPorts ?? {})])],
    };
    const spec: ContainerSpecRecord = {
      id,
      createdNs: nowNs(),
      image: config.image!,
      imageId: image.id,
      imageName: image.name,
      path: argv[0],
      args: argv.slice(1),
      config: resolvedConfig,
      hostConfig: { ...hc, networkMode: netMode || 'default' },
      endpoints: req.endpoints && Object.keys(req.endpoints).length ? req.endpoints : undefined,
    };
    // hooks (networking) refuse what they cannot carry out before anything is written
    await ctx.hooks.validate({ id, name, spec });
    name = await takeName(ctx, name, id, !!req.name);
    const stored: StoredContainer = { spec, state: initialState(), name, labels: resolvedConfig.labels ?? {} };
    const dir = ctx.dir(id);
    let prepared = false;
    try {
      await mkdir(dir, { recursive: true });
      const newVolumes = new Set<string>();
      for (const m of hc.mounts ?? []) {
        if (m.type === 'volume' && m.source && isLocalVolume(m) && (await ctx.volumes.ensure(m.source)).created) newVolumes.add(m.source);
      }
      const files = await writeHostFiles(dir, resolvedConfig);
      // exists from the start, so an attach made before the first start follows it from byte 0
      await writeFile(ctx.logPath(id), '', { flag: 'a', mode: 0o640 });
      const rootfs = await ctx.snapshots.prepare(id, image.chainId);
      prepared = true;
      await copyUpVolumes(ctx, id, hc.mounts ?? [], newVolumes, rootfs);
      const oci = await ctx.specs.build({ record: spec, name, image, rootfs, files, volumesDir: ctx.volumes.root });
      await ctx.store.create(stored, oci, id);
    } catch (err) {
      // nothing half-made: snapshot, directory and record go together
      if (prepared) await ctx.snapshots.remove(id).catch(() => undefined);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      await ctx.names.release(name, id);
      throw err;
    }
    ctx.entries.set(id, { c: stored, rt: newRuntime() });
    ctx.events.container('create', actor(stored));
    const warnings: string[] = [];
    return { id, warnings };
  });
}

/** A --volumes-from source: its id and the mounts its record holds (its own inherited ones included). */
function sourceMounts(ctx: ContainerContext, ref: string): { id: string; mounts: supervisorV1.Mount[] } {
  const e = ctx.resolve(ref);
  return { id: e.c.spec.id, mounts: e.c.spec.hostConfig.mounts ?? [] };
}

const isLocalVolume = (m: supervisorV1.Mount) => !m.driver || m.driver === 'local';

/**
 * Each volume mount with its driver resolved (stored in the record): the mount's own
 * (`--mount volume-driver=`), else HostConfig.VolumeDriver, for a volume that does not exist yet.
 */
async function resolveVolumeDrivers(ctx: ContainerContext, hc: supervisorV1.HostConfig): Promise<supervisorV1.Mount[]> {
  const out: supervisorV1.Mount[] = [];
  for (const m of hc.mounts ?? []) {
    if (m.type !== 'volume' || !m.source) {
      out.push(m);
      continue;
    }
    const driver = await ctx.volumes.driverFor(m.source, m.driver || hc.volumeDriver || '', m.driverOpts ?? {});
    out.push({ ...m, driver: driver === 'local' ? '' : driver });
  }
  return out;
}

/**
 * The name beyond this node (a cluster's name registry). A name the user gave must be
 * taken (a holder elsewhere is dockerd's conflict; a registry that cannot answer fails the
 * create); a random one is re-drawn on a clash and kept unregistered when the registry is
 * unreachable (the supervisor's directory reconcile registers it later).
 */
async function takeName(ctx: ContainerContext, name: string, id: string, given: boolean): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    let holder: string | undefined;
    try {
      holder = await ctx.names.take(name, id);
    } catch (err) {
      if (given) throw err;
      ctx.log.warn({ err, containerId: id, name }, 'random name not registered in the cluster');
      return name;
    }
    if (!holder) return name;
    if (given) throw nameConflict(name, holder);
    if (attempt >= 10) throw nameConflict(name, holder);
    name = randomName((n) => !!ctx.nameOwner(n));
  }
}

/**
 * dockerd's adaptSharedNamespaceContainer: `container:<name|prefix>` holds the target's full id
 * from create on (a target missing now is kept as written; its start then fails).
 */
function sharedNamespaceMode(ctx: ContainerContext, mode: string): string {
  if (!mode.startsWith('container:')) return mode;
  try {
    return `container:${ctx.resolve(mode.slice(10)).c.spec.id}`;
  } catch {
    return mode;
  }
}

/**
 * Docker's copy-up: a volume that is new (created by this container) and
 * still empty gets the image's content at the mount target, unless the mount
 * asks for `nocopy`. Done at create, from the fresh snapshot (the image's view).
 */
async function copyUpVolumes(ctx: ContainerContext, id: string, mounts: supervisorV1.Mount[], newVolumes: Set<string>, rootfs: Mount[]): Promise<void> {
  for (const m of mounts) {
    if (m.type !== 'volume' || !m.source || !isLocalVolume(m) || !newVolumes.has(m.source)) continue;
    if ((m.options ?? '').split(',').includes('nocopy')) continue;
    if (!(await ctx.volumes.isEmpty(m.source))) continue;
    await ctx.seeder.copyUp(rootfs, m.target ?? '/', ctx.volumes.dataPath(m.source));
    ctx.log.debug({ containerId: id, volume: m.source, target: m.target }, 'volume populated from image');
  }
}

function validateMount(m: supervisorV1.Mount): void {
  const target = m.target ?? '';
  if (!target.startsWith('/')) throw new InvalidArgumentError(`invalid mount config for type "${m.type}": invalid mount path: '${target}' mount path must be absolute`);
  if (target === '/') throw new InvalidArgumentError(`invalid mount config for type "${m.type}": invalid specification: destination can't be '/'`);
  switch (m.type) {
    case 'bind':
      if (!m.source || !m.source.startsWith('/')) throw new InvalidArgumentError(`invalid mount config for type "bind": invalid mount path: '${m.source ?? ''}' mount path must be absolute`);
      if (!existsSync(m.source)) throw new InvalidArgumentError(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
      break;
    case 'volume':
      if (!m.source || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(m.source)) {
        throw new InvalidArgumentError(`create ${m.source ?? ''}: "${m.source ?? ''}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
      }
      break;
    case 'tmpfs':
      if (m.source) throw new InvalidArgumentError('invalid mount config for type "tmpfs": source must not be specified');
      break;
    default:
      throw new InvalidArgumentError(`mount type unknown: ${m.type ?? ''}`);
  }
}

async function writeHostFiles(dir: string, cfg: supervisorV1.ContainerConfig): Promise<{ hostname: string; hosts: string; resolvConf: string }> {
  const hostname = join(dir, 'hostname');
  const hosts = join(dir, 'hosts');
  const resolvConf = join(dir, 'resolv.conf');
  await writeFile(hostname, `${cfg.hostname}\n`);
  await writeFile(
    hosts,
    ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters', `127.0.1.1\t${cfg.hostname}`, ''].join('\n'),
  );
  let resolv = '';
  try {
    // dockerd drops loopback resolvers the container cannot reach
    resolv = (await readFile('/etc/resolv.conf', 'utf8'))
      .split('\n')
      .filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l))
      .join('\n');
  } catch {
    resolv = '';
  }
  await writeFile(resolvConf, resolv);
  return { hostname, hosts, resolvConf };
}

