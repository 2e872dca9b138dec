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

/** Membership of a NATS cluster: JetStream replicates streams and buckets across its servers. */
export interface NatsClusterOptions {
  /** The cluster's name, the same on every member. */
  name: string;
  /** This server's unique name (JetStream's meta group needs one per server). */
  serverName: string;
  /** Where this server accepts routes from the others. */
  port: number;
  /** Every member's route URL (nats://host:port), this one's included: nats-server skips itself. */
  routes: string[];
}

/**
 * nats-server with JetStream, storing under `storeDir`, listening on `host` (127.0.0.1 by default:
 * reachable only from this host), optionally a member of a cluster.
 */
export function natsServerCommand(o: { storeDir: string; port: number; binary?: string; host?: string; cluster?: NatsClusterOptions }): CommandSpec {
  const host = o.host ?? '127.0.0.1';
  const cluster = o.cluster
    ? ['-n', o.cluster.serverName, '--cluster_name', o.cluster.name, '--cluster', `nats://${host}:${o.cluster.port}`, '--routes', o.cluster.routes.join(',')]
    : [];
  return {
    command: requireCommand(o.binary ?? 'nats-server', 'nats-server'),
    args: ['-a', host, '-p', String(o.port), '-js', '-sd', o.storeDir, ...cluster],
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
