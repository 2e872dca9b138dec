import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';

/** A published host port: protocol, host address ('' = every address) and port. */
export interface HeldPort {
  proto: 'tcp' | 'udp' | 'sctp';
  hostIp: string;
  hostPort: number;
}

const keyOf = (p: HeldPort) => `${p.proto}/${p.hostIp || '0.0.0.0'}:${p.hostPort}`;

/**
 * Keeps a bound socket on every published host port, so that a host process that
 * later binds the port fails with EADDRINUSE, as it does against dockerd (whose
 * docker-proxy holds each port). The kernel DNATs the port's traffic before it could
 * reach these sockets, so they never carry a byte; one process holds them all,
 * instead of a proxy process per port. They die with the supervisor and are taken
 * again when it adopts its endpoints: the rules, not the sockets, carry the traffic.
 */
export class PortHolder {
  private readonly held = new Map<string, Server | UdpSocket>();

  /** Binds the port and keeps it; false when something else has it. Idempotent. */
  async hold(p: HeldPort): Promise<boolean> {
    const key = keyOf(p);
    if (this.held.has(key)) return true;
    // the kernel has no bind-only SCTP socket in Node; its rules are all dockerd keeps too
    if (p.proto === 'sctp') return true;
    const s = await (p.proto === 'udp' ? bindUdp(p) : listenTcp(p));
    if (!s) return false;
    // a second hold of the same key raced this one: keep the first
    if (this.held.has(key)) {
      close(s);
      return true;
    }
    this.held.set(key, s);
    return true;
  }

  release(p: HeldPort): void {
    const key = keyOf(p);
    const s = this.held.get(key);
    if (!s) return;
    this.held.delete(key);
    close(s);
  }

  has(p: HeldPort): boolean {
    return this.held.has(keyOf(p));
  }

  /** Closes every socket (tests; a stopping supervisor lets process exit do it). */
  close(): void {
    for (const s of this.held.values()) close(s);
    this.held.clear();
  }
}

function close(s: Server | UdpSocket): void {
  try {
    s.close();
  } catch {
    // already closed
  }
}

function listenTcp(p: HeldPort): Promise<Server | undefined> {
  return new Promise((resolve) => {
    // a connection that reaches us (no rule matched it) is refused, not left hanging
    const srv = createServer({ pauseOnConnect: true }, (c) => c.destroy());
    srv.once('error', () => resolve(undefined));
    srv.listen({ host: p.hostIp || '0.0.0.0', port: p.hostPort, exclusive: true, backlog: 1 }, () => {
      srv.unref();
      resolve(srv);
    });
  });
}

function bindUdp(p: HeldPort): Promise<UdpSocket | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(undefined));
    s.bind({ address: p.hostIp || '0.0.0.0', port: p.hostPort, exclusive: true }, () => {
      s.removeAllListeners('error');
      s.on('error', () => undefined);
      s.unref();
      resolve(s);
    });
  });
}
