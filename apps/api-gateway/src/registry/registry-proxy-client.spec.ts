import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '@drydock/infra';
import { RegistryProxyClient } from './registry-proxy-client';

/** A stand-in for the registry-proxy's control endpoints (the real one is exercised by the e2e tests). */
describe('RegistryProxyClient', () => {
  let server: Server;
  let handle: (req: IncomingMessage, body: string, res: ServerResponse) => void;
  let url = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => handle(req, body, res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  it('posts the AuthConfig to /drydock/v1/auth and returns the proxy answer', async () => {
    let seen: { method?: string; url?: string; body?: string } = {};
    handle = (req, body, res) => {
      seen = { method: req.method, url: req.url, body };
      json(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
    };
    const ok = await new RegistryProxyClient(url, 5000).login({ username: 'alice', password: 'secret', serveraddress: '127.0.0.1:5556' });
    expect(ok).toEqual({ Status: 'Login Succeeded', IdentityToken: '' });
    expect(seen).toEqual({ method: 'POST', url: '/drydock/v1/auth', body: '{"username":"alice","password":"secret","serveraddress":"127.0.0.1:5556"}' });
  });

  it("keeps the proxy's status class and dockerd's words for failures", async () => {
    handle = (_req, _body, res) => json(res, 500, { message: 'login attempt to http://127.0.0.1:5556/v2/ failed with status: 401 Unauthorized' });
    await expect(new RegistryProxyClient(url, 5000).login({})).rejects.toMatchObject({ code: 'INTERNAL', message: 'login attempt to http://127.0.0.1:5556/v2/ failed with status: 401 Unauthorized' });
    handle = (_req, _body, res) => json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
    await expect(new RegistryProxyClient(url, 5000).login({})).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'authentication required' });
    handle = (_req, _body, res) => json(res, 400, { message: 'Limit 0 is outside the range of [1, 100]' });
    await expect(new RegistryProxyClient(url, 5000).search('x', 0, undefined)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('searches with term, limit and the caller credentials, normalizing rows', async () => {
    let seen: { url?: string; auth?: string | string[] } = {};
    handle = (req, _body, res) => {
      seen = { url: req.url, auth: req.headers['x-registry-auth'] };
      json(res, 200, [{ name: 'team/app', description: 'd', star_count: 3, is_official: false, is_automated: true }, { name: 'x' }]);
    };
    const rows = await new RegistryProxyClient(url, 5000).search('127.0.0.1:5000/app', 10, 'e30=');
    expect(seen).toEqual({ url: '/drydock/v1/search?term=127.0.0.1%3A5000%2Fapp&limit=10', auth: 'e30=' });
    expect(rows).toEqual([
      { name: 'team/app', description: 'd', star_count: 3, is_official: false, is_automated: true },
      { name: 'x', description: '', star_count: 0, is_official: false, is_automated: false },
    ]);
  });

  it('reports an unreachable proxy as Unavailable', async () => {
    const port = await freePort();
    await expect(new RegistryProxyClient(`http://127.0.0.1:${port}`, 5000).search('x', 1, undefined)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: `registry-proxy at http://127.0.0.1:${port} is unreachable: ECONNREFUSED`,
    });
  });
});
