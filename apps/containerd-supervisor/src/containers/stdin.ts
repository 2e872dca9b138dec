import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, isNotFound } from '@drydock/errors';
import { isRunning, type ContainerContext, type Entry } from './container-context';

/** Stdin a not-yet-started container holds for its first run (dockerd's pipe holds 64 KiB; we allow more). */
const MAX_PENDING_STDIN = 4 * 1024 * 1024;

/** Writes to the container's stdin (opening the current run's FIFO if this supervisor did not start it). */
export function writeStdin(ctx: ContainerContext, ref: string, data: Buffer): Promise<void> {
  const e = ctx.resolve(ref);
  return stdinOp(e, () => writeStdinNow(e, data));
}

/** The attached client closed stdin: with StdinOnce the container sees EOF. */
export function closeStdin(ctx: ContainerContext, ref: string): Promise<void> {
  const e = ctx.resolve(ref);
  return stdinOp(e, () => closeStdinNow(ctx, e));
}

/** Hands stdin that arrived before the start to the running process (in order, then EOF if closed). */
export function flushPendingStdin(ctx: ContainerContext, e: Entry): void {
  if (!e.rt.pendingStdin) return;
  void stdinOp(e, async () => {
    const p = e.rt.pendingStdin;
    e.rt.pendingStdin = undefined;
    if (!p) return;
    for (const c of p.chunks) await writeStdinNow(e, c);
    if (p.closed) await closeStdinNow(ctx, e);
  }).catch((err) => ctx.log.warn({ err, containerId: e.c.spec.id }, 'early stdin not delivered'));
}

function stdinOp(e: Entry, op: () => Promise<void>): Promise<void> {
  const next = (e.rt.stdinChain ?? Promise.resolve()).then(op, op);
  e.rt.stdinChain = next.catch(() => undefined);
  return next;
}

async function writeStdinNow(e: Entry, data: Buffer): Promise<void> {
  if (!e.c.spec.config.openStdin) return;
  if (e.rt.starting) await e.rt.starting;
  if (!isRunning(e) || e.rt.pendingStdin) {
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

async function closeStdinNow(ctx: ContainerContext, e: Entry): Promise<void> {
  if (!e.c.spec.config.stdinOnce) return;
  if (e.rt.starting) await e.rt.starting;
  if (!isRunning(e) || e.rt.pendingStdin) {
    (e.rt.pendingStdin ??= { chunks: [], bytes: 0, closed: false }).closed = true;
    return;
  }
  const fh = e.rt.stdin;
  e.rt.stdin = undefined;
  await fh?.close().catch(() => undefined);
  // the shim holds a writer of its own on the stdin FIFO: only CloseIO gives the process EOF
  await ctx.cc.unary(ctx.cc.tasks, ctx.cc.tasks.closeIo, { containerId: e.c.spec.id, stdin: true }).catch((err) => {
    if (!isNotFound(err)) throw err;
  });
}
