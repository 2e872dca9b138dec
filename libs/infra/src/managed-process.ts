import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { requireCommand } from './deps';
import { waitFor } from './wait';

/** What to run: an absolute program path and its arguments. */
export interface CommandSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ManagedProcessOptions {
  /** Short name for error messages ("nats-server"). */
  name: string;
  /** Resolved at each start, so a missing binary is reported when it matters. */
  command: () => CommandSpec;
  /** stdout and stderr are appended here. */
  logPath: string;
  /** Polled after spawn until true; the process counts as started then. */
  ready: () => Promise<boolean>;
  /** Own process group: a terminal's Ctrl-C then reaches only the parent, which stops children in order. */
  detached?: boolean;
  /**
   * SIGKILL the child when this process dies, however it dies (setpriv --pdeathsig):
   * a test run killed by a timeout then leaves no servers behind.
   */
  dieWithParent?: boolean;
}

/** The last lines of a log file, for error messages that can be acted on. */
export function logTail(path: string, lines = 15): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * One child process whose output goes to a log file. start() spawns it and waits
 * until it is ready; start() and stop() are idempotent.
 */
export class ManagedProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(private readonly opts: ManagedProcessOptions) {}

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 20000): Promise<void> {
    if (this.running) return;
    const spec = this.opts.command();
    if (this.opts.dieWithParent) {
      // setpriv sets the flag and execs the server: same pid, nothing else changes.
      spec.args = ['--pdeathsig', 'SIGKILL', '--', spec.command, ...spec.args];
      spec.command = requireCommand('setpriv', 'util-linux');
    }
    const out = openSync(this.opts.logPath, 'a');
    let spawnError: Error | undefined;
    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, {
        stdio: ['ignore', out, out],
        env: spec.env ?? process.env,
        cwd: spec.cwd,
        detached: this.opts.detached ?? false,
      });
    } finally {
      closeSync(out); // the child holds its own copy
    }
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (err) => {
        spawnError = err;
        resolve();
      });
    });
    const failed = () => {
      if (spawnError) return `${this.opts.name} could not be started: ${spawnError.message}`;
      if (child.exitCode !== null || child.signalCode !== null) {
        const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
        return `${this.opts.name} exited with ${how}; ${this.opts.logPath} ends with:\n${logTail(this.opts.logPath)}`;
      }
      return undefined;
    };
    try {
      await waitFor(async () => {
        const why = failed();
        if (why) throw new Error(why);
        return this.opts.ready();
      }, timeoutMs, `${this.opts.name} to accept connections`);
    } catch (err) {
      await this.stop('SIGKILL');
      throw err;
    }
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL, as a crash would. */
  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }
}
