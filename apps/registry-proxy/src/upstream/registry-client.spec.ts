import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { ANONYMOUS } from './credentials';
import { EndpointResolver } from './endpoints';
import { HttpTransport } from './http-transport';
import { RegistryClient } from './registry-client';

const logger = pino({ level: 'silent' });

/** A loopback HTTP server with a handler that tests swap. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; host: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('RegistryClient', () => {
  const servers: Server[] = [];
  let transport: HttpTransport;
  beforeEach(() => (transport = new HttpTransport({ timeoutMs: 5000, stallMs: 5000, userAgent: 'test' })));
  afterEach(async () => {
    transport.close();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('caches bearer tokens per scope and replaces a cached token the registry stopped taking', async () => {
    let valid = 'token-1';
    let issued = 0;
    const tokenRequests: string[] = [];
    const { server, host } = await serve((req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/token') {
        tokenRequests.push(url.searchParams.getAll('scope').join(' '));
        issued++;
        res.end(JSON.stringify({ token: valid, expires_in: 300 }));
        return;
      }
      if (req.headers.authorization !== `Bearer ${valid}`) {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${req.headers.host}/token",service="svc"`, 'Docker-Distribution-API-Version': 'registry/2.0' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      res.end('ok');
    });
    servers.push(server);
    const client = new RegistryClient(transport, new EndpointResolver({ mirrors: [], insecureRegistries: ['127.0.0.0/8'] }), logger);
    const access = { credentials: ANONYMOUS, scopes: ['repository:a/b:pull'] };
    const get = () => client.withEndpoints(host, 'pull', (ep) => client.fetch(ep, access, { method: 'GET', path: '/v2/a/b/manifests/1' }));

    expect((await get()).body.toString()).toBe('ok');
    expect((await get()).body.toString()).toBe('ok');
    expect(issued).toBe(1);
    expect(tokenRequests).toEqual(['repository:a/b:pull']);

    valid = 'token-2';
    const r = await get();
    expect(r.status).toBe(200);
    expect(issued).toBe(2);
  });

  it('falls back from HTTPS to HTTP for insecure registries, and through failing mirrors for Docker Hub', async () => {
    const seen: string[] = [];
    const broken = await serve((req, res) => {
      seen.push(`broken ${req.url}`);
      res.writeHead(req.url === '/v2/' ? 200 : 500).end();
    });
    const good = await serve((req, res) => {
      seen.push(`good ${req.url}`);
      res.end(req.url === '/v2/' ? '{}' : 'manifest');
    });
    servers.push(broken.server, good.server);
    const resolver = new EndpointResolver({ mirrors: [`http://${broken.host}`, `http://${good.host}`], insecureRegistries: ['127.0.0.0/8'] });
    const client = new RegistryClient(transport, resolver, logger);
    const access = { credentials: ANONYMOUS, scopes: [] };
    const fetchFrom = (host: string) =>
      client.withEndpoints(host, 'pull', async (ep) => {
        const r = await client.fetch(ep, access, { method: 'GET', path: '/v2/library/x/manifests/1' });
        if (r.status !== 200) throw Object.assign(new Error(`status ${r.status}`), { status: r.status });
        return `${ep.origin} ${r.body}`;
      });

    expect(await fetchFrom('docker.io')).toBe(`http://${good.host} manifest`);
    expect(seen).toContain('broken /v2/library/x/manifests/1');
    // A plain-HTTP registry on loopback: the HTTPS attempt fails at the TLS level, HTTP answers.
    expect(await fetchFrom(good.host)).toBe(`http://${good.host} manifest`);
  });

  it('follows blob redirects to storage without the registry’s credentials', async () => {
    const storageSaw: (string | undefined)[] = [];
    const storage = await serve((req, res) => {
      storageSaw.push(req.headers.authorization);
      res.end('blob bytes');
    });
    const registry = await serve((req, res) => {
      if (req.url === '/v2/') {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' }).end();
        return;
      }
      if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) return void res.writeHead(401).end();
      res.writeHead(307, { Location: `http://${storage.host}/store/abc?sig=1` }).end();
    });
    servers.push(storage.server, registry.server);
    const client = new RegistryClient(transport, new EndpointResolver({ mirrors: [], insecureRegistries: ['127.0.0.0/8'] }), logger);
    const access = { credentials: { ...ANONYMOUS, username: 'u', password: 'p' }, scopes: [] };
    const res = await client.withEndpoints(registry.host, 'pull', (ep) => client.fetch(ep, access, { method: 'GET', path: '/v2/a/blobs/sha256:x', followRedirects: true }));
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('blob bytes');
    expect(storageSaw).toEqual([undefined]);
  });

  it('words an unreachable registry as dockerd does', async () => {
    const client = new RegistryClient(transport, new EndpointResolver({ mirrors: [], insecureRegistries: ['127.0.0.0/8'] }), logger);
    const access = { credentials: ANONYMOUS, scopes: [] };
    await expect(client.withEndpoints('127.0.0.1:1', 'pull', (ep) => client.fetch(ep, access, { method: 'GET', path: '/v2/x/manifests/1' }))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      status: 502,
      message: 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused',
    });
  });
});
