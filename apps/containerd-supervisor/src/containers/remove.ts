import { rm } from 'node:fs/promises';
import { FailedPreconditionError, isNotFound } from '@drydock/errors';
import { actor, hookContainer, isRunning, statusOf, type ContainerContext } from './container-context';

/** docker rm: with force a running container is killed first; the record goes, then snapshot and files. */
export function removeContainer(ctx: ContainerContext, ref: string, opts: { force: boolean }): Promise<void> {
  const e = ctx.resolve(ref);
  const id = e.c.spec.id;
  return ctx.lock.run(id, async () => {
    if (!ctx.entries.has(id)) return;
    if (e.rt.exiting) await e.rt.exiting;
    // dockerd counts a container in its restart back-off as running here too
    if ((isRunning(e) || e.c.state.restarting) && !opts.force) {
      if (e.rt.task === 'paused') {
        throw new FailedPreconditionError(`You cannot remove a paused container ${id}. Unpause and then stop the container before attempting removal or force remove`);
      }
      throw new FailedPreconditionError(`You cannot remove a ${statusOf(e)} container ${id}. Stop the container before attempting removal or force remove`);
    }
    e.rt.removing = true;
    if (e.rt.restartTimer) clearTimeout(e.rt.restartTimer);
    e.rt.restartTimer = undefined;
    // a removal that fails below leaves a stopped container, not a restart without a timer
    e.c.state.restarting = false;
    try {
      if (isRunning(e)) {
        const exited = ctx.waitExit(e);
        if (e.rt.task === 'paused') await ctx.resumeTask(id).catch(() => undefined);
        await ctx.signal(e, 9, true).catch((err) => {
          if (!isNotFound(err)) throw err;
        });
        ctx.events.container('kill', actor(e.c), { signal: '9' });
        await exited;
      }
      if (e.c.state.ioDir || e.rt.task !== 'none') await ctx.deleteTask(id, true);
      await ctx.hooks.release(hookContainer(e), 'remove');
      await ctx.store.delete(id);
    } catch (err) {
      e.rt.removing = false;
      throw err;
    }
    // The record is gone from containerd: the container no longer exists. Waiters (docker
    // run --rm) are answered now; the snapshot and files go after (a leftover snapshot
    // without a container or lease is collected by containerd's GC).
    ctx.entries.delete(id);
    await ctx.names.release(e.c.name, id);
    ctx.events.container('destroy', actor(e.c));
    for (const w of e.rt.removeWaiters.splice(0)) w(e.c.state.exitCode);
    for (const w of e.rt.exitWaiters.splice(0)) w(e.c.state.exitCode);
    await Promise.all([
      removeSnapshot(ctx, id).catch((err) => ctx.log.warn({ err, containerId: id }, 'container snapshot not removed')),
      rm(ctx.dir(id), { recursive: true, force: true }).catch((err) => ctx.log.warn({ err, containerId: id }, 'container directory not removed')),
    ]);
  });
}

/**
 * The snapshot can still be mounted for a moment after its container is gone: a
 * `docker cp`/build copy stream the client just cancelled unmounts on its own time,
 * and containerd refuses to remove a busy snapshot. A few tries over ~3 s, then the
 * load-time sweep (SnapshotOps.removeOrphans) is what is left.
 */
async function removeSnapshot(ctx: ContainerContext, id: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.snapshots.remove(id);
    } catch (err) {
      if (attempt >= 6) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
