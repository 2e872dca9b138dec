import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, isUnavailable } from '@drydock/errors';
import { actor, hookContainer, type ContainerContext, type Entry } from './container-context';
import type { RunSpecPatch } from './lifecycle-hooks';
import type { LogWriterHandle } from './ports';
import { nowNs } from './record';
import { removeContainer } from './remove';
import { flushPendingStdin } from './stdin';

/** docker start; false if it was already running (HTTP 304). */
export function startContainer(ctx: ContainerContext, ref: string): Promise<boolean> {
  const e = ctx.resolve(ref);
  const id = e.c.spec.id;
  return ctx.lock.run(id, () => startLocked(ctx, e)).catch(async (err) => {
    // dockerd removes an AutoRemove container whose start failed before answering; `docker run
    // --rm` waits for that removal (wait?condition=removed) and would otherwise hang.
    if (e.c.spec.hostConfig.autoRemove && !e.rt.removing && ctx.entries.has(id)) {
      await removeContainer(ctx, id, { force: true }).catch((rmErr) => ctx.log.warn({ err: rmErr, containerId: id }, 'auto-remove after a failed start failed'));
    }
    throw err;
  });
}

/** Starts a run under the container's lock (docker start, docker restart, policy restarts). */
export async function startLocked(ctx: ContainerContext, e: Entry): Promise<boolean> {
  const id = e.c.spec.id;
  if (!ctx.entries.has(id)) throw new NotFoundError(`No such container: ${id}`);
  if (e.rt.exiting) await e.rt.exiting;
  if (e.rt.removing) throw new FailedPreconditionError(`container is marked for removal and cannot be started`);
  if (e.rt.task === 'paused') throw new FailedPreconditionError('cannot start a paused container, try unpause instead');
  if (e.rt.task === 'running') return false;
  // a pending policy restart is superseded by this start (the timer may also be what called us)
  if (e.rt.restartTimer) clearTimeout(e.rt.restartTimer);
  const cfg = e.c.spec.config;
  const runDir = join(ctx.dir(id), 'io', randomBytes(6).toString('hex'));
  await mkdir(runDir, { recursive: true });
  const fifos = {
    stdout: join(runDir, 'stdout'),
    stderr: cfg.tty ? undefined : join(runDir, 'stderr'),
    stdin: cfg.openStdin ? join(runDir, 'stdin') : undefined,
  };
  let done!: () => void;
  e.rt.starting = new Promise<void>((r) => (done = r));
  let logger: LogWriterHandle | undefined;
  let taskCreated = false;
  let prepared = false;
  // a hook's runSpec may hold something for the run (a plugin volume's Mount): released on failure too
  let specHooked = false;
  let hookError: unknown;
  try {
    // a stopped task of the previous run lingers only if its deletion failed
    if (e.c.state.ioDir) await ctx.deleteTask(id);
    // what the run's spec takes from other containers (a network namespace to join, link variables)
    const patch = await ctx.hooks.runSpec(hookContainer(e)).catch((err) => {
      hookError = err;
      throw err;
    });
    specHooked = true;
    if (patch) await applyRunSpec(ctx, e, patch);
    const [rootfs, writer] = await Promise.all([
      ctx.snapshots.mounts(id),
      ctx.logBackend.spawnWriter({
        logPath: ctx.logPath(id),
        stdoutFifo: fifos.stdout,
        stderrFifo: fifos.stderr,
        stdinFifo: fifos.stdin,
        holdStdin: !!cfg.openStdin && !cfg.stdinOnce,
      }),
    ]);
    logger = writer;
    if (fifos.stdin) {
      // O_RDWR on a FIFO never blocks, and holding a writer before the shim opens
      // its reader keeps the container's stdin from seeing EOF at once.
      e.rt.stdin = await open(fifos.stdin, 'r+');
    }
    const created = await ctx.cc.unary(ctx.cc.tasks, ctx.cc.tasks.create, {
      containerId: id,
      rootfs,
      stdin: fifos.stdin,
      stdout: fifos.stdout,
      stderr: fifos.stderr,
      terminal: !!cfg.tty,
    });
    taskCreated = true;
    logger.arm();
    e.rt.logger = logger;
    e.rt.pid = created.pid ?? 0;
    // the task's namespaces exist and its process has not run: what hooks (networking) need
    await ctx.hooks.prepare({ ...hookContainer(e), pid: e.rt.pid }).catch((err) => {
      hookError = err;
      throw err;
    });
    prepared = true;
    e.rt.oom = false;
    // dockerd's SetRunning: the new run has no exit code or error yet and is no longer restarting.
    // It becomes visible once the task started (until then a policy restart still reads
    // "restarting"); the state write and the start are independent: a crash between them is
    // reconciled from the task.
    const running = { ...e.c.state, startedAtNs: nowNs(), exitCode: 0, oomKilled: false, error: '', restarting: false, ioDir: runDir };
    await Promise.all([ctx.cc.unary(ctx.cc.tasks, ctx.cc.tasks.start, { containerId: id }), ctx.saveState(e, running)]);
    e.c.state = running;
    e.rt.task = 'running';
    e.rt.startedAtMs = Date.now();
  } catch (err) {
    e.rt.task = 'none';
    e.rt.pid = 0;
    await e.rt.stdin?.close().catch(() => undefined);
    e.rt.stdin = undefined;
    if (taskCreated) await ctx.deleteTask(id, true);
    if (prepared || specHooked) await ctx.hooks.release(hookContainer(e), 'start-failed');
    logger?.abort();
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
    // a hook's error is already the text dockerd shows (a taken port, a missing network)
    const { message, exitCode } = hookError ? { message: err instanceof Error ? err.message : String(err), exitCode: 128 } : translateStartError(err);
    e.c.state = { ...e.c.state, error: message, exitCode, restarting: false, finishedAtNs: e.c.state.startedAtNs ? nowNs() : e.c.state.finishedAtNs };
    await ctx.saveState(e).catch(() => undefined);
    done();
    e.rt.starting = undefined;
    e.rt.restartTimer = undefined;
    if (isUnavailable(err) || hookError) throw err;
    throw new InvalidArgumentError(message, { cause: err });
  }
  done();
  e.rt.starting = undefined;
  e.rt.restartTimer = undefined;
  ctx.events.container('start', actor(e.c));
  flushPendingStdin(ctx, e);
  return true;
}

/** Writes the run's spec (and the hostname it takes, into the record, as dockerd's initializeNetworking). */
async function applyRunSpec(ctx: ContainerContext, e: Entry, patch: RunSpecPatch): Promise<void> {
  const cfg = e.c.spec.config;
  const spec = { ...e.c.spec, config: { ...cfg, hostname: patch.hostname ?? cfg.hostname, domainname: patch.domainname ?? cfg.domainname } };
  const oci = ctx.specs.forRun(await ctx.store.ociSpec<object>(spec.id), spec, patch);
  await ctx.store.saveSpec(spec.id, spec, oci);
  e.c.spec = spec;
}

/**
 * dockerd's translation of runtime start failures: the message the user sees
 * and the exit code the CLI reports (127 not found, 126 not executable).
 */
export function translateStartError(err: unknown): { message: string; exitCode: number } {
  const raw = err instanceof Error ? err.message : String(err);
  let exitCode = 128;
  if (/executable file not found|no such file or directory/.test(raw)) exitCode = 127;
  else if (/permission denied/.test(raw)) exitCode = 126;
  const msg = raw.startsWith('failed to create shim') || raw.startsWith('OCI runtime') ? raw : `failed to create task for container: ${raw}`;
  return { message: msg, exitCode };
}
