import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '@drydock/logging';
import type { Router } from './router';

export interface ListenOptions {
  socketPath: string;
  socketMode: number;
  tcp?: string;
  tls?: { cert: string; key: string; ca: string };
}

/**
 * The Docker API listeners: a unix socket (always) and TCP when configured,
 * with TLS and client-certificate verification (dockerd's --tlsverify) or, on
 * loopback only, plain with a warning. Upgrade requests go to hijack routes.
 */
export class GatewayServer {
  private readonly servers: Server[] = [];
  private readonly log: Logger;

  constructor(private readonly router: Router, logger: Logger) {
    this.log = logger.child({ component: 'http' });
  }

  private wire(server: Server): Server {
    // Docker clients keep connections alive; streams (logs -f, events) have no timeout.
    server.requestTimeout = 0;
    server.headersTimeout = 60000;
    server.keepAliveTimeout = 5000;
    // A client's FIN must not end our side while a response is still streaming: non-upgrade
    // attach/exec start clients half-close after the request, like the CLI does after a 101.
    // (Upgrade sockets are half-open already.) With this Node ends the socket after the last
    // response instead of at the FIN. Node has had this server property for years; it is not in the docs.
    (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.on('request', (req, res) => void this.router.handle(req, res, this.log));
    server.on('upgrade', (req, socket, head) => {
      if (this.router.matchHijack(req)) {
        void this.router.handleHijack(req, socket, head, this.log);
        return;
      }
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{"message":"page not found"}\n');
    });
    server.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n{"message":"bad request"}\n');
    });
    this.servers.push(server);
    return server;
  }

  async listen(opts: ListenOptions): Promise<void> {
    mkdirSync(dirname(opts.socketPath), { recursive: true });
    if (existsSync(opts.socketPath)) {
      // a stale socket from a killed gateway: remove it, but never steal a live one
      if (await socketAnswers(opts.socketPath)) throw new Error(`another server is listening on ${opts.socketPath}`);
      unlinkSync(opts.socketPath);
    }
    const unixServer = this.wire(createServer());
    await new Promise<void>((res, rej) => unixServer.once('error', rej).listen(opts.socketPath, () => res()));
    chmodSync(opts.socketPath, opts.socketMode);
    this.log.info({ socket: opts.socketPath }, 'listening on unix socket');
    if (opts.tcp) {
      const i = opts.tcp.lastIndexOf(':');
      const host = opts.tcp.slice(0, i).replace(/^\[|\]$/g, '');
      const port = Number(opts.tcp.slice(i + 1));
      const server = opts.tls
        ? this.wire(
            createTlsServer({
              cert: readFileSync(opts.tls.cert),
              key: readFileSync(opts.tls.key),
              ca: readFileSync(opts.tls.ca),
              requestCert: true,
              rejectUnauthorized: true,
              minVersion: 'TLSv1.2',
            }) as unknown as Server,
          )
        : this.wire(createServer());
      await new Promise<void>((res, rej) => server.once('error', rej).listen(port, host, () => res()));
      if (opts.tls) this.log.info({ tcp: opts.tcp }, 'listening on TCP with TLS and client certificate verification');
      else this.log.warn({ tcp: opts.tcp }, 'listening on plain TCP without TLS: anyone who can reach this port controls the engine');
    }
  }

  close(): Promise<void> {
    return Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((r) => {
            s.close(() => r());
            s.closeAllConnections();
          }),
      ),
    ).then(() => undefined);
  }
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}
