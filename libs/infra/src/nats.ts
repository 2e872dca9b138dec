import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { requireCommand } from './deps';
import { ManagedProcess, type CommandSpec } from './managed-process';
import { freePort, tcpAccepts } from './net';

export interface NatsServerOptions {
  /** JetStream store directory; the log file goes here too. */
  dir: string;
  /** TCP port on 127.0.0.1; a free one is picked at first start when omitted. */
  port?: number;
  binary?: string;
  /** SIGKILL the server when this process dies (tests). */
  dieWithParent?: boolean;
}

/** nats-server with JetStream, storing under `storeDir`, reachable only from this host. */
export function natsServerCommand(o: { storeDir: string; port: number; binary?: string }): CommandSpec {
  return {
    command: requireCommand(o.binary ?? 'nats-server', 'nats-server'),
    args: ['-a', '127.0.0.1', '-p', String(o.port), '-js', '-sd', o.storeDir],
  };
}

/** A private nats-server child process (JetStream on). start/stop are idempotent. */
export class NatsServerProcess {
  readonly dir: string;
  readonly logPath: string;
  private chosenPort?: number;
  private readonly proc: ManagedProcess;

  constructor(private readonly opts: NatsServerOptions) {
    this.dir = opts.dir;
    this.logPath = join(opts.dir, 'nats-server.log');
    this.chosenPort = opts.port;
    this.proc = new ManagedProcess({
      name: 'nats-server',
      command: () => natsServerCommand({ storeDir: this.dir, port: this.port, binary: this.opts.binary }),
      logPath: this.logPath,
      ready: () => tcpAccepts(this.port),
      dieWithParent: opts.dieWithParent,
    });
  }

  /** The port; known once start() has been called. */
  get port(): number {
    if (this.chosenPort === undefined) throw new Error('nats-server has no port before start()');
    return this.chosenPort;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Starts nats-server and waits until its port accepts; keeps the port across restarts. */
  async start(timeoutMs = 20000): Promise<void> {
    if (this.proc.running) return;
    mkdirSync(this.dir, { recursive: true });
    this.chosenPort ??= await freePort();
    await this.proc.start(timeoutMs);
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return this.proc.stop(signal);
  }

  kill(): Promise<void> {
    return this.proc.kill();
  }
}
