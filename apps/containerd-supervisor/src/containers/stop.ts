import { isNotFound } from '@drydock/errors';
import { parseSignal } from '@drydock/oci-spec';
import { actor, isRunning, sleep, type ContainerContext, type Entry } from './container-context';

/** docker stop; false if it was not running (HTTP 304). */
export function stopContainer(ctx: ContainerContext, ref: string, timeoutSeconds?: number): Promise<boolean> {
  const e = ctx.resolve(ref);
  return ctx.lock.run(e.c.spec.id, () => stopLocked(ctx, e, timeoutSeconds));
}

/** Stop signal, then SIGKILL after the timeout; under the container's lock (stop, restart). */
export async function stopLocked(ctx: ContainerContext, e: Entry, timeoutSeconds?: number): Promise<boolean> {
  // an exit being recorded may be deciding a restart: stop what it decided, not the run before
  if (e.rt.exiting) await e.rt.exiting;
  if (e.c.state.restarting && !isRunning(e)) {
    // in the back-off there is no process: cancelling the pending restart is the stop
    if (e.rt.restartTimer) clearTimeout(e.rt.restartTimer);
    e.rt.restartTimer = undefined;
    e.c.state.restarting = false;
    e.c.state.manuallyStopped = true;
    await ctx.saveState(e);
    return true;
  }
  if (!isRunning(e)) return false;
  e.c.state.manuallyStopped = true;
  await ctx.saveState(e);
  const timeout = timeoutSeconds ?? e.c.spec.config.stopTimeout ?? 10;
  const sig = parseSignal(e.c.spec.config.stopSignal || 'SIGTERM');
  const exited = ctx.waitExit(e);
  if (e.rt.task === 'paused') await ctx.resumeTask(e.c.spec.id).catch(() => undefined);
  await ctx.signal(e, sig, false).catch((err) => {
    if (!isNotFound(err)) throw err;
  });
  ctx.events.container('kill', actor(e.c), { signal: String(sig) });
  const inTime = timeout < 0 ? await exited.then(() => true) : await Promise.race([exited.then(() => true), sleep(timeout * 1000).then(() => false)]);
  if (!inTime) {
    await ctx.signal(e, 9, true).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
    ctx.events.container('kill', actor(e.c), { signal: '9' });
    await exited;
  }
  ctx.events.container('stop', actor(e.c));
  return true;
}
