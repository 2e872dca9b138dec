import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@drydock/logging';
import { acceptPlain, acceptUpgrade, readUpgradeJson, UPGRADE_RESPONSE, type RawConn } from './hijack';
import { goString, goStruct } from './go-json';
import { Router } from './router';
import { GatewayServer } from './server';

/**
 * A real gateway listener with an echo session: output "hello\n", then the
 * client's bytes upper-cased, then "bye\n" after the client's FIN, then close.
 * Proves Node hands us half-open sockets and that output survives the FIN.
 */
describe('hijacked connections on a real server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hj-'));
  const socketPath = join(dir, 'd.sock');
  const log = createLogger({ service: 'test', level: 'silent' });
  const router = new Router(1024 * 1024);
  const server = new GatewayServer(router, log);
  const session = async (conn: RawConn, prefix: string) => {
    await conn.write(Buffer.from(`${prefix}hello\n`));
    conn.readInput(
      (c) => void conn.write(Buffer.from(c.toString().toUpperCase())),
      () => setTimeout(() => void conn.write(Buffer.from('bye\n')).then(() => conn.end()), 50),
    );
  };
  router.onHijack('POST', '/echo', async (h) => {
    const body = readUpgradeJson(h, { type: goStruct('Echo', 'echo', { prefix: goString() }), emptyMessage: 'EOF' });
    if (body?.prefix === 'fail') throw new Error('unclassified');
    await session(acceptUpgrade(h), body?.prefix ?? '');
  });
  router.on('POST', '/echo', async (ctx) => session(acceptPlain(ctx), ''));
  // like attach: a route that never looks at the body
  router.onHijack('POST', '/raw', async (h) => session(acceptUpgrade(h), ''));

  beforeAll(() => server.listen({ socketPath, socketMode: 0o600 }));
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function exchange(request: string, afterHead: (s: Socket) => void): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(socketPath);
      let got = '';
      let sent = false;
      s.on('data', (d) => {
        got += d.toString('latin1');
        if (!sent && got.includes('\r\n\r\n')) {
          sent = true;
          afterHead(s);
        }
      });
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.write(request);
    });
  }

  it('answers 101 like dockerd, reads the JSON body, and streams after the client FIN', async () => {
    const body = '{"prefix":"p:"}';
    const req = `POST /v1.41/echo HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const got = await exchange(req + 'early ', (s) => s.end('stdin\n'));
    expect(got).toBe(`${UPGRADE_RESPONSE}p:hello\nEARLY STDIN\nbye\n`);
  });

  it('never passes the declared body of an upgrade request on as stream input (dockerode attach)', async () => {
    const body = '{"stream":true,"stdin":true,"stdout":true,"stderr":true,"hijack":true}';
    const req = `POST /v1.41/raw HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    // the body split over two writes, stdin following it in the second
    const got = await new Promise<string>((resolve, reject) => {
      const s = connect(socketPath);
      let out = '';
      s.on('data', (d) => (out += d.toString('latin1')));
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.write(req + body.slice(0, 10));
      setTimeout(() => s.end(body.slice(10) + 'hello stdin\n'), 50);
    });
    expect(got).toBe(`${UPGRADE_RESPONSE}hello\nHELLO STDIN\nbye\n`);
  });

  it('answers 400 to an upgrade request whose body ends early', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const s = connect(socketPath);
      let out = '';
      s.on('data', (d) => (out += d.toString('latin1')));
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.end(`POST /raw HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 50\r\n\r\n{"a":`);
    });
    expect(got).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\{"message":"request body ended early"\}$/);
  });

  it('sends errors raised before the 101 as Docker JSON errors', async () => {
    const body = '{"prefix":"fail"}';
    const got = await exchange(`POST /echo HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${body.length}\r\n\r\n${body}`, () => undefined);
    expect(got).toMatch(/^HTTP\/1\.1 500 Internal Server Error\r\n[\s\S]*\{"message":"internal error"\}$/);
  });

  it('streams on a plain 200 without chunking for clients that do not upgrade', async () => {
    const got = await exchange('POST /echo HTTP/1.1\r\nHost: api\r\nContent-Length: 3\r\n\r\nabc', () => undefined);
    const [head, rest] = got.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/Content-Type: application\/vnd\.docker\.raw-stream/i);
    expect(head).not.toMatch(/Transfer-Encoding|Content-Length/i);
    expect(rest).toBe('hello\nABCbye\n');
  });

  it('keeps streaming on the plain path after the client half-closes', async () => {
    const got = await exchange('POST /echo HTTP/1.1\r\nHost: api\r\nContent-Length: 3\r\n\r\nabc', (s) => s.end());
    expect(got.split('\r\n\r\n')[1]).toBe('hello\nABCbye\n');
  });
});
