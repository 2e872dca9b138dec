import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { requireCommand } from './deps';
import { ManagedProcess, type CommandSpec } from './managed-process';
import { freePort, tcpAccepts } from './net';

export interface RedisServerOptions {
  /** Working directory (dump/AOF files); the log file goes here too. */
  dir: string;
  /** TCP port on 127.0.0.1; a free one is picked at first start when omitted. */
  port?: number;
  /** Keep data across restarts with an append-only file (the stack); tests keep nothing. */
  persistent?: boolean;
  binary?: string;
  /** SIGKILL the server when this process dies (tests). */
  dieWithParent?: boolean;
}

/** redis-server bound to 127.0.0.1, logging to stdout, working in `dir`. */
export function redisServerCommand(o: { dir: string; port: number; persistent?: boolean; binary?: string }): CommandSpec {
  return {
    command: requireCommand(o.binary ?? 'redis-server', 'redis-server'),
    args: [
      '--bind', '127.0.0.1',
      '--port', String(o.port),
      '--dir', o.dir,
      '--daemonize', 'no',
      '--logfile', '',
      '--save', '',
      '--appendonly', o.persistent ? 'yes' : 'no',
    ],
  };
}

/** A private redis-server child process. start/stop are idempotent. */
export class RedisServerProcess {
  readonly dir: string;
  readonly logPath: string;
  private chosenPort?: number;
  private readonly proc: ManagedProcess;

  constructor(private readonly opts: RedisServerOptions) {
    this.dir = opts.dir;
    this.logPath = join(opts.dir, 'redis-server.log');
    this.chosenPort = opts.port;
    this.proc = new ManagedProcess({
      name: 'redis-server',
      command: () =>
        redisServerCommand({ dir: this.dir, port: this.port, persistent: this.opts.persistent, binary: this.opts.binary }),
      logPath: this.logPath,
      ready: () => tcpAccepts(this.port),
      dieWithParent: opts.dieWithParent,
    });
  }

  /** The port; known once start() has been called. */
  get port(): number {
    if (this.chosenPort === undefined) throw new Error('redis-server has no port before start()');
    return this.chosenPort;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

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
