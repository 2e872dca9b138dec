import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AlreadyExistsError, InternalError } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import { Router } from '../http/router';
import { GatewayServer } from '../http/server';
import type { RouteDeps } from './deps';
import { registerPluginRoutes } from './plugins.routes';

/** A server stream as grpc-js hands it out: object-mode messages, cancel(). */
class FakeCall extends Readable {
  cancelled = false;
  constructor() {
    super({ objectMode: true, read: () => undefined });
  }
  cancel(): void {
    this.cancelled = true;
    this.destroy();
  }
}

/** install, upgrade and push relay the supervisor's stream as it comes, with dockerd's error rules. */
describe('plugin routes: progress streams on a real server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plr-'));
  const socketPath = join(dir, 'd.sock');
  const router = new Router(1024 * 1024);
  const server = new GatewayServer(router, createLogger({ service: 'test', level: 'silent' }));
  let call = new FakeCall();
  const requests: { rpc: string; req: Record<string, unknown> }[] = [];
  /** What the fake supervisor does once the route has called it (and is reading its stream). */
  let onCall: () => void = () => undefined;
  const rpc = (name: string) => (req: Record<string, unknown>) => {
    requests.push({ rpc: name, req });
    setImmediate(onCall);
    return call;
  };
  const client = { plugins: { pullPlugin: rpc('pull'), upgradePlugin: rpc('upgrade'), pushPlugin: rpc('push') } };
  registerPluginRoutes(router, { nodes: { local: () => client } } as unknown as Pick<RouteDeps, 'nodes'>);

  beforeAll(() => server.listen({ socketPath, socketMode: 0o600 }));
  beforeEach(() => {
    call = new FakeCall();
    requests.length = 0;
    onCall = () => undefined;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** POSTs; `onChunk` sees each body chunk as it arrives. */
  const post = (path: string, onChunk: (body: string) => void = () => undefined) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request({ socketPath, method: 'POST', path, headers: { 'Content-Type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
          onChunk(body);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end('[]');
    });

  it.each([
    ['/v1.41/plugins/pull?remote=x/p', 'pull', 'x/p:latest'],
    ['/v1.41/plugins/mine:latest/upgrade?remote=x/p', 'upgrade', 'mine:latest'],
    ['/v1.41/plugins/x/p:latest/push', 'push', undefined],
  ])('%s: the first line reaches the client before the supervisor sends the rest', async (path, verb, pluginName) => {
    call.push({ id: 'latest', status: 'Pulling from x/p' });
    const res = await post(path, (body) => {
      // only once the client has the first line does the supervisor go on
      if (body.includes('Pulling from') && !body.includes('Status:')) {
        call.push({ id: 'abcdef012345', status: 'Download complete' });
        call.push({ id: '', status: 'Status: Downloaded newer image for x/p:latest' });
        call.push(null);
      }
    });
    expect(requests.map((r) => r.rpc)).toEqual([verb]);
    expect(res.status).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['docker-plugin-name']).toBe(pluginName);
    expect(res.body).toBe(
      '{"status":"Pulling from x/p","id":"latest"}\r\n{"status":"Download complete","progressDetail":{},"id":"abcdef012345"}\r\n{"status":"Status: Downloaded newer image for x/p:latest"}\r\n',
    );
  });

  it("an error before any message is dockerd's HTTP error", async () => {
    onCall = () => call.destroy(new AlreadyExistsError('plugin x/p:latest already exists'));
    const res = await post('/v1.41/plugins/pull?remote=x/p');
    expect([res.status, JSON.parse(res.body)]).toEqual([409, { message: 'plugin x/p:latest already exists' }]);
  });

  it('an error after the first message is an errorDetail line', async () => {
    call.push({ id: 'latest', status: 'Pulling from x/p' });
    const res = await post('/v1.41/plugins/pull?remote=x/p', (body) => {
      if (body.includes('Pulling from') && !body.includes('error')) call.destroy(new InternalError('layer verification failed for digest sha256:ab'));
    });
    expect(res.status).toBe(200);
    expect(res.body.split('\r\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual([
      { status: 'Pulling from x/p', id: 'latest' },
      { errorDetail: { message: 'layer verification failed for digest sha256:ab' }, error: 'layer verification failed for digest sha256:ab' },
    ]);
  });
});
