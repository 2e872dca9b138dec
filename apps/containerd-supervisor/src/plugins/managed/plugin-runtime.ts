import { connect } from 'node:net';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotFound, InternalError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { DEFAULT_PATH_ENV, type DeviceOption, type UserMountOption } from '@drydock/oci-spec';
import type { ContainerdClient } from '../../containerd/containerd-client';
import type { PluginRecord } from './plugin-store';

/** Where a plugin sees its run directory (dockerd's defaultPluginRuntimeDestination). */
export const PLUGIN_RUNTIME_DESTINATION = '/run/docker/plugins';
const OCI_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
/** containerd's RUNNING status. */
const RUNNING = 2;

export interface PluginSpecBuilder {
  plugin(opts: {
    args: string[];
    env: string[];
    cwd: string;
    user?: { uid: number; gid: number };
    rootPath: string;
    capAdd: string[];
    mounts: UserMountOption[];
    network: 'host' | 'private';
    devices: DeviceOption[];
    ipcMode: 'host' | 'private';
    pidMode: 'host' | 'private';
    cgroupsPath: string;
    allowAllDevices?: boolean;
    rootfsPropagation?: string;
  }): object;
}

export interface PluginRuntimeOptions {
  /** Per-plugin socket directories: `<runDir>/<id12>/<Socket>`. */
  runDir: string;
  /** dockerd's post-start dial: a first wait, then retries apart (500 ms, 3 x 3 s). */
  dialFirstMs: number;
  dialRetryMs: number;
  dialRetries: number;
  /** SIGTERM, then SIGKILL after this (dockerd's shutdownPlugin: 10 s). */
  stopGraceMs: number;
  /** The supervisor's cgroup parent: a plugin's cgroup is `<parent>/plugin-<id>`, beside the containers'. */
  cgroupParent: string;
}

/** A plugin's container id in the plugins namespace. */
export const containerIdOf = (pluginId: string) => pluginId;

/**
 * Runs managed plugins as containers in their own containerd namespace (`cc` is a client for
 * it): the rootfs is the store's directory (no snapshot), stdout/stderr append to a file that
 * survives supervisor restarts, the socket directory is bind-mounted at /run/docker/plugins.
 * A plugin is watched with Tasks.Wait; `onExit` decides whether it comes back.
 */
export class PluginRuntime {
  private readonly log: Logger;

