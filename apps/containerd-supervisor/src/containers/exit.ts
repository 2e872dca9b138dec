import { rm } from 'node:fs/promises';
import { actor, hookContainer, type ContainerContext, type Entry } from './container-context';
import { nowNs } from './record';
import { removeContainer } from './remove';
import { nextRestartDelayMs, shouldRestart } from './restart-policy';
import { startLocked } from './start';

const WRITER_DRAIN_MS = 2000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * Called by the task monitor (and reconcile) for every init-process exit (idempotent).
 * `pid` (0: unknown) tells an earlier run's exit from the current run's: deleting the task a
 * crash left created (reconcile) reports its exit while a boot restart may start the next run.
 */
export async function handleExit(ctx: ContainerContext, id: string, exitStatus: number, exitedAtNs: string | undefined, pid = 0): Promise<void> {
  const e = ctx.entries.get(id);
  if (!e) return;
  if (e.rt.starting) await e.rt.starting;
  if (e.rt.task !== 'running' && e.rt.task !== 'paused') return;
  if (pid && e.rt.pid && pid !== e.rt.pid) return;
  e.rt.task = 'stopped';
  let exitDone!: () => void;
  e.rt.exiting = new Promise<void>((r) => (exitDone = r));
  try {
    await recordExit(ctx, e, exitStatus, exitedAtNs);
  } finally {
    e.rt.exiting = undefined;
    exitDone();
  }
}

async function recordExit(ctx: ContainerContext, e: Entry, exitStatus: number, exitedAtNs: string | undefined): Promise<void> {
  const id = e.c.spec.id;
  const hc = e.c.spec.hostConfig;
  const ranMs = Date.now() - e.rt.startedAtMs;
  const ioDir = e.c.state.ioDir;
  // As dockerd waits for its stream copiers before it reports an exit: `wait` then `logs`
  // must find the run's last output. The shim has closed the FIFOs by the time it reports
  // the exit, so the writer is normally gone already (0-2 ms measured); the bound covers a
  // writer that hangs. An adopted run (supervisor restarted) has no handle and waits for nothing.
  const writer = e.rt.logger;
  if (writer) await Promise.race([writer.exited, sleep(WRITER_DRAIN_MS)]);
  // The exit and the policy's answer are one state change, as in dockerd's handleContainerExit
  // (SetRestarting, RestartCount++): a reader never sees "exited" for a container that will run again.
  const restart = !hc.autoRemove && !e.rt.removing && shouldRestart(hc.restartPolicy, exitStatus, e.c.state.restartCount, e.c.state.manuallyStopped);
  e.c.state = {
    ...e.c.state,
    exitCode: exitStatus,
    finishedAtNs: exitedAtNs ?? nowNs(),
    oomKilled: e.rt.oom || e.c.state.oomKilled,
    restarting: restart,
    restartCount: e.c.state.restartCount + (restart ? 1 : 0),
  };
  e.rt.task = 'none';
  e.rt.pid = 0;
  void e.rt.stdin?.close().catch(() => undefined);
  e.rt.stdin = undefined;
  e.rt.logger = undefined;
  e.rt.pendingStdin = undefined; // stdin sent to a run that ended is not kept for the next one
  // Waiters and the die event go first: containerd keeps the exit in the stopped
  // task until Tasks.Delete, so a crash before the writes below is re-read on boot.
  ctx.events.container('die', actor(e.c), { exitCode: String(exitStatus) });
  for (const w of e.rt.exitWaiters.splice(0)) w(exitStatus);
  // The exit (and a decided restart) is persisted before the task that also holds it is deleted;
  // an auto-remove container is deleted right after instead (load() finishes removals a crash interrupted).
  if (!hc.autoRemove) await ctx.saveState(e);
  if (await ctx.deleteTask(id)) e.c.state.ioDir = undefined;
  if (ioDir) await rm(ioDir, { recursive: true, force: true }).catch(() => undefined);
  await ctx.hooks.release(hookContainer(e), 'exit');

  if (hc.autoRemove && !e.rt.removing) {
    void removeContainer(ctx, id, { force: true }).catch((err) => ctx.log.warn({ err, containerId: id }, 'auto-remove failed'));
    return;
  }
  if (restart && e.c.state.restarting && !e.rt.removing) {
    e.rt.restartDelayMs = nextRestartDelayMs(e.rt.restartDelayMs, ranMs);
    ctx.log.info({ containerId: id, delayMs: e.rt.restartDelayMs }, 'restart scheduled');
    e.rt.restartTimer = setTimeout(() => {
      if (ctx.closed || e.rt.removing || !ctx.entries.has(id)) return;
      void policyRestart(ctx, e)
        .then((started) => started && ctx.events.container('restart', actor(e.c)))
        .catch((err) => ctx.log.warn({ err, containerId: id }, 'policy restart failed'));
    }, e.rt.restartDelayMs);
    e.rt.restartTimer.unref();
  }
}

/**
 * Carries out a restart the policy decided (after the back-off, or on boot when the
 * supervisor died during it); false when a stop, start or remove took it over meanwhile.
 * A failed start leaves the container exited with the start's error, as dockerd does.
 */
export async function policyRestart(ctx: ContainerContext, e: Entry): Promise<boolean> {
  // the gate first (it may wait for the cluster's directory): a refused restart leaves the container exited
  if (ctx.restartGate && !(await ctx.restartGate(e.c.spec.id, e.c.labels))) {
    return ctx.lock.run(e.c.spec.id, async () => {
      if (!e.c.state.restarting || !ctx.entries.has(e.c.spec.id)) return false;
      e.c.state = { ...e.c.state, restarting: false };
      await ctx.saveState(e);
      ctx.log.info({ containerId: e.c.spec.id }, 'restart refused by the restart gate');
      return false;
    });
  }
  return ctx.lock.run(e.c.spec.id, async () => (e.c.state.restarting && !e.rt.removing && ctx.entries.has(e.c.spec.id) ? startLocked(ctx, e) : false));
}

/** Called by the task monitor when the kernel OOM-killed a process of the container. */
export function handleOom(ctx: ContainerContext, id: string): void {
  const e = ctx.entries.get(id);
  if (!e) return;
  e.rt.oom = true;
  ctx.events.container('oom', actor(e.c));
  // The shim's OOM notice can trail the exit it caused: mark the run that just ended.
  if (e.rt.task === 'none' && e.c.state.finishedAtNs && !e.c.state.oomKilled) {
    const ageMs = Date.now() - Number(BigInt(e.c.state.finishedAtNs) / 1000000n);
    if (ageMs < 5000) {
      e.c.state.oomKilled = true;
      void ctx.saveState(e).catch((err) => ctx.log.warn({ err, containerId: id }, 'oom state not saved'));
    }
  }
}
