import { existsSync } from 'node:fs';
import { mkdir, open, rm, writeFile, readFile, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '@drydock/logging';
import type { supervisorV1 } from '@drydock/proto';
import { ctrTypesTask } from '@drydock/proto';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  isNotFound,
  isUnavailable,
} from '@drydock/errors';
import type { ContainerdClient } from '../containerd/containerd-client';
import { ContainerStore, type StoredContainer } from './container-store';
import { containerFilter, type Filter, type FilterableContainer } from './filters';
import { humanDuration } from './human';
import { KeyedLock } from './keyed-lock';
import { newContainerId, normalizeName, randomName } from './names';
import type { ContainerEvents, ImageLookup, LogBackend, LogEntryOut, LogReadOptions, LogWriterHandle, Mount, SnapshotOps, SpecBuilder, VolumeOps, VolumeSeeder } from './ports';
import { initialState, nowNs, nsToTimestamp, timestampToNs, type ContainerSpecRecord, type ContainerStateRecord } from './record';
import { nextRestartDelayMs, restartsOnBoot, shouldRestart, validateRestartPolicy } from './restart-policy';
import { mergeEnv, parseSignal } from '@drydock/oci-spec';

export type RunStatus = 'none' | 'created' | 'running' | 'paused' | 'stopped';

/** In-memory runtime facts about one container; rebuilt from containerd on start. */
interface Runtime {
  task: RunStatus;
  pid: number;
  startedAtMs: number;
  stdin?: FileHandle;
  logger?: LogWriterHandle;
  restartTimer?: NodeJS.Timeout;
  restartDelayMs: number;
  removing: boolean;
  oom: boolean;
  /** Set while a start is between Tasks.Create and the end of Tasks.Start. */
  starting?: Promise<void>;
  /** Set while an exit is being recorded (task delete, state write, die event). */
  exiting?: Promise<void>;
  /** Stdin written before the run started (docker run -i attaches first), and whether it was closed. */
  pendingStdin?: { chunks: Buffer[]; bytes: number; closed: boolean };
  /** Stdin writes and closes run one after another, in arrival order. */
  stdinChain?: Promise<void>;
  exitWaiters: ((code: number) => void)[];
  removeWaiters: ((code: number) => void)[];
}

interface Entry {
  c: StoredContainer;
  rt: Runtime;
}

export interface ContainerManagerOptions {
  stateDir: string;
  nodeId: string;
  cgroupParent: string;
  hostCpus: number;
}

const newRuntime = (): Runtime => ({ task: 'none', pid: 0, startedAtMs: 0, restartDelayMs: 0, removing: false, oom: false, exitWaiters: [], removeWaiters: [] });

/**
 * The container lifecycle on this node. containerd is the source of truth: every
 * change is written there before it is reported, and `load()` rebuilds the whole
 * view (adopting running tasks, recording exits that happened while the
 * supervisor was away, resuming restart policies).
 */
export class ContainerManager {
  private readonly entries = new Map<string, Entry>();
  private readonly lock = new KeyedLock();
  private readonly createLock = new KeyedLock();
  private readonly log: Logger;
  private closed = false;

