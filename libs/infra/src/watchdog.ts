import type { ChildProcess } from 'node:child_process';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';

export interface WatchdogOptions {
  /** Name used in status lines. */
  name: string;
  /** Starts one instance; called again after every exit until stop(). */
  spawn: () => ChildProcess;
  backoff?: Partial<BackoffOptions>;
  /**
   * Awaited before every spawn; may hold the watchdog back (e.g. while another
   * containerd serves the socket). Must return promptly once `signal` aborts.
   */
  beforeSpawn?: (signal: AbortSignal) => Promise<void>;
  /** Status lines: exits and restarts. */
  log?: (line: string) => void;
  /** After stop()'s signal, SIGKILL follows this much later. */
  stopGraceMs?: number;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, err?: Error): string {
  if (err) return `failed to start: ${err.message}`;
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * Keeps one process running: restarts it whenever it exits, with exponential
 * back-off that resets after a healthy run, until stop().
 */
export class Watchdog {
  private child?: ChildProcess;
  private loop?: Promise<void>;
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private starts = 0;

  constructor(private readonly opts: WatchdogOptions) {
    this.backoff = new Backoff({ ...DEFAULT_BACKOFF, ...opts.backoff });
  }

  get name(): string {
    return this.opts.name;
  }

  /** The pid of the running instance, if any. */
  get pid(): number | undefined {
    const c = this.child;
    return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
  }

  /** How many instances were spawned so far. */
  get spawnCount(): number {
    return this.starts;
  }

  /** Starts watching; idempotent. */
  start(): void {
    if (this.loop || this.abort.signal.aborted) return;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      if (this.opts.beforeSpawn) {
        try {
          await this.opts.beforeSpawn(signal);
        } catch (err) {
          this.opts.log?.(`${this.opts.name} pre-start check failed: ${(err as Error).message}`);
        }
        if (signal.aborted) break;
      }
      const startedAt = Date.now();
      let how: string;
      try {
        const child = this.opts.spawn();
        this.child = child;
        this.starts++;
        how = await new Promise<string>((resolve) => {
          child.once('exit', (code, sig) => resolve(describeExit(code, sig)));
          child.once('error', (err) => resolve(describeExit(null, null, err)));
        });
      } catch (err) {
        how = describeExit(null, null, err as Error);
      }
      this.child = undefined;
      if (signal.aborted) break;
      const delay = this.backoff.next(Date.now() - startedAt);
      this.opts.log?.(`${this.opts.name} ${how}; restarting in ${delay} ms`);
      await sleep(delay, signal);
    }
  }

  /** Signals the running instance without stopping the watchdog: a simulated crash. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }

  /**
   * Stops restarting, sends `signal` to the running instance and waits for the
   * loop to end; SIGKILL after the grace period. Idempotent.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.abort.abort();
    const child = this.child;
    let timer: NodeJS.Timeout | undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      timer = setTimeout(() => child.kill('SIGKILL'), this.opts.stopGraceMs ?? 10000);
    }
    await this.loop;
    if (timer) clearTimeout(timer);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
