/**
 * What the node's other subsystems ask about containers: exec, archives (docker
 * cp/diff/export), stats, top, rmi's and volume rm's conflict rules, info, df.
 */
import { FailedPreconditionError } from '@drydock/errors';
import { isRunning, type ContainerContext } from './container-context';
import type { Mount } from './ports';

/** What an exec needs to know about its container. */
export async function execTarget(ctx: ContainerContext, ref: string): Promise<{ id: string; name: string; image: string; labels: Record<string, string>; ociSpec: object; rootfs: Mount[] }> {
  const e = ctx.resolve(ref);
  if (e.rt.task === 'paused') throw new FailedPreconditionError(`Container ${e.c.spec.id} is paused, unpause the container before exec`);
  if (!isRunning(e) || e.c.state.restarting) throw new FailedPreconditionError(`Container ${e.c.spec.id} is not running`);
  return {
    id: e.c.spec.id,
    name: e.c.name,
    image: e.c.spec.image,
    labels: e.c.labels,
    ociSpec: await ctx.store.ociSpec<object>(e.c.spec.id),
    rootfs: await ctx.snapshots.mounts(e.c.spec.id),
  };
}

/**
 * What archive operations need about a container's root filesystem: the
 * init pid while it runs (its root is reachable as /proc/<pid>/root), the
 * snapshot mounts (always), and the mount targets (hidden from diff).
 */
export async function rootfsTarget(ctx: ContainerContext, ref: string): Promise<{ id: string; name: string; pid: number; mounts: Mount[]; readonlyRootfs: boolean; mountTargets: string[] }> {
  const e = ctx.resolve(ref);
  return {
    id: e.c.spec.id,
    name: e.c.name,
    pid: isRunning(e) ? e.rt.pid : 0,
    mounts: await ctx.snapshots.mounts(e.c.spec.id),
    readonlyRootfs: !!e.c.spec.hostConfig.readonlyRootfs,
    mountTargets: (e.c.spec.hostConfig.mounts ?? []).map((m) => m.target ?? '').filter((t) => t),
  };
}

/** Pids of the container's processes (for top). */
export async function containerPids(ctx: ContainerContext, ref: string): Promise<number[]> {
  const e = ctx.resolve(ref);
  if (!isRunning(e)) throw new FailedPreconditionError(`Container ${e.c.spec.id} is not running`);
  const res = await ctx.cc.unary(ctx.cc.tasks, ctx.cc.tasks.listPids, { containerId: e.c.spec.id });
  return (res.processes ?? []).map((p) => p.pid ?? 0).filter((p) => p > 0);
}

/** The container's cgroup path and memory limit, for stats. */
export function cgroupOf(ctx: ContainerContext, ref: string): { id: string; cgroupsPath: string; running: boolean; memoryLimit: number } {
  const e = ctx.resolve(ref);
  return {
    id: e.c.spec.id,
    cgroupsPath: `${ctx.opts.cgroupParent}/${e.c.spec.id}`,
    running: isRunning(e),
    memoryLimit: Number(e.c.spec.hostConfig.memory ?? 0),
  };
}

export function counts(ctx: ContainerContext): { total: number; running: number; paused: number; stopped: number } {
  let running = 0;
  let paused = 0;
  for (const e of ctx.entries.values()) {
    if (e.rt.task === 'running') running++;
    else if (e.rt.task === 'paused') paused++;
  }
  return { total: ctx.entries.size, running, paused, stopped: ctx.entries.size - running - paused };
}

/** Ids of containers created from an image, and whether any runs (for rmi's conflict rules). */
export function imageUsers(ctx: ContainerContext, imageId: string): { running: string[]; stopped: string[] } {
  const running: string[] = [];
  const stopped: string[] = [];
  for (const e of ctx.entries.values()) {
    if (e.c.spec.imageId !== imageId) continue;
    (isRunning(e) ? running : stopped).push(e.c.spec.id);
  }
  return { running, stopped };
}

/** Ids of the containers (any state) mounting the named volume: Docker's "in use". */
export function volumeUsers(ctx: ContainerContext, name: string): string[] {
  const out: string[] = [];
  for (const e of ctx.entries.values()) {
    if ((e.c.spec.hostConfig.mounts ?? []).some((m) => m.type === 'volume' && m.source === name)) out.push(e.c.spec.id);
  }
  return out;
}

/** What the network area needs to connect or disconnect a container (pid 0 when not running). */
/**
 * The init pid of the container's current task, also while a start is under way (set at
 * Tasks.Create, 0 without a task); undefined for a container that does not exist.
 */
export function taskPid(ctx: ContainerContext, id: string): number | undefined {
  return ctx.entries.get(id)?.rt.pid;
}

export function networkTarget(ctx: ContainerContext, ref: string): { id: string; name: string; spec: import('./record').ContainerSpecRecord; pid: number; restarting: boolean } {
  const e = ctx.resolve(ref);
  return { id: e.c.spec.id, name: e.c.name, spec: e.c.spec, pid: isRunning(e) && e.rt.pid > 0 ? e.rt.pid : 0, restarting: e.c.state.restarting ?? false };
}