  constructor(
    private readonly cc: ContainerdClient,
    private readonly store: ContainerStore,
    private readonly images: ImageLookup,
    private readonly snapshots: SnapshotOps,
    private readonly logBackend: LogBackend,
    private readonly specs: SpecBuilder,
    private readonly events: ContainerEvents,
    private readonly volumes: VolumeOps,
    private readonly seeder: VolumeSeeder,
    private readonly opts: ContainerManagerOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'container-manager' });
  }

  // ------------------------------------------------------------------ loading

  /** Loads every container from containerd and reconciles it with its task. */
  async load(): Promise<void> {
    const stored = await this.store.list();
    for (const c of stored) {
      const existing = this.entries.get(c.spec.id);
      if (existing) existing.c = c;
      else this.entries.set(c.spec.id, { c, rt: newRuntime() });
    }
    await this.reconcile();
    for (const e of this.entries.values()) {
      if (e.rt.task === 'none' && e.c.spec.hostConfig.autoRemove && e.c.state.startedAtNs) {
        // an auto-remove container whose run ended while the supervisor was away (or mid-removal)
        void this.remove(e.c.spec.id, { force: true }).catch((err) => this.log.warn({ err, containerId: e.c.spec.id }, 'auto-remove on boot failed'));
        continue;
      }
      if (e.rt.task === 'none' && !e.rt.restartTimer && restartsOnBoot(e.c.spec.hostConfig.restartPolicy, e.c.state.manuallyStopped) && e.c.state.startedAtNs) {
        this.log.info({ containerId: e.c.spec.id }, 'restarting container on boot');
        void this.start(e.c.spec.id).catch((err) => this.log.warn({ err, containerId: e.c.spec.id }, 'boot restart failed'));
      }
    }
    this.log.info({ containers: this.entries.size }, 'containers loaded');
  }

  /**
   * Compares the view with containerd's tasks: adopts running tasks and handles
   * exits that were missed (supervisor down, event stream broken).
   */
  async reconcile(): Promise<void> {
    const res = await this.cc.unary(this.cc.tasks, this.cc.tasks.list, {});
    const tasks = new Map((res.tasks ?? []).map((t) => [t.id || t.containerId || '', t]));
    for (const e of this.entries.values()) {
      const id = e.c.spec.id;
      const t = tasks.get(id);
      if (e.rt.starting) continue;
      if (!t) {
        if (e.rt.task === 'running' || e.rt.task === 'paused') {
          // The task vanished without an exit we saw (containerd lost it): dockerd reports 255.
          await this.handleExit(id, 255, undefined);
        }
        continue;
      }
      switch (t.status) {
        case ctrTypesTask.Status.RUNNING:
        case ctrTypesTask.Status.PAUSED:
        case ctrTypesTask.Status.PAUSING:
          e.rt.task = t.status === ctrTypesTask.Status.RUNNING ? 'running' : 'paused';
          e.rt.pid = t.pid ?? 0;
          if (!e.rt.startedAtMs) e.rt.startedAtMs = Number(BigInt(e.c.state.startedAtNs ?? '0') / 1000000n);
          break;
        case ctrTypesTask.Status.STOPPED: {
          if (e.rt.task === 'stopped') break; // exit handling already in flight
          const exitedNs = timestampToNs(t.exitedAt);
          if (e.rt.task === 'none' && e.c.state.finishedAtNs && exitedNs && BigInt(e.c.state.finishedAtNs) >= BigInt(exitedNs)) {
            await this.deleteTask(id); // recorded already; only the task lingered
            break;
          }
          e.rt.task = 'running';
          await this.handleExit(id, t.exitStatus ?? 255, exitedNs);
          break;
        }
        case ctrTypesTask.Status.CREATED:
          // Created but never started: the supervisor died mid-start. Deleting the task closes
          // the shim's FIFO ends; the run's log writer then arms itself, drains and exits.
          await this.deleteTask(id);
          e.rt.task = 'none';
          break;
        default:
          break;
      }
    }
  }

  // ------------------------------------------------------------------ lookups

  /** Finds a container by full id, name or unique id prefix, as dockerd does. */
  resolve(ref: string): Entry {
    const byId = this.entries.get(ref);
    if (byId) return byId;
    const name = ref.replace(/^\//, '');
    for (const e of this.entries.values()) if (e.c.name === name) return e;
    if (/^[0-9a-f]+$/.test(ref) && ref.length > 0) {
      const matches = [...this.entries.values()].filter((e) => e.c.spec.id.startsWith(ref));
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw new InvalidArgumentError(`Multiple IDs found with provided prefix: ${ref}`);
    }
    throw new NotFoundError(`No such container: ${ref}`);
  }

  private status(e: Entry): string {
    if (e.rt.removing) return 'removing';
    if (e.rt.restartTimer) return 'restarting';
    if (e.rt.task === 'running') return 'running';
    if (e.rt.task === 'paused') return 'paused';
    if (e.c.state.startedAtNs || e.c.state.finishedAtNs) return 'exited';
    return 'created';
  }

  private isRunning(e: Entry): boolean {
    return e.rt.task === 'running' || e.rt.task === 'paused';
  }

  private dir(id: string): string {
    return join(this.opts.stateDir, 'containers', id);
  }

  logPath(id: string): string {
    return join(this.dir(id), 'container.log');
  }

  // ------------------------------------------------------------------ create

  async create(req: supervisorV1.CreateContainerRequest): Promise<{ id: string; warnings: string[] }> {
    const config = req.config;
    if (!config?.image) throw new InvalidArgumentError('config.image is required');
    const hc: supervisorV1.HostConfig = req.hostConfig ?? {};
    validateRestartPolicy(hc.restartPolicy, hc.autoRemove ?? false);
    this.specs.validateHostConfig(hc);
    if (hc.init) throw new InvalidArgumentError('init processes are not supported on this node yet');
    const netMode = hc.networkMode ?? '';
    if (!['', 'default', 'none', 'host', 'bridge'].includes(netMode)) {
      throw new NotFoundError(`network ${netMode} not found`);
    }
    for (const m of hc.mounts ?? []) this.validateMount(m);
    const image = await this.images.resolveImage(config.image);

    // The name check and the record write are serialized so two creates cannot take one name.
    return this.createLock.run('create', async () => {
      let name: string;
      if (req.name) {
        name = normalizeName(req.name);
        const owner = [...this.entries.values()].find((e) => e.c.name === name);
        if (owner) {
          throw new AlreadyExistsError(
            `Conflict. The container name "/${name}" is already in use by container "${owner.c.spec.id}". You have to remove (or rename) that container to be able to reuse that name.`,
          );
        }
      } else {
        name = randomName((n) => [...this.entries.values()].some((e) => e.c.name === n));
      }
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
      };
      const stored: StoredContainer = { spec, state: initialState(), name, labels: resolvedConfig.labels ?? {} };
      const dir = this.dir(id);
      let prepared = false;
      try {
        await mkdir(dir, { recursive: true });
        const newVolumes = new Set<string>();
        for (const m of hc.mounts ?? []) {
          if (m.type === 'volume' && m.source && (await this.volumes.ensure(m.source)).created) newVolumes.add(m.source);
        }
        const files = await this.writeHostFiles(dir, resolvedConfig);
        // exists from the start, so an attach made before the first start follows it from byte 0
        await writeFile(this.logPath(id), '', { flag: 'a', mode: 0o640 });
        const rootfs = await this.snapshots.prepare(id, image.chainId);
        prepared = true;
        await this.copyUpVolumes(id, hc.mounts ?? [], newVolumes, rootfs);
        const oci = await this.specs.build({ record: spec, name, image, rootfs, files, volumesDir: this.volumes.root });
        await this.store.create(stored, oci, id);
      } catch (err) {
        // nothing half-made: snapshot, directory and record go together
        if (prepared) await this.snapshots.remove(id).catch(() => undefined);
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
        throw err;
      }
      this.entries.set(id, { c: stored, rt: newRuntime() });
      this.events.container('create', this.actor(stored));
      const warnings: string[] = [];
      return { id, warnings };
    });
  }

  /**
   * Docker's copy-up: a volume that is new (created by this container) and
   * still empty gets the image's content at the mount target, unless the mount
   * asks for `nocopy`. Done at create, from the fresh snapshot (the image's view).
   */
  private async copyUpVolumes(id: string, mounts: supervisorV1.Mount[], newVolumes: Set<string>, rootfs: Mount[]): Promise<void> {
    for (const m of mounts) {
      if (m.type !== 'volume' || !m.source || !newVolumes.has(m.source)) continue;
      if ((m.options ?? '').split(',').includes('nocopy')) continue;
      if (!(await this.volumes.isEmpty(m.source))) continue;
      await this.seeder.copyUp(rootfs, m.target ?? '/', this.volumes.dataPath(m.source));
      this.log.debug({ containerId: id, volume: m.source, target: m.target }, 'volume populated from image');
    }
  }

  private validateMount(m: supervisorV1.Mount): void {
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

  private async writeHostFiles(dir: string, cfg: supervisorV1.ContainerConfig): Promise<{ hostname: string; hosts: string; resolvConf: string }> {
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

  // ------------------------------------------------------------------ start

  /** Starts a container; returns false if it was already running (HTTP 304). */
  start(ref: string): Promise<boolean> {
    const e = this.resolve(ref);
    const id = e.c.spec.id;
    return this.lock.run(id, () => this.startLocked(e)).catch(async (err) => {
      // dockerd removes an AutoRemove container whose start failed before answering; `docker run
      // --rm` waits for that removal (wait?condition=removed) and would otherwise hang.
      if (e.c.spec.hostConfig.autoRemove && !e.rt.removing && this.entries.has(id)) {
        await this.remove(id, { force: true }).catch((rmErr) => this.log.warn({ err: rmErr, containerId: id }, 'auto-remove after a failed start failed'));
      }
      throw err;
    });
  }

  private async startLocked(e: Entry): Promise<boolean> {
    const id = e.c.spec.id;
    if (!this.entries.has(id)) throw new NotFoundError(`No such container: ${id}`);
    if (e.rt.exiting) await e.rt.exiting;
    if (e.rt.removing) throw new FailedPreconditionError(`container is marked for removal and cannot be started`);
    if (e.rt.task === 'paused') throw new FailedPreconditionError('cannot start a paused container, try unpause instead');
    if (e.rt.task === 'running') return false;
    // a pending policy restart is superseded by this start (the timer may also be what called us)
    if (e.rt.restartTimer) clearTimeout(e.rt.restartTimer);
    const cfg = e.c.spec.config;
    const runDir = join(this.dir(id), 'io', randomBytes(6).toString('hex'));
    await mkdir(runDir, { recursive: true });
    const fifos = {
      stdout: join(runDir, 'stdout'),
      stderr: cfg.tty ? undefined : join(runDir, 'stderr'),
      stdin: cfg.openStdin ? join(runDir, 'stdin') : undefined,
    };
    let done!: () => void;
    e.rt.starting = new Promise<void>((r) => (done = r));
    let logger: LogWriterHandle | undefined;
    let taskCreated = false;
    try {
      // a stopped task of the previous run lingers only if its deletion failed
      if (e.c.state.ioDir) await this.deleteTask(id);
      const [rootfs, writer] = await Promise.all([
        this.snapshots.mounts(id),
        this.logBackend.spawnWriter({
          logPath: this.logPath(id),
          stdoutFifo: fifos.stdout,
          stderrFifo: fifos.stderr,
          stdinFifo: fifos.stdin,
          holdStdin: !!cfg.openStdin && !cfg.stdinOnce,
        }),
      ]);
      logger = writer;
      if (fifos.stdin) {
        // O_RDWR on a FIFO never blocks, and holding a writer before the shim opens
        // its reader keeps the container's stdin from seeing EOF at once.
        e.rt.stdin = await open(fifos.stdin, 'r+');
      }
      const created = await this.cc.unary(this.cc.tasks, this.cc.tasks.create, {
        containerId: id,
        rootfs,
        stdin: fifos.stdin,
        stdout: fifos.stdout,
        stderr: fifos.stderr,
        terminal: !!cfg.tty,
      });
      taskCreated = true;
      logger.arm();
      e.rt.logger = logger;
      e.rt.pid = created.pid ?? 0;
      e.rt.oom = false;
      const startedAtNs = nowNs();
      e.c.state = { ...e.c.state, startedAtNs, finishedAtNs: e.c.state.finishedAtNs, oomKilled: false, error: '', ioDir: runDir };
      e.rt.task = 'running';
      e.rt.startedAtMs = Date.now();
      // the state write and the start are independent: a crash between them is reconciled from the task
      await Promise.all([this.cc.unary(this.cc.tasks, this.cc.tasks.start, { containerId: id }), this.saveState(e)]);
    } catch (err) {
      e.rt.task = 'none';
      await e.rt.stdin?.close().catch(() => undefined);
      e.rt.stdin = undefined;
      if (taskCreated) await this.deleteTask(id, true);
      logger?.abort();
      await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
      const { message, exitCode } = translateStartError(err);
      e.c.state = { ...e.c.state, error: message, exitCode, finishedAtNs: e.c.state.startedAtNs ? nowNs() : e.c.state.finishedAtNs };
      await this.saveState(e).catch(() => undefined);
      done();
      e.rt.starting = undefined;
      e.rt.restartTimer = undefined;
      if (isUnavailable(err)) throw err;
      throw new InvalidArgumentError(message, { cause: err });
    }
    done();
    e.rt.starting = undefined;
    e.rt.restartTimer = undefined;
    this.events.container('start', this.actor(e.c));
    this.flushPendingStdin(e);
    return true;
  }

  // ------------------------------------------------------------------ exits

  /** Called by the task monitor for every init-process exit (idempotent). */
  async handleExit(id: string, exitStatus: number, exitedAtNs: string | undefined): Promise<void> {
    const e = this.entries.get(id);
    if (!e) return;
    if (e.rt.starting) await e.rt.starting;
    if (e.rt.task !== 'running' && e.rt.task !== 'paused') return;
    e.rt.task = 'stopped';
    let exitDone!: () => void;
    e.rt.exiting = new Promise<void>((r) => (exitDone = r));
    try {
      await this.recordExit(e, exitStatus, exitedAtNs);
    } finally {
      e.rt.exiting = undefined;
      exitDone();
    }
  }

  private async recordExit(e: Entry, exitStatus: number, exitedAtNs: string | undefined): Promise<void> {
    const id = e.c.spec.id;
    const ranMs = Date.now() - e.rt.startedAtMs;
    const ioDir = e.c.state.ioDir;
    e.c.state = { ...e.c.state, exitCode: exitStatus, finishedAtNs: exitedAtNs ?? nowNs(), oomKilled: e.rt.oom || e.c.state.oomKilled };
    e.rt.task = 'none';
    e.rt.pid = 0;
    void e.rt.stdin?.close().catch(() => undefined);
    e.rt.stdin = undefined;
    e.rt.logger = undefined;
    e.rt.pendingStdin = undefined; // stdin sent to a run that ended is not kept for the next one
    // Waiters and the die event go first: containerd keeps the exit in the stopped
    // task until Tasks.Delete, so a crash before the writes below is re-read on boot.
    this.events.container('die', this.actor(e.c), { exitCode: String(exitStatus) });
    for (const w of e.rt.exitWaiters.splice(0)) w(exitStatus);
    // The exit is persisted before the task that also holds it is deleted; an auto-remove
    // container is deleted right after instead (load() finishes removals a crash interrupted).
    if (!e.c.spec.hostConfig.autoRemove) await this.saveState(e);
    if (await this.deleteTask(id)) e.c.state.ioDir = undefined;
    if (ioDir) await rm(ioDir, { recursive: true, force: true }).catch(() => undefined);

    const hc = e.c.spec.hostConfig;
    if (hc.autoRemove && !e.rt.removing) {
      void this.remove(id, { force: true }).catch((err) => this.log.warn({ err, containerId: id }, 'auto-remove failed'));
      return;
    }
    if (!e.rt.removing && shouldRestart(hc.restartPolicy, exitStatus, e.c.state.restartCount, e.c.state.manuallyStopped)) {
      e.rt.restartDelayMs = nextRestartDelayMs(e.rt.restartDelayMs, ranMs);
      this.log.info({ containerId: id, delayMs: e.rt.restartDelayMs }, 'restart scheduled');
      e.rt.restartTimer = setTimeout(() => {
        if (this.closed || e.rt.removing || !this.entries.has(id)) return;
        e.c.state.restartCount += 1;
        void this.lock
          .run(id, () => this.startLocked(e))
          .then(() => this.events.container('restart', this.actor(e.c)))
          .catch((err) => this.log.warn({ err, containerId: id }, 'policy restart failed'));
      }, e.rt.restartDelayMs);
      e.rt.restartTimer.unref();
    }
  }

  /** Called by the task monitor when the kernel OOM-killed a process of the container. */
  handleOom(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.rt.oom = true;
    this.events.container('oom', this.actor(e.c));
    // The shim's OOM notice can trail the exit it caused: mark the run that just ended.
    if (e.rt.task === 'none' && e.c.state.finishedAtNs && !e.c.state.oomKilled) {
      const ageMs = Date.now() - Number(BigInt(e.c.state.finishedAtNs) / 1000000n);
      if (ageMs < 5000) {
        e.c.state.oomKilled = true;
        void this.saveState(e).catch((err) => this.log.warn({ err, containerId: id }, 'oom state not saved'));
      }
    }
  }

  private waitExit(e: Entry): Promise<number> {
    if (!this.isRunning(e)) return Promise.resolve(e.c.state.exitCode);
    return new Promise((r) => e.rt.exitWaiters.push(r));
  }

  // ------------------------------------------------------------------ stop / kill

  /** Stops a container; returns false if it was not running (HTTP 304). */
  stop(ref: string, timeoutSeconds?: number): Promise<boolean> {
    const e = this.resolve(ref);
    return this.lock.run(e.c.spec.id, () => this.stopLocked(e, timeoutSeconds));
  }

  private async stopLocked(e: Entry, timeoutSeconds?: number): Promise<boolean> {
    if (e.rt.restartTimer) {
      clearTimeout(e.rt.restartTimer);
      e.rt.restartTimer = undefined;
      e.c.state.manuallyStopped = true;
      await this.saveState(e);
      return true;
    }
    if (!this.isRunning(e)) return false;
    e.c.state.manuallyStopped = true;
    await this.saveState(e);
    const timeout = timeoutSeconds ?? e.c.spec.config.stopTimeout ?? 10;
    const sig = parseSignal(e.c.spec.config.stopSignal || 'SIGTERM');
    const exited = this.waitExit(e);
    if (e.rt.task === 'paused') await this.resumeTask(e.c.spec.id).catch(() => undefined);
    await this.signal(e, sig, false).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
    this.events.container('kill', this.actor(e.c), { signal: String(sig) });
    const inTime = timeout < 0 ? await exited.then(() => true) : await Promise.race([exited.then(() => true), sleep(timeout * 1000).then(() => false)]);
    if (!inTime) {
      await this.signal(e, 9, true).catch((err) => {
        if (!isNotFound(err)) throw err;
      });
      this.events.container('kill', this.actor(e.c), { signal: '9' });
      await exited;
    }
    this.events.container('stop', this.actor(e.c));
    return true;
  }

  async kill(ref: string, signal: string): Promise<void> {
    const e = this.resolve(ref);
    const sig = parseSignal(signal || 'SIGKILL');
    await this.lock.run(e.c.spec.id, async () => {
      if (!this.isRunning(e)) throw new FailedPreconditionError(`Cannot kill container: ${ref}: Container ${e.c.spec.id} is not running`);
      if (sig === 9 || sig === 15 || sig === 2) {
        e.c.state.manuallyStopped = true;
        await this.saveState(e);
      }
      await this.signal(e, sig, sig === 9);
      this.events.container('kill', this.actor(e.c), { signal: String(sig) });
    });
  }

  private signal(e: Entry, sig: number, all: boolean): Promise<unknown> {
    return this.cc.unary(this.cc.tasks, this.cc.tasks.kill, { containerId: e.c.spec.id, signal: sig, all });
  }

  async restart(ref: string, timeoutSeconds?: number): Promise<void> {
    const e = this.resolve(ref);
    await this.lock.run(e.c.spec.id, async () => {
      await this.stopLocked(e, timeoutSeconds);
      e.c.state.manuallyStopped = false;
      await this.startLocked(e);
    });
    this.events.container('restart', this.actor(e.c));
  }

  // ------------------------------------------------------------------ pause

  async pause(ref: string): Promise<void> {
    const e = this.resolve(ref);
    await this.lock.run(e.c.spec.id, async () => {
      if (e.rt.task === 'paused') throw new FailedPreconditionError(`Container ${e.c.spec.id} is already paused`);
      if (e.rt.task !== 'running') throw new FailedPreconditionError(`Container ${e.c.spec.id} is not running`);
      await this.cc.unary(this.cc.tasks, this.cc.tasks.pause, { containerId: e.c.spec.id });
      e.rt.task = 'paused';
      this.events.container('pause', this.actor(e.c));
    });
  }

  async resume(ref: string): Promise<void> {
    const e = this.resolve(ref);
    await this.lock.run(e.c.spec.id, async () => {
      if (e.rt.task !== 'paused') throw new FailedPreconditionError(`Container ${e.c.spec.id} is not paused`);
      await this.resumeTask(e.c.spec.id);
      e.rt.task = 'running';
      this.events.container('unpause', this.actor(e.c));
    });
  }

  private resumeTask(id: string): Promise<unknown> {
    return this.cc.unary(this.cc.tasks, this.cc.tasks.resume, { containerId: id });
  }

  // ------------------------------------------------------------------ wait

  /**
   * Registers a wait; `registered` resolves once it can no longer miss the exit,
   * `result` with the exit code.
   */
  wait(ref: string, condition: 'not-running' | 'next-exit' | 'removed'): { registered: Promise<void>; result: Promise<number>; cancel: () => void } {
    const e = this.resolve(ref);
    let cancel = () => {};
    const result = new Promise<number>((resolve) => {
      if (condition === 'not-running' && !this.isRunning(e) && e.rt.task !== 'stopped' && !e.rt.starting && !e.rt.restartTimer) {
        resolve(e.c.state.exitCode);
        return;
      }
      const list = condition === 'removed' ? e.rt.removeWaiters : e.rt.exitWaiters;
      list.push(resolve);
      cancel = () => {
        const i = list.indexOf(resolve);
        if (i >= 0) list.splice(i, 1);
      };
    });
    return { registered: Promise.resolve(), result, cancel };
  }

  // ------------------------------------------------------------------ remove

  remove(ref: string, opts: { force: boolean }): Promise<void> {
    const e = this.resolve(ref);
    const id = e.c.spec.id;
    return this.lock.run(id, async () => {
      if (!this.entries.has(id)) return;
      if (e.rt.exiting) await e.rt.exiting;
      if (this.isRunning(e) && !opts.force) {
        if (e.rt.task === 'paused') {
          throw new FailedPreconditionError(`You cannot remove a paused container ${id}. Unpause and then stop the container before attempting removal or force remove`);
        }
        throw new FailedPreconditionError(`You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`);
      }
      e.rt.removing = true;
      if (e.rt.restartTimer) {
        clearTimeout(e.rt.restartTimer);
        e.rt.restartTimer = undefined;
      }
      try {
        if (this.isRunning(e)) {
          const exited = this.waitExit(e);
          if (e.rt.task === 'paused') await this.resumeTask(id).catch(() => undefined);
          await this.signal(e, 9, true).catch((err) => {
            if (!isNotFound(err)) throw err;
          });
          this.events.container('kill', this.actor(e.c), { signal: '9' });
          await exited;
        }
        if (e.c.state.ioDir || e.rt.task !== 'none') await this.deleteTask(id, true);
        await this.store.delete(id);
      } catch (err) {
        e.rt.removing = false;
        throw err;
      }
      // The record is gone from containerd: the container no longer exists. Waiters (docker
      // run --rm) are answered now; the snapshot and files go after (a leftover snapshot
      // without a container or lease is collected by containerd's GC).
      this.entries.delete(id);
      this.events.container('destroy', this.actor(e.c));
      for (const w of e.rt.removeWaiters.splice(0)) w(e.c.state.exitCode);
      for (const w of e.rt.exitWaiters.splice(0)) w(e.c.state.exitCode);
      await Promise.all([
        this.snapshots.remove(id).catch((err) => this.log.warn({ err, containerId: id }, 'container snapshot not removed')),
        rm(this.dir(id), { recursive: true, force: true }).catch((err) => this.log.warn({ err, containerId: id }, 'container directory not removed')),
      ]);
    });
  }

  // ------------------------------------------------------------------ rename / update

  async rename(ref: string, newName: string): Promise<void> {
    const e = this.resolve(ref);
    const name = normalizeName(newName);
    await this.createLock.run('create', async () => {
      if (e.c.name === name) throw new InvalidArgumentError('Renaming a container with the same name as its current name');
      const owner = [...this.entries.values()].find((x) => x.c.name === name);
      if (owner) {
        throw new AlreadyExistsError(`Conflict. The container name "/${name}" is already in use by container "${owner.c.spec.id}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
      const old = e.c.name;
      await this.store.rename(e.c.spec.id, name);
      e.c.name = name;
      this.events.container('rename', this.actor(e.c), { oldName: `/${old}` });
    });
  }

  async update(req: supervisorV1.UpdateContainerRequest): Promise<string[]> {
    const e = this.resolve(req.id ?? '');
    return this.lock.run(e.c.spec.id, async () => {
      const hc: supervisorV1.HostConfig = { ...e.c.spec.hostConfig };
      for (const k of ['memory', 'memorySwap', 'nanoCpus', 'cpuShares', 'cpuPeriod', 'cpuQuota'] as const) {
        if (req[k] !== undefined) hc[k] = req[k];
      }
      if (req.nanoCpus !== undefined && req.nanoCpus !== '0') {
        hc.cpuPeriod = '0';
        hc.cpuQuota = '0';
      }
      if (req.restartPolicy) hc.restartPolicy = req.restartPolicy;
      validateRestartPolicy(hc.restartPolicy, hc.autoRemove ?? false);
      this.specs.validateHostConfig(hc);
      const oci = this.specs.withResources(await this.store.ociSpec<object>(e.c.spec.id), hc);
      if (this.isRunning(e)) {
        await this.cc.unary(this.cc.tasks, this.cc.tasks.update, {
          containerId: e.c.spec.id,
          resources: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: Buffer.from(JSON.stringify(this.specs.resources(oci))) },
        });
      }
      e.c.spec = { ...e.c.spec, hostConfig: hc };
      await this.store.saveSpec(e.c.spec.id, e.c.spec, oci);
      this.events.container('update', this.actor(e.c));
      return [];
    });
  }

  // ------------------------------------------------------------------ views

  list(req: supervisorV1.ListContainersRequest): supervisorV1.ContainerSummary[] {
    const views = new Map([...this.entries.values()].map((e) => [e.c.spec.id, this.filterable(e)]));
    const pred = containerFilter((req.filters ?? []) as Filter[], (ref) => views.get(this.resolve(ref).c.spec.id)!);
    let rows = [...this.entries.values()]
      .filter((e) => req.all || this.isRunning(e) || (req.filters ?? []).length > 0 || e.rt.restartTimer)
      .filter((e) => pred(views.get(e.c.spec.id)!))
      .sort((a, b) => (BigInt(b.c.spec.createdNs) > BigInt(a.c.spec.createdNs) ? 1 : -1));
    // `docker ps` without -a but with a status filter still only shows running unless the filter asks otherwise
    if (!req.all && (req.filters ?? []).length > 0 && !(req.filters ?? []).some((f) => f.key === 'status' || f.key === 'exited')) {
      rows = rows.filter((e) => this.isRunning(e) || e.rt.restartTimer);
    }
    if (req.limit && req.limit > 0) rows = rows.slice(0, req.limit);
    return rows.map((e) => this.summary(e));
  }

  private filterable(e: Entry): FilterableContainer {
    const mounts = e.c.spec.hostConfig.mounts ?? [];
    return {
      id: e.c.spec.id,
      name: e.c.name,
      image: e.c.spec.image,
      imageId: e.c.spec.imageId,
      labels: e.c.labels,
      status: this.status(e),
      exitCode: e.c.state.exitCode,
      createdNs: BigInt(e.c.spec.createdNs),
      mountSources: mounts.map((m) => (m.type === 'volume' ? this.volumes.dataPath(m.source ?? '') : m.source ?? '')),
      mountDestinations: mounts.map((m) => m.target ?? ''),
      volumeNames: mounts.filter((m) => m.type === 'volume').map((m) => m.source ?? ''),
    };
  }

  private summary(e: Entry): supervisorV1.ContainerSummary {
    const s = this.status(e);
    const now = Date.now();
    const ms = (ns?: string) => (ns ? Number(BigInt(ns) / 1000000n) : now);
    let text: string;
    switch (s) {
      case 'running':
        text = `Up ${humanDuration(now - ms(e.c.state.startedAtNs))}`;
        break;
      case 'paused':
        text = `Up ${humanDuration(now - ms(e.c.state.startedAtNs))} (Paused)`;
        break;
      case 'restarting':
        text = `Restarting (${e.c.state.exitCode}) ${humanDuration(now - ms(e.c.state.finishedAtNs))} ago`;
        break;
      case 'exited':
        text = `Exited (${e.c.state.exitCode}) ${humanDuration(now - ms(e.c.state.finishedAtNs))} ago`;
        break;
      case 'removing':
        text = 'Removal In Progress';
        break;
      default:
        text = 'Created';
    }
    return {
      id: e.c.spec.id,
      name: e.c.name,
      image: e.c.spec.image,
      imageId: e.c.spec.imageId,
      command: [e.c.spec.path, ...e.c.spec.args].join(' '),
      created: nsToTimestamp(e.c.spec.createdNs),
      state: s,
      status: text,
      labels: e.c.labels,
      mounts: this.mountPoints(e),
      exitCode: e.c.state.exitCode,
    };
  }

  private mountPoints(e: Entry): supervisorV1.MountPoint[] {
    return (e.c.spec.hostConfig.mounts ?? []).map((m) => ({
      type: m.type,
      name: m.type === 'volume' ? m.source : '',
      source: m.type === 'volume' ? this.volumes.dataPath(m.source ?? '') : m.source ?? '',
      destination: m.target,
      mode: m.type === 'bind' ? (m.readOnly ? 'ro' : '') : m.type === 'volume' ? 'z' : '',
      rw: !m.readOnly,
      propagation: m.type === 'bind' ? 'rprivate' : '',
    }));
  }

  inspect(ref: string): supervisorV1.ContainerInfo {
    const e = this.resolve(ref);
    const s = this.status(e);
    return {
      id: e.c.spec.id,
      name: e.c.name,
      created: nsToTimestamp(e.c.spec.createdNs),
      path: e.c.spec.path,
      args: e.c.spec.args,
      state: {
        status: s,
        running: s === 'running' || s === 'paused',
        paused: s === 'paused',
        restarting: s === 'restarting',
        oomKilled: e.c.state.oomKilled,
        dead: false,
        pid: this.isRunning(e) ? e.rt.pid : 0,
        exitCode: e.c.state.exitCode,
        error: e.c.state.error,
        startedAt: nsToTimestamp(e.c.state.startedAtNs),
        finishedAt: nsToTimestamp(e.c.state.finishedAtNs),
      },
      imageId: e.c.spec.imageId,
      config: { ...e.c.spec.config, labels: e.c.labels },
      hostConfig: e.c.spec.hostConfig,
      mounts: this.mountPoints(e),
      restartCount: e.c.state.restartCount,
      logPath: this.logPath(e.c.spec.id),
      nodeId: this.opts.nodeId,
      driver: 'overlayfs',
    };
  }

  counts(): { total: number; running: number; paused: number; stopped: number } {
    let running = 0;
    let paused = 0;
    for (const e of this.entries.values()) {
      if (e.rt.task === 'running') running++;
      else if (e.rt.task === 'paused') paused++;
    }
    return { total: this.entries.size, running, paused, stopped: this.entries.size - running - paused };
  }

  /** Ids of containers created from an image, and whether any runs (for rmi's conflict rules). */
  imageUsers(imageId: string): { running: string[]; stopped: string[] } {
    const running: string[] = [];
    const stopped: string[] = [];
    for (const e of this.entries.values()) {
      if (e.c.spec.imageId !== imageId) continue;
      (this.isRunning(e) ? running : stopped).push(e.c.spec.id);
    }
    return { running, stopped };
  }

  /** Ids of the containers (any state) mounting the named volume: Docker's "in use". */
  volumeUsers(name: string): string[] {
    const out: string[] = [];
    for (const e of this.entries.values()) {
      if ((e.c.spec.hostConfig.mounts ?? []).some((m) => m.type === 'volume' && m.source === name)) out.push(e.c.spec.id);
    }
    return out;
  }

  /** Every container id, for disk usage. */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * What archive operations need about a container's root filesystem: the
   * init pid while it runs (its root is reachable as /proc/<pid>/root), the
   * snapshot mounts (always), and the mount targets (hidden from diff).
   */
  async rootfsTarget(ref: string): Promise<{ id: string; name: string; pid: number; mounts: Mount[]; readonlyRootfs: boolean; mountTargets: string[] }> {
    const e = this.resolve(ref);
    return {
      id: e.c.spec.id,
      name: e.c.name,
      pid: this.isRunning(e) ? e.rt.pid : 0,
      mounts: await this.snapshots.mounts(e.c.spec.id),
      readonlyRootfs: !!e.c.spec.hostConfig.readonlyRootfs,
      mountTargets: (e.c.spec.hostConfig.mounts ?? []).map((m) => m.target ?? '').filter((t) => t),
    };
  }

  // ------------------------------------------------------------------ logs / attach

  /** Recorded output, Docker `logs` semantics. */
  logs(ref: string, opts: Omit<LogReadOptions, 'isRunning'>): AsyncIterable<LogEntryOut> {
    const e = this.resolve(ref);
    const id = e.c.spec.id;
    return this.logBackend.read(this.logPath(id), { ...opts, isRunning: () => this.entries.has(id) && (this.isRunning(e) || !!e.rt.starting) });
  }

  /**
   * Attach: output from the log (live from the current end, plus history if
   * `logs`), stdin into the container's stdin FIFO. Output ends when the
   * container stops and its last line was delivered.
   */
  attach(ref: string, opts: { stdout: boolean; stderr: boolean; logs: boolean; stream: boolean; signal: AbortSignal }): { output: AsyncIterable<LogEntryOut>; tty: boolean } {
    const e = this.resolve(ref);
    if (e.rt.task === 'paused') throw new FailedPreconditionError('You cannot attach to a paused container, unpause it first');
    this.events.container('attach', this.actor(e.c));
    const id = e.c.spec.id;
    const output = this.logBackend.read(this.logPath(id), {
      stdout: opts.stdout,
      stderr: opts.stderr,
      follow: opts.stream,
      fromEnd: !opts.logs,
      signal: opts.signal,
      // attached clients (docker run) wait on the stream's end: notice the exit within 50 ms
      pollIntervalMs: 50,
      // Attached before start (docker run): keep following until a run has started and ended.
      isRunning: () => this.entries.has(id) && (this.isRunning(e) || !!e.rt.starting || (!e.c.state.startedAtNs && !e.rt.removing) || !!e.rt.restartTimer),
    });
    return { output, tty: !!e.c.spec.config.tty };
  }

  /** Writes to the container's stdin (opening the current run's FIFO if this supervisor did not start it). */
  writeStdin(ref: string, data: Buffer): Promise<void> {
    const e = this.resolve(ref);
    return this.stdinOp(e, () => this.writeStdinNow(e, data));
  }

  /** The attached client closed stdin: with StdinOnce the container sees EOF. */
  closeStdin(ref: string): Promise<void> {
    const e = this.resolve(ref);
    return this.stdinOp(e, () => this.closeStdinNow(e));
  }

  private stdinOp(e: Entry, op: () => Promise<void>): Promise<void> {
    const next = (e.rt.stdinChain ?? Promise.resolve()).then(op, op);
    e.rt.stdinChain = next.catch(() => undefined);
    return next;
  }

  private async writeStdinNow(e: Entry, data: Buffer): Promise<void> {
    if (!e.c.spec.config.openStdin) return;
    if (e.rt.starting) await e.rt.starting;
    if (!this.isRunning(e) || e.rt.pendingStdin) {
      // Before the first start the client's stdin waits here, as it would in dockerd's
      // stdin pipe; the run flushes it (and what queued behind it) once started.
      const p = (e.rt.pendingStdin ??= { chunks: [], bytes: 0, closed: false });
      if (p.bytes + data.length > MAX_PENDING_STDIN) throw new FailedPreconditionError(`Container ${e.c.spec.id} is not running`);
      p.chunks.push(Buffer.from(data));
      p.bytes += data.length;
      return;
    }
    if (!e.rt.stdin && e.c.state.ioDir) {
      e.rt.stdin = await open(join(e.c.state.ioDir, 'stdin'), 'r+');
    }
    if (e.rt.stdin) await e.rt.stdin.write(data);
  }

  private async closeStdinNow(e: Entry): Promise<void> {
    if (!e.c.spec.config.stdinOnce) return;
    if (e.rt.starting) await e.rt.starting;
    if (!this.isRunning(e) || e.rt.pendingStdin) {
      (e.rt.pendingStdin ??= { chunks: [], bytes: 0, closed: false }).closed = true;
      return;
    }
    const fh = e.rt.stdin;
    e.rt.stdin = undefined;
    await fh?.close().catch(() => undefined);
    // the shim holds a writer of its own on the stdin FIFO: only CloseIO gives the process EOF
    await this.cc.unary(this.cc.tasks, this.cc.tasks.closeIo, { containerId: e.c.spec.id, stdin: true }).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /** Hands stdin that arrived before the start to the running process (in order, then EOF if closed). */
  private flushPendingStdin(e: Entry): void {
    if (!e.rt.pendingStdin) return;
    void this.stdinOp(e, async () => {
      const p = e.rt.pendingStdin;
      e.rt.pendingStdin = undefined;
      if (!p) return;
      for (const c of p.chunks) await this.writeStdinNow(e, c);
      if (p.closed) await this.closeStdinNow(e);
    }).catch((err) => this.log.warn({ err, containerId: e.c.spec.id }, 'early stdin not delivered'));
  }

  async resize(ref: string, width: number, height: number): Promise<void> {
    const e = this.resolve(ref);
    if (!this.isRunning(e)) throw new FailedPreconditionError(`Container ${e.c.spec.id} is not running`);
    await this.cc.unary(this.cc.tasks, this.cc.tasks.resizePty, { containerId: e.c.spec.id, width, height });
  }

  /** Pids of the container's processes (for top). */
  async pids(ref: string): Promise<number[]> {
    const e = this.resolve(ref);
    if (!this.isRunning(e)) throw new FailedPreconditionError(`Container ${e.c.spec.id} is not running`);
    const res = await this.cc.unary(this.cc.tasks, this.cc.tasks.listPids, { containerId: e.c.spec.id });
    return (res.processes ?? []).map((p) => p.pid ?? 0).filter((p) => p > 0);
  }

  /** The container's cgroup path and memory limit, for stats. */
  cgroupOf(ref: string): { id: string; cgroupsPath: string; running: boolean; memoryLimit: number } {
    const e = this.resolve(ref);
    return {
      id: e.c.spec.id,
      cgroupsPath: `${this.opts.cgroupParent}/${e.c.spec.id}`,
      running: this.isRunning(e),
      memoryLimit: Number(e.c.spec.hostConfig.memory ?? 0),
    };
  }

  /** What an exec needs to know about its container. */
  async execTarget(ref: string): Promise<{ id: string; name: string; image: string; labels: Record<string, string>; ociSpec: object; rootfs: Mount[] }> {
    const e = this.resolve(ref);
    if (e.rt.task === 'paused') throw new FailedPreconditionError(`Container ${e.c.spec.id} is paused, unpause the container before exec`);
    if (!this.isRunning(e) || e.rt.restartTimer) throw new FailedPreconditionError(`Container ${e.c.spec.id} is not running`);
    return {
      id: e.c.spec.id,
      name: e.c.name,
      image: e.c.spec.image,
      labels: e.c.labels,
      ociSpec: await this.store.ociSpec<object>(e.c.spec.id),
      rootfs: await this.snapshots.mounts(e.c.spec.id),
    };
  }

  isContainerRunning(id: string): boolean {
    const e = this.entries.get(id);
    return !!e && this.isRunning(e);
  }

  // ------------------------------------------------------------------ helpers

  private actor(c: StoredContainer): { id: string; name: string; image: string; labels: Record<string, string> } {
    return { id: c.spec.id, name: c.name, image: c.spec.image, labels: c.labels };
  }

  /** Writes state to containerd, retrying while containerd is briefly unavailable. */
  private async saveState(e: Entry): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.entries.has(e.c.spec.id)) return;
        await this.store.saveState(e.c.spec.id, e.c.state);
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isUnavailable(err) || attempt > 100 || this.closed) throw err;
        await sleep(Math.min(100 * 2 ** attempt, 2000));
      }
    }
  }

  /** Deletes the container's task (killing it first if asked); true when no task is left. */
  private async deleteTask(id: string, kill = false): Promise<boolean> {
    try {
      if (kill) await this.cc.unary(this.cc.tasks, this.cc.tasks.kill, { containerId: id, signal: 9, all: true }).catch(() => undefined);
      await this.cc.unary(this.cc.tasks, this.cc.tasks.delete, { containerId: id });
      return true;
    } catch (err) {
      if (isNotFound(err)) return true;
      if (kill) {
        // a killed task needs a moment to be reaped before it can be deleted
        await sleep(50);
        return this.cc.unary(this.cc.tasks, this.cc.tasks.delete, { containerId: id }).then(
          () => true,
          (e2) => isNotFound(e2),
        );
      }
      this.log.debug({ err, containerId: id }, 'task delete failed');
      return false;
    }
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) {
      if (e.rt.restartTimer) clearTimeout(e.rt.restartTimer);
      void e.rt.stdin?.close().catch(() => undefined);
    }
  }
}

/** Stdin a not-yet-started container holds for its first run (dockerd's pipe holds 64 KiB; we allow more). */
const MAX_PENDING_STDIN = 4 * 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}


/**
 * dockerd's translation of runtime start failures: the message the user sees
 * and the exit code the CLI reports (127 not found, 126 not executable).
 */
export function translateStartError(err: unknown): { message: string; exitCode: number } {
  const raw = err instanceof Error ? err.message : String(err);
  let exitCode = 128;
  if (/executable file not found|no such file or directory/.test(raw)) exitCode = 127;
  else if (/permission denied/.test(raw)) exitCode = 126;
  const msg = raw.startsWith('failed to create shim') || raw.startsWith('OCI runtime') ? raw : `failed to create task for container: ${raw}`;
  return { message: msg, exitCode };
}
