import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ANONYMOUS } from './credentials';
import { EndpointResolver } from './endpoints';
import { HttpTransport } from './http-transport';
import { SearchService, splitSearchTerm } from './search';

describe('SearchService', () => {
  let server: Server;
  let host: string;
  const seen: string[] = [];
  let transport: HttpTransport;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization ?? ''}`);
      if (req.url === '/v1/_ping') return void res.end('true');
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ num_results: 1, query: 'busy', results: [{ name: 'team/busybox', description: 'tiny', star_count: 3, is_official: false, is_automated: true, extra: 1 }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    transport = new HttpTransport({ timeoutMs: 5000, stallMs: 5000, userAgent: 'test' });
  });
  afterAll(async () => {
    transport.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('asks the registry named in the term (v1 API, after the ping) and returns Docker’s rows', async () => {
    const s = new SearchService(transport, new EndpointResolver({ mirrors: [], insecureRegistries: ['127.0.0.0/8'] }));
    const rows = await s.search(`${host}/busy`, 10, { ...ANONYMOUS, username: 'u', password: 'p' });
    expect(rows).toEqual([{ name: 'team/busybox', description: 'tiny', star_count: 3, is_official: false, is_automated: true }]);
    expect(seen).toEqual(['/v1/_ping ', `/v1/search?q=busy&n=10 Basic ${Buffer.from('u:p').toString('base64')}`]);
  });

  it('checks the limit after the endpoint, as dockerd does', async () => {
    const s = new SearchService(transport, new EndpointResolver({ mirrors: [], insecureRegistries: ['127.0.0.0/8'] }));
    await expect(s.search(`${host}/busy`, 0, ANONYMOUS)).rejects.toMatchObject({ status: 400, message: 'Limit 0 is outside the range of [1, 100]' });
    await expect(s.search('127.0.0.1:1/busy', 0, ANONYMOUS)).rejects.toMatchObject({ status: 500, message: expect.stringMatching(/^invalid registry endpoint "http:\/\/127\.0\.0\.1:1\/v1\/"\. HTTPS attempt: /) });
  });

  it('splits terms the way dockerd does', () => {
    expect(splitSearchTerm('busybox')).toEqual({ index: 'docker.io', remote: 'busybox' });
    expect(splitSearchTerm('library/busybox')).toEqual({ index: 'docker.io', remote: 'library/busybox' });
    expect(splitSearchTerm('reg.example:5000/team/app')).toEqual({ index: 'reg.example:5000', remote: 'team/app' });
    expect(splitSearchTerm('localhost/app')).toEqual({ index: 'localhost', remote: 'app' });
  });
});
