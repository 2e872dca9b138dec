import { FailedPreconditionError } from '@drydock/errors';
import { actor, isRunning, outputMayGrow, type ContainerContext } from './container-context';
import type { LogEntryOut, LogReadOptions } from './ports';

/** docker logs: recorded output, Docker `logs` semantics. */
export function containerLogs(ctx: ContainerContext, ref: string, opts: Omit<LogReadOptions, 'isRunning'>): AsyncIterable<LogEntryOut> {
  const e = ctx.resolve(ref);
  const id = e.c.spec.id;
  return ctx.logBackend.read(ctx.logPath(id), { ...opts, isRunning: () => ctx.entries.has(id) && outputMayGrow(e) });
}

/**
 * docker attach: output from the log (live from the current end, plus history if
 * `logs`); stdin goes through stdin.ts. Output ends when the container stops
 * and its last line was delivered.
 */
export function attachContainer(
  ctx: ContainerContext,
  ref: string,
  opts: { stdout: boolean; stderr: boolean; logs: boolean; stream: boolean; signal: AbortSignal },
): { output: AsyncIterable<LogEntryOut>; tty: boolean } {
  const e = ctx.resolve(ref);
  if (e.rt.task === 'paused') throw new FailedPreconditionError('You cannot attach to a paused container, unpause it first');
  ctx.events.container('attach', actor(e.c));
  const id = e.c.spec.id;
  const output = ctx.logBackend.read(ctx.logPath(id), {
    stdout: opts.stdout,
    stderr: opts.stderr,
    follow: opts.stream,
    fromEnd: !opts.logs,
    signal: opts.signal,
    // attached clients (docker run) wait on the stream's end: notice the exit within 50 ms
    pollIntervalMs: 50,
    // Attached before start (docker run): keep following until a run has started and ended.
    isRunning: () => ctx.entries.has(id) && (outputMayGrow(e) || (!e.c.state.startedAtNs && !e.rt.removing) || !!e.c.state.restarting),
  });
  return { output, tty: !!e.c.spec.config.tty };
}

/** docker container resize (the attached TTY's size). */
export async function resizeTty(ctx: ContainerContext, ref: string, width: number, height: number): Promise<void> {
  const e = ctx.resolve(ref);
  if (!isRunning(e)) throw new FailedPreconditionError(`Container ${e.c.spec.id} is not running`);
  await ctx.cc.unary(ctx.cc.tasks, ctx.cc.tasks.resizePty, { containerId: e.c.spec.id, width, height });
}
