import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, type CommandSpec } from './managed-process';
import { freePort, tcpAccepts } from './net';

export interface LoopbackServerOptions {
  name: string;
  /** Data directory; the log file goes here too. */
  dir: string;
  logFile: string;
  /** TCP port on 127.0.0.1; a free one is picked at first start when omitted, then kept across restarts. */
  port?: number;
  dieWithParent?: boolean;
}

/**
 * A server child process on 127.0.0.1 that is ready once its port accepts
 * (nats-server, redis-server, docker-registry). start/stop are idempotent.
 */
export abstract class LoopbackServerProcess {
  readonly dir: string;
  readonly logPath: string;
  private chosenPort?: number;
  private readonly proc: ManagedProcess;

  constructor(private readonly base: LoopbackServerOptions) {
    this.dir = base.dir;
    this.logPath = join(base.dir, base.logFile);
    this.chosenPort = base.port;
    this.proc = new ManagedProcess({
      name: base.name,
      command: () => this.command(),
      logPath: this.logPath,
      ready: () => tcpAccepts(this.port),
      dieWithParent: base.dieWithParent,
    });
  }

  /** The command line, called at each start (after the port is known). */
  protected abstract command(): CommandSpec;

  /** Writes what the server needs before it starts (configuration files). */
  protected prepare(): void {}

  get port(): number {
    if (this.chosenPort === undefined) throw new Error(`${this.base.name} has no port before start()`);
    return this.chosenPort;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async start(timeoutMs = 20000): Promise<void> {
    if (this.proc.running) return;
    mkdirSync(this.dir, { recursive: true });
    this.chosenPort ??= await freePort();
    this.prepare();
    await this.proc.start(timeoutMs);
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return this.proc.stop(signal);
  }

  kill(): Promise<void> {
    return this.proc.kill();
  }
}
