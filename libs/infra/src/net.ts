import { request } from 'node:http';
import { connect, createServer } from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago (the kernel's pick for port 0).
 * Another process may take it before the caller binds it; launchers that use it
 * fail loudly in that case rather than talking to a stranger.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

function probe(opts: { port: number; host: string } | { path: string }, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(opts as never);
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Whether something accepts TCP connections on host:port. */
export function tcpAccepts(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return probe({ port, host }, timeoutMs);
}

/**
 * Whether a process accepts connections on the unix socket at `path`. A socket
 * file left by a SIGKILLed server exists but refuses connections.
 */
export function unixSocketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return probe({ path }, timeoutMs);
}

/** Whether a Docker API server answers GET /_ping with 200 on a unix socket. */
export function dockerPingOk(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on('error', () => res(false));
    req.on('timeout', () => (req.destroy(), res(false)));
    req.end();
  });
}