  constructor(
    private readonly cc: ContainerdClient,
    private readonly specs: PluginSpecBuilder,
    private readonly opts: PluginRuntimeOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'plugin-runtime' });
  }

  socketDir(id: string): string {
    return join(this.opts.runDir, id.slice(0, 12));
  }

  socketPath(r: PluginRecord): string {
    return join(this.socketDir(r.Id), r.Config.Interface.Socket);
  }

  /** Whether the plugin's task runs now (a supervisor restart adopts it). */
  async running(id: string): Promise<boolean> {
    try {
      const t = await this.cc.unary(this.cc.tasks, this.cc.tasks.get, { containerId: containerIdOf(id) });
      return t.process?.status === RUNNING;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Starts the plugin's container (anything left of an earlier run is removed first). */
  async start(r: PluginRecord, rootfs: string, propagatedMount: string, logFile: string): Promise<void> {
    const id = containerIdOf(r.Id);
    await this.remove(id);
    const sockDir = this.socketDir(r.Id);
    await rm(sockDir, { recursive: true, force: true });
    await mkdir(sockDir, { recursive: true, mode: 0o700 });
    const c = r.Config;
    const mounts: UserMountOption[] = [];
    if (c.PropagatedMount) {
      await mkdir(propagatedMount, { recursive: true });
      mounts.push({ type: 'bind', source: propagatedMount, destination: c.PropagatedMount, propagation: 'rshared' });
    }
    for (const m of r.Settings.Mounts) {
      if (m.Source === null) throw new InternalError('mount source is not specified');
      mounts.push({ type: 'bind', source: m.Source, destination: m.Destination, readOnly: (m.Options ?? []).includes('ro') });
    }
    mounts.push({ type: 'bind', source: sockDir, destination: PLUGIN_RUNTIME_DESTINATION });
    if (c.Network.Type !== '') {
      mounts.push({ type: 'bind', source: '/etc/hosts', destination: '/etc/hosts', readOnly: true });
      mounts.push({ type: 'bind', source: '/etc/resolv.conf', destination: '/etc/resolv.conf', readOnly: true });
    }
    const devices: DeviceOption[] = [];
    for (const d of r.Settings.Devices) if (d.Path !== null) devices.push({ device: await hostDevice(d.Path), access: 'rwm' });
    const spec = this.specs.plugin({
      devices,
      args: [...(c.Entrypoint ?? []), ...r.Settings.Args],
      env: [`PATH=${DEFAULT_PATH_ENV}`, ...r.Settings.Env],
      cwd: c.WorkDir || '/',
      user: c.User.UID !== undefined ? { uid: c.User.UID, gid: c.User.GID ?? 0 } : undefined,
      rootPath: rootfs,
      capAdd: c.Linux.Capabilities ?? [],
      mounts,
      network: c.Network.Type === 'host' ? 'host' : 'private',
      ipcMode: c.IpcHost ? 'host' : 'private',
      pidMode: c.PidHost ? 'host' : 'private',
      cgroupsPath: `${this.opts.cgroupParent.replace(/\/$/, '')}/plugin-${r.Id}`,
      allowAllDevices: c.Linux.AllowAllDevices,
      rootfsPropagation: c.PropagatedMount ? 'rshared' : undefined,
    });
    await this.cc.unary(this.cc.containers, this.cc.containers.create, {
      container: { id, labels: { 'com.drydock.plugin.name': r.Name }, runtime: { name: 'io.containerd.runc.v2' }, spec: { typeUrl: OCI_SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(spec)) } },
    });
    try {
      await this.cc.unary(this.cc.tasks, this.cc.tasks.create, { containerId: id, rootfs: [], stdout: `file://${logFile}`, stderr: `file://${logFile}`, terminal: false });
      await this.cc.unary(this.cc.tasks, this.cc.tasks.start, { containerId: id });
    } catch (err) {
      await this.remove(id);
      throw err;
    }
  }

  /**
   * dockerd's pluginPostStart: wait, then dial the socket until it answers (managed plugins get
   * no /Plugin.Activate); false when it never did.
   */
  async awaitSocket(r: PluginRecord): Promise<boolean> {
    const path = this.socketPath(r);
    await sleep(this.opts.dialFirstMs);
    for (let retries = 0; ; retries++) {
      if (await dial(path)) return true;
      if (retries >= this.opts.dialRetries) return false;
      await sleep(this.opts.dialRetryMs);
    }
  }

  /** Resolves with the exit status once the task ends; rejects only when containerd cannot say. */
  async wait(id: string): Promise<number> {
    for (;;) {
      try {
        const res = await this.cc.unary(this.cc.tasks, this.cc.tasks.wait, { containerId: containerIdOf(id) }, { timeoutMs: 24 * 3600 * 1000 });
        return res.exitStatus ?? 0;
      } catch (err) {
        if (isNotFound(err)) return -1;
        // containerd restarting or the long deadline passed: wait again
        await sleep(1000);
        if (!(await this.exists(id))) return -1;
      }
    }
  }

  /** SIGTERM, SIGKILL after the grace period, then the task and container are deleted. */
  async stop(id: string): Promise<void> {
    const cid = containerIdOf(id);
    if (await this.running(id)) {
      await this.cc.unary(this.cc.tasks, this.cc.tasks.kill, { containerId: cid, signal: 15, all: true }).catch(() => undefined);
      const exited = await Promise.race([this.wait(id).then(() => true), sleep(this.opts.stopGraceMs).then(() => false)]);
      if (!exited) {
        await this.cc.unary(this.cc.tasks, this.cc.tasks.kill, { containerId: cid, signal: 9, all: true }).catch(() => undefined);
        await Promise.race([this.wait(id), sleep(5000)]);
      }
    }
    await this.remove(cid);
    await rm(this.socketDir(id), { recursive: true, force: true });
  }

  private async exists(id: string): Promise<boolean> {
    try {
      await this.cc.unary(this.cc.tasks, this.cc.tasks.get, { containerId: containerIdOf(id) });
      return true;
    } catch (err) {
      return !isNotFound(err);
    }
  }

  private async remove(cid: string): Promise<void> {
    if (await this.running(cid)) {
      await this.cc.unary(this.cc.tasks, this.cc.tasks.kill, { containerId: cid, signal: 9, all: true }).catch(() => undefined);
      // a task is deleted only once stopped
      for (let i = 0; i < 50 && (await this.running(cid)); i++) await sleep(100);
    }
    await this.cc.unary(this.cc.tasks, this.cc.tasks.delete, { containerId: cid }).catch((err) => {
      if (!isNotFound(err)) this.log.warn({ err, containerId: cid }, 'plugin task delete failed');
    });
    await this.cc.unary(this.cc.containers, this.cc.containers.delete, { id: cid }).catch((err) => {
      if (!isNotFound(err)) this.log.warn({ err, containerId: cid }, 'plugin container delete failed');
    });
  }
}

/** dockerd's DevicesFromPath for one device node: its type, numbers and mode as the host has them. */
async function hostDevice(path: string): Promise<DeviceOption['device']> {
  const st = await stat(path).catch(() => {
    throw new InternalError(`error gathering device information while adding custom device "${path}": no such file or directory`);
  });
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : '';
  if (!type) throw new InternalError(`error gathering device information while adding custom device "${path}": not a device node`);
  // glibc's major()/minor() of a 64-bit dev_t
  const rdev = BigInt(st.rdev);
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { path, type, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function dial(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const t = setTimeout(() => (s.destroy(), resolve(false)), 1000);
    s.once('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
    s.once('error', () => (clearTimeout(t), resolve(false)));
  });
}
