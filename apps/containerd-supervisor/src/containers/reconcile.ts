import { ctrTypesTask } from '@drydock/proto';
import { hookContainer, newRuntime, type ContainerContext } from './container-context';
import { handleExit, policyRestart } from './exit';
import { timestampToNs } from './record';
import { removeContainer } from './remove';
import { restartsOnBoot } from './restart-policy';

/**
 * Loads every container from containerd and reconciles it with its task:
 * adopts running tasks, records exits that happened while the supervisor was
 * away, finishes interrupted auto-removals and resumes restart policies.
 */
export async function loadContainers(ctx: ContainerContext): Promise<void> {
  const stored = await ctx.store.list();
  for (const c of stored) {
    const existing = ctx.entries.get(c.spec.id);
    if (existing) existing.c = c;
    else ctx.entries.set(c.spec.id, { c, rt: newRuntime() });
  }
  await reconcile(ctx);
  // nothing prepares a snapshot before load returns: any container snapshot without its container is a crash's
  await ctx.snapshots.removeOrphans(await ctx.store.ids()).catch((err) => ctx.log.warn({ err }, 'orphan container snapshots not swept'));
  for (const e of ctx.entries.values()) {
    if (e.rt.task === 'none' && e.c.spec.hostConfig.autoRemove && e.c.state.startedAtNs) {
      // an auto-remove container whose run ended while the supervisor was away (or mid-removal)
      void removeContainer(ctx, e.c.spec.id, { force: true }).catch((err) => ctx.log.warn({ err, containerId: e.c.spec.id }, 'auto-remove on boot failed'));
      continue;
    }
    if (e.rt.task !== 'none' || e.rt.restartTimer || !e.c.state.startedAtNs) continue;
    // A restart decided before the supervisor went away (any policy, on-failure included) is
    // carried out now; always/unless-stopped also start a container that ended otherwise, as
    // dockerd does at boot. Either way it shows as restarting until the run starts: load()
    // returns (and the API serves) before these starts finish.
    if (e.c.state.restarting || restartsOnBoot(e.c.spec.hostConfig.restartPolicy, e.c.state.manuallyStopped)) {
      ctx.log.info({ containerId: e.c.spec.id }, 'restarting container on boot');
      e.c.state.restarting = true;
      void policyRestart(ctx, e).catch((err) => ctx.log.warn({ err, containerId: e.c.spec.id }, 'boot restart failed'));
    }
  }
  ctx.log.info({ containers: ctx.entries.size }, 'containers loaded');
}

/**
 * Compares the view with containerd's tasks: adopts running tasks and handles
 * exits that were missed (supervisor down, event stream broken).
 */
export async function reconcile(ctx: ContainerContext): Promise<void> {
  const res = await ctx.cc.unary(ctx.cc.tasks, ctx.cc.tasks.list, {});
  const tasks = new Map((res.tasks ?? []).map((t) => [t.id || t.containerId || '', t]));
  for (const e of ctx.entries.values()) {
    const id = e.c.spec.id;
    const t = tasks.get(id);
    if (e.rt.starting) continue;
    if (!t) {
      if (e.rt.task === 'running' || e.rt.task === 'paused') {
        // The task vanished without an exit we saw (containerd lost it): dockerd reports 255.
        await handleExit(ctx, id, 255, undefined);
      }
      continue;
    }
    switch (t.status) {
      case ctrTypesTask.Status.RUNNING:
      case ctrTypesTask.Status.PAUSED:
      case ctrTypesTask.Status.PAUSING:
        e.rt.task = t.status === ctrTypesTask.Status.RUNNING ? 'running' : 'paused';
        e.rt.pid = t.pid ?? 0;
        if (e.c.state.restarting) {
          // the supervisor died after starting the restarted run but before writing its state
          e.c.state = { ...e.c.state, restarting: false, exitCode: 0, error: '' };
          await ctx.saveState(e);
        }
        if (!e.rt.startedAtMs) e.rt.startedAtMs = Number(BigInt(e.c.state.startedAtNs ?? '0') / 1000000n);
        break;
      case ctrTypesTask.Status.STOPPED: {
        if (e.rt.task === 'stopped') break; // exit handling already in flight
        const exitedNs = timestampToNs(t.exitedAt);
        if (e.rt.task === 'none' && e.c.state.finishedAtNs && exitedNs && BigInt(e.c.state.finishedAtNs) >= BigInt(exitedNs)) {
          await ctx.deleteTask(id); // recorded already; only the task lingered
          break;
        }
        e.rt.task = 'running';
        await handleExit(ctx, id, t.exitStatus ?? 255, exitedNs);
        break;
      }
      case ctrTypesTask.Status.CREATED:
        // Created but never started: the supervisor died mid-start. Deleting the task closes
        // the shim's FIFO ends; the run's log writer then arms itself, drains and exits.
        // What hooks prepared for it (endpoints, port rules) is given back as for a failed start.
        await ctx.deleteTask(id);
        e.rt.task = 'none';
        e.rt.pid = 0;
        await ctx.hooks.release(hookContainer(e), 'start-failed');
        break;
      default:
        break;
    }
  }
}
