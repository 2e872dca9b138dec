import type { Logger } from '@drydock/logging';
import type { supervisorV1 } from '@drydock/proto';
import type { ContainerdClient } from '../containerd/containerd-client';
import { attachContainer, containerLogs, resizeTty } from './attach';
import { ContainerContext, type ContainerManagerOptions, type RestartGate } from './container-context';
import type { ContainerStore } from './container-store';
import { createContainer } from './create';
import { handleExit, handleOom } from './exit';
import { inspectContainer } from './inspect';
import { killContainer } from './kill';
import { LifecycleHooks, type ContainerLifecycleHook } from './lifecycle-hooks';
import type { NetFilterView } from './filters';
import { listContainers } from './list';
import { pauseContainer, unpauseContainer } from './pause';
import type { ContainerEvents, ImageLookup, LogBackend, LogEntryOut, LogReadOptions, Mount, NameRegistry, SnapshotOps, SpecBuilder, VolumeOps, VolumeSeeder } from './ports';
import { cgroupOf, containerPids, counts, execTarget, imageUsers, networkTarget, rootfsTarget, taskPid, volumeUsers } from './queries';
import { loadContainers, reconcile } from './reconcile';
import { removeLink } from './links';
import { removeContainer } from './remove';
import { renameContainer } from './rename';
import { restartContainer } from './restart';
import { startContainer } from './start';
import { closeStdin, writeStdin } from './stdin';
import { stopContainer } from './stop';
import { updateContainer } from './update';
import { waitContainer, type WaitCondition } from './wait';

export type { ContainerManagerOptions, RestartGate, RunStatus } from './container-context';
export { translateStartError } from './start';

/**
 * The container lifecycle on this node, one verb per file over one shared
 * ContainerContext (as moby's daemon/ keeps create.go, start.go, stop.go ...).
 * containerd is the source of truth: every change is written there before it
 * is reported, and `load()` rebuilds the whole view (adopting running tasks,
 * recording exits that happened while the supervisor was away, resuming
 * restart policies). Capabilities such as networking join each run through
 * `hooks` (lifecycle-hooks.ts), not through branches in the verbs.
 */
export class ContainerManager {
  private readonly ctx: ContainerContext;

  constructor(
    cc: ContainerdClient,
    store: ContainerStore,
    images: ImageLookup,
    snapshots: SnapshotOps,
    logBackend: LogBackend,
    specs: SpecBuilder,
    events: ContainerEvents,
    volumes: VolumeOps,
    seeder: VolumeSeeder,
    opts: ContainerManagerOptions,
    logger: Logger,
    hooks: readonly ContainerLifecycleHook[] = [],
    names?: NameRegistry,
    restartGate?: RestartGate,
  ) {
    const deps = { cc, store, images, snapshots, logBackend, specs, events, volumes, seeder, names, restartGate };
    this.ctx = new ContainerContext(deps, opts, new LifecycleHooks(hooks, logger), logger);
  }

  // lifecycle (reconcile.ts, create.ts, start.ts, exit.ts, stop.ts, kill.ts, restart.ts, pause.ts, wait.ts, remove.ts)
  load = (): Promise<void> => loadContainers(this.ctx);
  reconcile = (): Promise<void> => reconcile(this.ctx);
  create = (req: supervisorV1.CreateContainerRequest): Promise<{ id: string; warnings: string[] }> => createContainer(this.ctx, req);
  /** false if it was already running (HTTP 304). */
  start = (ref: string): Promise<boolean> => startContainer(this.ctx, ref);
  handleExit = (id: string, exitStatus: number, exitedAtNs: string | undefined, pid = 0): Promise<void> => handleExit(this.ctx, id, exitStatus, exitedAtNs, pid);
  handleOom = (id: string): void => handleOom(this.ctx, id);
  /** false if it was not running (HTTP 304). */
  stop = (ref: string, timeoutSeconds?: number): Promise<boolean> => stopContainer(this.ctx, ref, timeoutSeconds);
  kill = (ref: string, signal: string): Promise<void> => killContainer(this.ctx, ref, signal);
  restart = (ref: string, timeoutSeconds?: number): Promise<void> => restartContainer(this.ctx, ref, timeoutSeconds);
  pause = (ref: string): Promise<void> => pauseContainer(this.ctx, ref);
  resume = (ref: string): Promise<void> => unpauseContainer(this.ctx, ref);
  wait = (ref: string, condition: WaitCondition): { registered: Promise<void>; result: Promise<number>; cancel: () => void } => waitContainer(this.ctx, ref, condition);
  remove = (ref: string, opts: { force: boolean }): Promise<void> => removeContainer(this.ctx, ref, opts);
  removeLink = (name: string): Promise<void> => removeLink(this.ctx, name);

  // record changes (rename.ts, update.ts)
  rename = (ref: string, newName: string): Promise<void> => renameContainer(this.ctx, ref, newName);
  update = (req: supervisorV1.UpdateContainerRequest): Promise<string[]> => updateContainer(this.ctx, req);

  // views (list.ts, inspect.ts)
  list = (req: supervisorV1.ListContainersRequest, net?: NetFilterView): supervisorV1.ContainerSummary[] => listContainers(this.ctx, req, net);
  inspect = (ref: string): supervisorV1.ContainerInfo => inspectContainer(this.ctx, ref);

  // streams (attach.ts, stdin.ts)
  logs = (ref: string, opts: Omit<LogReadOptions, 'isRunning'>): AsyncIterable<LogEntryOut> => containerLogs(this.ctx, ref, opts);
  attach = (ref: string, opts: { stdout: boolean; stderr: boolean; logs: boolean; stream: boolean; signal: AbortSignal }): { output: AsyncIterable<LogEntryOut>; tty: boolean } =>
    attachContainer(this.ctx, ref, opts);
  writeStdin = (ref: string, data: Buffer): Promise<void> => writeStdin(this.ctx, ref, data);
  closeStdin = (ref: string): Promise<void> => closeStdin(this.ctx, ref);
  resize = (ref: string, width: number, height: number): Promise<void> => resizeTty(this.ctx, ref, width, height);

  // what other subsystems ask (queries.ts)
  execTarget = (ref: string): ReturnType<typeof execTarget> => execTarget(this.ctx, ref);
  rootfsTarget = (ref: string): Promise<{ id: string; name: string; pid: number; mounts: Mount[]; readonlyRootfs: boolean; mountTargets: string[] }> => rootfsTarget(this.ctx, ref);
  pids = (ref: string): Promise<number[]> => containerPids(this.ctx, ref);
  cgroupOf = (ref: string): ReturnType<typeof cgroupOf> => cgroupOf(this.ctx, ref);
  counts = (): ReturnType<typeof counts> => counts(this.ctx);
  networkTarget = (ref: string): ReturnType<typeof networkTarget> => networkTarget(this.ctx, ref);
  taskPid = (id: string): number | undefined => taskPid(this.ctx, id);
  imageUsers = (imageId: string): { running: string[]; stopped: string[] } => imageUsers(this.ctx, imageId);
  volumeUsers = (name: string): string[] => volumeUsers(this.ctx, name);
  /** Every container id, for disk usage. */
  ids = (): string[] => [...this.ctx.entries.keys()];

  close(): void {
    this.ctx.closed = true;
    for (const e of this.ctx.entries.values()) {
      if (e.rt.restartTimer) clearTimeout(e.rt.restartTimer);
      void e.rt.stdin?.close().catch(() => undefined);
    }
  }
}
