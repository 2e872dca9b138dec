import { requireCommand } from './deps';
import { LoopbackServerProcess } from './loopback-server';
import type { CommandSpec } from './managed-process';

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

/** A private nats-server child process (JetStream on). */
export class NatsServerProcess extends LoopbackServerProcess {
  constructor(private readonly opts: NatsServerOptions) {
    super({ name: 'nats-server', dir: opts.dir, logFile: 'nats-server.log', port: opts.port, dieWithParent: opts.dieWithParent });
  }

  protected command(): CommandSpec {
    return natsServerCommand({ storeDir: this.dir, port: this.port, binary: this.opts.binary });
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
}
