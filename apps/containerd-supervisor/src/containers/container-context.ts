import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@drydock/logging';
import { InvalidArgumentError, NotFoundError, isNotFound, isUnavailable } from '@drydock/errors';
import type { ContainerdClient } from '../containerd/containerd-client';
import type { ContainerStore, StoredContainer } from './container-store';
import type { ContainerStateRecord } from './record';
import { KeyedLock } from './keyed-lock';
import type { HookContainer, LifecycleHooks } from './lifecycle-hooks';
import { LOCAL_NAMES, type ContainerEvents, type ImageLookup, type LogBackend, type LogWriterHandle, type NameRegistry, type SnapshotOps, type SpecBuilder, type VolumeOps, type VolumeSeeder } from './ports';

export type RunStatus = 'none' | 'created' | 'running' | 'paused' | 'stopped';

/** In-memory runtime facts about one container; rebuilt from containerd on start. */
export interface Runtime {
  task: RunStatus;
  pid: number;
  startedAtMs: number;
  stdin?: FileHandle;
  logger?: LogWriterHandle;
  /** The back-off before a policy restart (the state is `c.state.restarting`; this is only its clock). */
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

/** One container: its stored record and what this process knows about its task. */
export interface Entry {
  c: StoredContainer;
  rt: Runtime;
}

/** Whether a restart policy may start container `id` (with these labels) again now. */
export type RestartGate = (id: string, labels: Record<string, string>) => Promise<boolean>;

export interface ContainerManagerOptions {
  stateDir: string;
  nodeId: string;
  cgroupParent: string;
  hostCpus: number;
}

/** The ports the container verbs use (see ports.ts). */
export interface ContainerDeps {
  cc: ContainerdClient;
  store: ContainerStore;
  images: ImageLookup;
  snapshots: SnapshotOps;
  logBackend: LogBackend;
  specs: SpecBuilder;
  events: ContainerEvents;
  volumes: VolumeOps;
  seeder: VolumeSeeder;
  /** Cluster-wide names (LOCAL_NAMES when absent). */
  names?: NameRegistry;
  /**
   * Asked before a restart policy starts a container again (at boot or after an exit): false
   * leaves it exited. In a cluster, a container rescheduled to another node must not run here.
   */
  restartGate?: RestartGate;
}

export const newRuntime = (): Runtime => ({ task: 'none', pid: 0, startedAtMs: 0, restartDelayMs: 0, removing: false, oom: false, exitWaiters: [], removeWaiters: [] });

export function isRunning(e: Entry): boolean {
  return e.rt.task === 'running' || e.rt.task === 'paused';
}

/**
 * The run's output may still grow: it runs, or its exit is being recorded, which waits for
 * the log writer to append the last output. Log followers end only once this is false.
 */
export function outputMayGrow(e: Entry): boolean {
  return isRunning(e) || e.rt.task === 'stopped' || !!e.rt.starting;
}

/** Docker's State.Status of a container. */
export function statusOf(e: Entry): string {
  if (e.rt.removing) return 'removing';
  if (e.c.state.restarting) return 'restarting';
  // 'stopped': the exit is being recorded (its output drained first): running until it is, as in dockerd
  if (e.rt.task === 'running' || e.rt.task === 'stopped') return 'running';
  if (e.rt.task === 'paused') return 'paused';
  if (e.c.state.startedAtNs || e.c.state.finishedAtNs) return 'exited';
  return 'created';
}

export function actor(c: StoredContainer): { id: string; name: string; image: string; labels: Record<string, string> } {
  return { id: c.spec.id, name: c.name, image: c.spec.image, labels: c.labels };
}

/** What a lifecycle hook is told about the container. */
export function hookContainer(e: Entry): HookContainer {
  return { id: e.c.spec.id, name: e.c.name, spec: e.c.spec };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The one store the container verbs (create.ts, start.ts, exit.ts, stop.ts,
 * remove.ts, ...) share: the entries, the per-container lock, the ports and
 * the few task/state primitives more than one verb needs.
 */
export class ContainerContext implements ContainerDeps {
  readonly entries = new Map<string, Entry>();
  /** start/stop/kill/remove/update of one container run one at a time. */
  readonly lock = new KeyedLock();
  /** Name checks and record writes (create, rename) run one at a time, so two cannot take one name. */
  readonly nameLock = new KeyedLock();
  readonly log: Logger;
  closed = false;

  readonly cc: ContainerdClient;
  readonly store: ContainerStore;
  readonly images: ImageLookup;
  readonly snapshots: SnapshotOps;
  readonly logBackend: LogBackend;
  readonly specs: SpecBuilder;
  readonly events: ContainerEvents;
  readonly volumes: VolumeOps;
  readonly seeder: VolumeSeeder;
  readonly names: NameRegistry;
  readonly restartGate?: RestartGate;

  constructor(deps: ContainerDeps, readonly opts: ContainerManagerOptions, readonly hooks: LifecycleHooks, logger: Logger) {
    ({ cc: this.cc, store: this.store, images: this.images, snapshots: this.snapshots, logBackend: this.logBackend, specs: this.specs, events: this.events, volumes: this.volumes, seeder: this.seeder } = deps);
    this.names = deps.names ?? LOCAL_NAMES;
    this.restartGate = deps.restartGate;
    this.log = logger.child({ component: 'container-manager' });
  }

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

  /** The container holding a name, if any. */
  nameOwner(name: string): Entry | undefined {
    for (const e of this.entries.values()) if (e.c.name === name) return e;
    return undefined;
  }

  dir(id: string): string {
    return join(this.opts.stateDir, 'containers', id);
  }

  logPath(id: string): string {
    return join(this.dir(id), 'container.log');
  }

  /** Writes the state (the entry's, or one about to become it) to containerd, retrying while containerd is briefly unavailable. */
  async saveState(e: Entry, state: ContainerStateRecord = e.c.state): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.entries.has(e.c.spec.id)) return;
        await this.store.saveState(e.c.spec.id, state);
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isUnavailable(err) || attempt > 100 || this.closed) throw err;
        await sleep(Math.min(100 * 2 ** attempt, 2000));
      }
    }
  }

  /** Deletes the container's task (killing it first if asked); true when no task is left. */
  async deleteTask(id: string, kill = false): Promise<boolean> {
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

  signal(e: Entry, sig: number, all: boolean): Promise<unknown> {
    return this.cc.unary(this.cc.tasks, this.cc.tasks.kill, { containerId: e.c.spec.id, signal: sig, all });
  }

  resumeTask(id: string): Promise<unknown> {
    return this.cc.unary(this.cc.tasks, this.cc.tasks.resume, { containerId: id });
  }

  /** Resolves with the exit code of the current run (at once if none runs). */
  waitExit(e: Entry): Promise<number> {
    if (!isRunning(e)) return Promise.resolve(e.c.state.exitCode);
    return new Promise((r) => e.rt.exitWaiters.push(r));
  }
}
