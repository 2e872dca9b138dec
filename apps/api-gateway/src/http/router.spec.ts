import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@drydock/logging';
import { Router } from './router';
import { GatewayServer } from './server';

describe('router on a real server: clients that leave', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rt-'));
  const socketPath = join(dir, 'd.sock');
  const router = new Router(1024 * 1024);
  const server = new GatewayServer(router, createLogger({ service: 'test', level: 'silent' }));
  let aborted = 0;
  // like POST /wait: headers out at once, the body only when something happens, given up when the client leaves
  router.on('POST', '/hold', async (ctx) => {
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
    aborted++;
  });

  beforeAll(() => server.listen({ socketPath, socketMode: 0o600 }));
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes the socket of a response its handler left open after the client went away (detached docker run)', async () => {
    const closedByServer = await new Promise<boolean>((resolve, reject) => {
      const s = connect(socketPath);
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
        // the CLI of `run -d` exits once it has the headers: its FIN is all the server sees
        if (got.includes('\r\n\r\n')) s.end();
      });
      s.on('error', reject);
      s.on('close', () => resolve(true));
      setTimeout(() => (s.destroy(), resolve(false)), 3000).unref();
      s.write('POST /v1.41/hold HTTP/1.1\r\nHost: api\r\nContent-Length: 0\r\n\r\n');
    });
    expect(aborted).toBe(1);
    expect(closedByServer).toBe(true);
  });
});
