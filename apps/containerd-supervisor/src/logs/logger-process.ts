import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { DeadlineExceededError, InternalError } from '@drydock/errors';

export interface SpawnLoggerOptions {
  /** Path of the compiled native/drydock-logger.c. */
  binary: string;
  /** Container log file; records are appended (a restarted container continues it). */
  logPath: string;
  /** FIFO the shim writes the container's stdout into; created if missing. */
  stdoutFifo: string;
  /** FIFO for stderr; absent for a TTY container (one stream). */
  stderrFifo?: string;
  /** The container's stdin FIFO; created if missing. */
  stdinFifo?: string;
  /**
   * Keep the stdin FIFO open for the logger's lifetime so the container does
   * not read EOF when the supervisor (the only writer) restarts (docker run -di).
   */
  holdStdin?: boolean;
  /** How long to wait for the logger to report its FIFO readers open. Default 5000. */
  readyTimeoutMs?: number;
  /**
   * The logger arms itself after this long if arm() never comes (the
   * supervisor died between spawn and Tasks.Create returning). Default 30000.
   */
  armTimeoutMs?: number;
  /**
   * Re-attach to the FIFOs of a task whose shim already has its writers open
   * (e.g. a logger died): start armed, no dummy writers.
   */
  armed?: boolean;
  /** F_SETPIPE_SZ for the output FIFOs, in bytes (kernel default 64 KiB). */
  pipeSizeBytes?: number;
}

export interface LoggerHandle {
  readonly pid: number;
  /**
   * Tells the logger that the shim's writers are open (call after Tasks.Create
   * succeeded): from now on EOF on a FIFO means the run's output ended.
   */
  arm(): void;
  /** Tasks.Create failed: the logger drains, writes its EOF record and exits. */
  abort(): void;
  /**
   * Settles when the logger exits while this process is alive: exit code, or
   * null when killed by a signal. Never rejects; does not keep node alive.
   */
  readonly exited: Promise<number | null>;
}

const READY = 0x01;

/**
 * Starts one detached drydock-logger for a container run and waits until its
 * FIFO readers are open, which must happen before Tasks.Create (the shim's
 * blocking open of the write end needs a reader). The logger lives in its own
 * session and holds no pipe to us afterwards, so this process can exit or be
 * SIGKILLed without affecting it.
 */
export async function spawnLogger(opts: SpawnLoggerOptions): Promise<LoggerHandle> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 5000;
  const dirs = new Set([opts.logPath, opts.stdoutFifo, opts.stderrFifo, opts.stdinFifo].filter((p): p is string => !!p).map((p) => dirname(p)));
  for (const d of dirs) await mkdir(d, { recursive: true });

  // --ready-fd first: even an argument error is then reported through it.
  const args = ['--ready-fd', '3', '--log', opts.logPath, '--stdout', opts.stdoutFifo, '--mkfifo'];
  if (opts.stderrFifo) args.push('--stderr', opts.stderrFifo);
  if (opts.stdinFifo) args.push('--stdin', opts.stdinFifo);
  if (opts.stdinFifo && opts.holdStdin) args.push('--hold-stdin');
  if (opts.armTimeoutMs !== undefined) args.push('--arm-timeout-ms', String(Math.max(0, Math.floor(opts.armTimeoutMs))));
  if (opts.armed) args.push('--armed');
  if (opts.pipeSizeBytes) args.push('--pipe-size', String(opts.pipeSizeBytes));

  // detached: setsid() in the child, so neither our death nor our process
  // group's signals reach it. fd 3 is the ready pipe; nothing else is shared.
  const child = spawn(opts.binary, args, { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const ready = child.stdio[3] as Readable | null | undefined;

  try {
    await waitReady(child, ready, readyTimeoutMs, opts.binary);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    ready?.destroy();
  }
  child.unref();
  const pid = child.pid as number;
  return {
    pid,
    // child.kill() is a no-op once node has reaped the logger, so a recycled
    // pid is never signalled.
    arm: () => void child.kill('SIGUSR1'),
    abort: () => void child.kill('SIGTERM'),
    exited,
  };
}

function waitReady(child: ChildProcess, ready: Readable | null | undefined, timeoutMs: number, binary: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = !ready;
    let exit: string | undefined;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    // A failed logger writes its error text, closes the pipe and exits; the
    // pipe's end and the exit event come in either order.
    const settleFailure = () => {
      if (!ended || exit === undefined) return;
      if (chunks.length > 0) finish(new InternalError(Buffer.concat(chunks).toString('utf8').trim()));
      else finish(new InternalError(`drydock-logger (${binary}) exited before it was ready (${exit})`));
    };
    const timer = setTimeout(
      () => finish(new DeadlineExceededError(`drydock-logger (${binary}) did not open its fifos within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('error', (err) => finish(new InternalError(`cannot start drydock-logger (${binary}): ${err.message}`, { cause: err })));
    child.once('exit', (code, signal) => {
      exit = signal ? `signal ${signal}` : `code ${code}`;
      settleFailure();
    });
    ready?.on('data', (b: Buffer) => {
      if (chunks.length === 0 && b[0] === READY) finish();
      else chunks.push(b);
    });
    ready?.once('end', () => {
      ended = true;
      settleFailure();
    });
    ready?.once('error', () => {
      ended = true;
      settleFailure();
    });
  });
}
