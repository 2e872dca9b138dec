import { requireCommand } from './deps';
import { LoopbackServerProcess } from './loopback-server';
import type { CommandSpec } from './managed-process';

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

/** redis-server bound to `host` (127.0.0.1 by default), logging to stdout, working in `dir`. */
export function redisServerCommand(o: { dir: string; port: number; persistent?: boolean; binary?: string; host?: string }): CommandSpec {
  return {
    command: requireCommand(o.binary ?? 'redis-server', 'redis-server'),
    args: [
      '--bind', o.host ?? '127.0.0.1',
      '--port', String(o.port),
      '--dir', o.dir,
      '--daemonize', 'no',
      '--logfile', '',
      '--save', '',
      '--appendonly', o.persistent ? 'yes' : 'no',
      // Protected mode refuses clients from other addresses (a cluster's network namespaces on a private
      // bridge); the bind address alone then decides who reaches it.
      ...(o.host && o.host !== '127.0.0.1' ? ['--protected-mode', 'no'] : []),
    ],
  };
}

/** A private redis-server child process. */
export class RedisServerProcess extends LoopbackServerProcess {
  constructor(private readonly opts: RedisServerOptions) {
    super({ name: 'redis-server', dir: opts.dir, logFile: 'redis-server.log', port: opts.port, dieWithParent: opts.dieWithParent });
  }

  protected command(): CommandSpec {
    return redisServerCommand({ dir: this.dir, port: this.port, persistent: this.opts.persistent, binary: this.opts.binary });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
}
