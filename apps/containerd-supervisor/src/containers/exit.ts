import { rm } from 'node:fs/promises';
import { actor, hookContainer, type ContainerContext, type Entry } from './container-context';
import { nowNs } from './record';
import { removeContainer } from './remove';
import { nextRestartDelayMs, shouldRestart } from './restart-policy';
import { startLocked } from './start';

/** Called by the task monitor (and reconcile) for every init-process exit (idempotent). */
export async function handleExit(ctx: ContainerContext, id: string, exitStatus: number, exitedAtNs: string | undefined): Promise<void> {
  const e = ctx.entries.get(id);
  if (!e) return;
  if (e.rt.starting) await e.rt.starting;
  if (e.rt.task !== 'running' && e.rt.task !== 'paused') return;
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
  ctx.events.container('die', actor(e.c), { exitCode: String(exitStatus) });
  for (const w of e.rt.exitWaiters.splice(0)) w(exitStatus);
  // The exit is persisted before the task that also holds it is deleted; an auto-remove
  // container is deleted right after instead (load() finishes removals a crash interrupted).
  if (!e.c.spec.hostConfig.autoRemove) await ctx.saveState(e);
  if (await ctx.deleteTask(id)) e.c.state.ioDir = undefined;
  if (ioDir) await rm(ioDir, { recursive: true, force: true }).catch(() => undefined);
  await ctx.hooks.release(hookContainer(e), 'exit');

  const hc = e.c.spec.hostConfig;
  if (hc.autoRemove && !e.rt.removing) {
    void removeContainer(ctx, id, { force: true }).catch((err) => ctx.log.warn({ err, containerId: id }, 'auto-remove failed'));
    return;
  }
  if (!e.rt.removing && shouldRestart(hc.restartPolicy, exitStatus, e.c.state.restartCount, e.c.state.manuallyStopped)) {
    e.rt.restartDelayMs = nextRestartDelayMs(e.rt.restartDelayMs, ranMs);
    ctx.log.info({ containerId: id, delayMs: e.rt.restartDelayMs }, 'restart scheduled');
    e.rt.restartTimer = setTimeout(() => {
      if (ctx.closed || e.rt.removing || !ctx.entries.has(id)) return;
      e.c.state.restartCount += 1;
      void ctx.lock
        .run(id, () => startLocked(ctx, e))
        .then(() => ctx.events.container('restart', actor(e.c)))
        .catch((err) => ctx.log.warn({ err, containerId: id }, 'policy restart failed'));
    }, e.rt.restartDelayMs);
    e.rt.restartTimer.unref();
  }
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
