import { join } from 'node:path';
import { request } from 'node:http';
import { createLogger } from '@drydock/logging';
import { LegacyPluginDirectory } from '@drydock/plugins';
import { FakePlugin, tempDir } from '@drydock/plugins/testing';
import { Router } from '../http/router';
import { GatewayServer } from '../http/server';
import { AuthzChain, canonicalHeader } from './authz';
import { AuthzPlugins, typeCapability } from './authz-plugins';

const logger = createLogger({ service: 'test', level: 'silent' });

function call(socketPath: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const text = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { 'Content-Length': String(Buffer.byteLength(text)), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const bodyOf = (c: { body: unknown } | undefined): any => c?.body;

describe('authorization plugins on a real gateway server and a real plugin socket', () => {
  const t = tempDir('authz');
  const sockets = join(t.dir, 'plugins');
  const api = join(t.dir, 'api.sock');
  let plugin: FakePlugin;
  let second: FakePlugin;
  let server: GatewayServer;
  let ran = 0;

  beforeAll(async () => {
    require('node:fs').mkdirSync(sockets);
    plugin = await new FakePlugin(join(sockets, 'guard.sock'), {
      'Plugin.Activate': { json: { Implements: ['authz'] } },
      'AuthZPlugin.AuthZReq': (b) => (b.RequestBody && Buffer.from(b.RequestBody, 'base64').toString().includes('"deny"') ? { json: { Allow: false, Msg: 'no deny labels' } } : { json: { Allow: true } }),
      'AuthZPlugin.AuthZRes': (b) => (b.ResponseBody && Buffer.from(b.ResponseBody, 'base64').toString().includes('secret') ? { json: { Allow: false, Msg: 'no secrets out' } } : { json: { Allow: true } }),
    }).start();
    second = await new FakePlugin(join(sockets, 'second.sock'), {
      'Plugin.Activate': { json: { Implements: ['authz'] } },
      'AuthZPlugin.AuthZReq': { json: { Allow: true } },
      'AuthZPlugin.AuthZRes': { json: { Allow: true } },
    }).start();
    const legacy = new LegacyPluginDirectory({ socketsDir: sockets, specsDirs: [], activateTimeoutMs: 2000, lookupRetryMs: 0, connectRetryMs: 0 }, logger);
    const notManaged = async () => {
      throw new (require('@drydock/errors').NotFoundError)('plugin not found');
    };
    const plugins = new AuthzPlugins({ timeoutMs: 500, runDir: join(t.dir, 'run') }, notManaged, legacy);
    const router = new Router(1024 * 1024, new AuthzChain(['guard', 'second'], plugins.resolve));
    router.on('POST', '/containers/create', async (ctx) => {
      const body = JSON.parse((await ctx.rawBody()).toString()) as unknown;
      ran++;
      ctx.send(201, { Id: 'abc', Warnings: [], echo: body });
    });
    router.on('GET', '/containers/json', (ctx) => ctx.send(200, [{ Id: 'abc' }]));
    router.on('GET', '/secret', (ctx) => ctx.send(200, { value: 'secret' }));
    router.on('GET', '/stream', (ctx) => {
      ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
      ctx.res.end('{"secret":1}\n');
    });
    server = new GatewayServer(router, logger);
    await server.listen({ socketPath: api, socketMode: 0o600 });
  });
  afterAll(async () => {
    await server.close();
    await plugin.stop();
    await second.stop();
    t.cleanup();
  });
  beforeEach(() => {
    plugin.calls.length = 0;
    second.calls.length = 0;
    ran = 0;
  });

  it("sends dockerd's AuthZReq and AuthZRes bodies to every plugin in order and lets an allowed request through", async () => {
    const res = await call(api, 'POST', '/v1.41/containers/create?name=x', { Image: 'busybox' }, { 'X-Registry-Auth': 'c2VjcmV0', 'user-agent': 'Docker-Client/20.10.24 (linux)' });
    expect(res.status).toBe(201);
    expect(ran).toBe(1);
    // the route still read the body the plugin saw
    expect(JSON.parse(res.text).echo).toEqual({ Image: 'busybox' });
    const [req, rsp] = plugin.calls.filter((c) => c.method.startsWith('AuthZPlugin'));
    expect(req.method).toBe('AuthZPlugin.AuthZReq');
    expect(bodyOf(req)).toMatchObject({ User: '', UserAuthNMethod: '', RequestMethod: 'POST', RequestURI: '/v1.41/containers/create?name=x', RequestBody: b64('{"Image":"busybox"}') });
    expect(bodyOf(req).RequestHeaders).toMatchObject({ 'Content-Type': 'application/json', 'User-Agent': 'Docker-Client/20.10.24 (linux)' });
    expect(bodyOf(req).RequestHeaders['X-Registry-Auth']).toBeUndefined();
    expect(rsp.method).toBe('AuthZPlugin.AuthZRes');
    expect(bodyOf(rsp).ResponseStatusCode).toBe(201);
    expect(bodyOf(rsp).ResponseHeaders).toMatchObject({ 'Content-Type': 'application/json' });
    expect(JSON.parse(Buffer.from(bodyOf(rsp).ResponseBody, 'base64').toString()).Id).toBe('abc');
    expect(second.calls.map((c) => c.method).filter((m) => m.startsWith('AuthZ'))).toEqual(['AuthZPlugin.AuthZReq', 'AuthZPlugin.AuthZRes']);
  });

  it("denies with dockerd's 403 text before the route runs, and asks no later plugin", async () => {
    const res = await call(api, 'POST', '/v1.41/containers/create', { Image: 'busybox', Labels: { deny: '1' } });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).message).toBe('authorization denied by plugin guard: no deny labels');
    expect(ran).toBe(0);
    expect(second.calls).toHaveLength(0);
  });

  it('holds an answer back when AuthZRes denies it; streamed answers carry no body to the plugins', async () => {
    const res = await call(api, 'GET', '/secret');
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).message).toBe('authorization denied by plugin guard: no secrets out');
    expect(res.text).not.toContain('"value"');
    const s = await call(api, 'GET', '/stream');
    expect(s.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const rsp = plugin.calls.find((c) => c.method === 'AuthZPlugin.AuthZRes' && bodyOf(c).RequestURI === '/stream');
    expect(bodyOf(rsp).ResponseBody).toBeUndefined();
    expect(bodyOf(rsp).ResponseStatusCode).toBe(200);
  });

  it('fails closed: a plugin answering an error, garbage or nothing denies the request', async () => {
    const answers = plugin.answers;
    try {
      plugin.answers = { ...answers, 'AuthZPlugin.AuthZReq': { status: 500, json: { Err: 'policy store down' } } };
      let res = await call(api, 'GET', '/containers/json');
      expect(res.status).toBe(500);
      expect(JSON.parse(res.text).message).toBe('plugin guard failed with error: AuthZPlugin.AuthZReq: policy store down');
      // as dockerd's middleware order: the plugins before the version check (a CLI whose _ping failed asks with its own version)
      res = await call(api, 'GET', '/v1.99/containers/json');
      expect(JSON.parse(res.text).message).toBe('plugin guard failed with error: AuthZPlugin.AuthZReq: policy store down');
      plugin.answers = { ...answers, 'AuthZPlugin.AuthZReq': { raw: 'not json' } };
      res = await call(api, 'GET', '/containers/json');
      expect(res.status).toBe(500);
      expect(JSON.parse(res.text).message).toMatch(/^plugin guard failed with error: AuthZPlugin.AuthZReq: error reading plugin response/);
      plugin.answers = { ...answers, 'AuthZPlugin.AuthZReq': { json: 'yes' } };
      res = await call(api, 'GET', '/containers/json');
      expect(res.status).toBe(500);
      plugin.answers = { ...answers, 'AuthZPlugin.AuthZReq': { json: {} } };
      res = await call(api, 'GET', '/containers/json');
      expect(res.status).toBe(403);
      plugin.answers = { ...answers, 'AuthZPlugin.AuthZReq': 'hang' };
      const t0 = Date.now();
      res = await call(api, 'GET', '/containers/json');
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(res.status).toBe(500);
      expect(JSON.parse(res.text).message).toMatch(/^plugin guard failed with error: AuthZPlugin.AuthZReq: context deadline exceeded/);
    } finally {
      plugin.answers = answers;
    }
  });

  it("a plugin that cannot be found denies with dockerd's not-found text", async () => {
    const legacy = new LegacyPluginDirectory({ socketsDir: sockets, specsDirs: [], activateTimeoutMs: 500, lookupRetryMs: 0, connectRetryMs: 0 }, logger);
    const chain = new AuthzChain(['missing'], new AuthzPlugins({ timeoutMs: 500, runDir: t.dir }, async () => Promise.reject(new (require('@drydock/errors').NotFoundError)('x')), legacy).resolve);
    await expect(chain.request({ User: '', UserAuthNMethod: '', RequestMethod: 'GET', RequestURI: '/_ping', RequestHeaders: {} })).rejects.toThrow('plugin missing failed with error: plugin "missing" not found');
  });

  it('finds a managed plugin by its socket under the run directory, and refuses a disabled one', async () => {
    const legacy = new LegacyPluginDirectory({ socketsDir: join(t.dir, 'none'), specsDirs: [], activateTimeoutMs: 500, lookupRetryMs: 0, connectRetryMs: 0 }, logger);
    const id = 'aabbccddeeff00112233';
    require('node:fs').mkdirSync(join(t.dir, 'run', id.slice(0, 12)), { recursive: true });
    const m = await new FakePlugin(join(t.dir, 'run', id.slice(0, 12), 'authz.sock'), { 'AuthZPlugin.AuthZReq': { json: { Allow: false, Msg: 'managed says no' } } }).start();
    try {
      let enabled = true;
      const inspect = async () => ({ Id: id, Name: 'acme/authz:latest', Enabled: enabled, Config: { Interface: { Socket: 'authz.sock', Types: ['docker.authz/1.0'] } } });
      const chain = new AuthzChain(['acme/authz'], new AuthzPlugins({ timeoutMs: 500, runDir: join(t.dir, 'run') }, inspect, legacy).resolve);
      const body = { User: 'alice', UserAuthNMethod: 'TLS', RequestMethod: 'GET', RequestURI: '/_ping', RequestHeaders: {} };
      // dockerd's SetName: once found, the plugin is named by its full name
      await expect(chain.request(body)).rejects.toThrow('authorization denied by plugin acme/authz:latest: managed says no');
      enabled = false;
      const chain2 = new AuthzChain(['acme/authz'], new AuthzPlugins({ timeoutMs: 500, runDir: join(t.dir, 'run') }, inspect, legacy).resolve);
      await expect(chain2.request(body)).rejects.toThrow('plugin acme/authz failed with error: plugin acme/authz found but disabled');
    } finally {
      await m.stop();
    }
  });

  it('drops a managed plugin disabled after it was used, as dockerd does, until the gateway restarts', async () => {
    const legacy = new LegacyPluginDirectory({ socketsDir: join(t.dir, 'none'), specsDirs: [], activateTimeoutMs: 500, lookupRetryMs: 0, connectRetryMs: 0 }, logger);
    const id = '112233445566778899aa';
    const sock = join(t.dir, 'run', id.slice(0, 12), 'authz.sock');
    require('node:fs').mkdirSync(join(t.dir, 'run', id.slice(0, 12)), { recursive: true });
    const say = { 'AuthZPlugin.AuthZReq': { json: { Allow: false, Msg: 'no' } }, 'AuthZPlugin.AuthZRes': { json: { Allow: false, Msg: 'no' } } };
    let m = await new FakePlugin(sock, say).start();
    let enabled = true;
    const inspect = async () => ({ Id: id, Name: 'acme/drop:latest', Enabled: enabled, Config: { Interface: { Socket: 'authz.sock', Types: ['docker.authz/1.0'] } } });
    const chain = new AuthzChain(['acme/drop'], new AuthzPlugins({ timeoutMs: 500, runDir: join(t.dir, 'run') }, inspect, legacy).resolve);
    const body = { User: '', UserAuthNMethod: '', RequestMethod: 'GET', RequestURI: '/_ping', RequestHeaders: {} };
    try {
      await expect(chain.request(body)).rejects.toThrow('authorization denied by plugin acme/drop:latest: no');
      // a killed (still enabled) plugin denies: fail closed
      await m.stop();
      await expect(chain.request(body)).rejects.toThrow(/^plugin acme\/drop:latest failed with error: .*ECONNREFUSED|ENOENT/);
      // disabled: the failed call finds it disabled and the chain has no plugin left
      enabled = false;
      await expect(chain.request(body)).resolves.toBeUndefined();
      await expect(chain.response(body, 200, {}, undefined)).resolves.toBeUndefined();
      // enabled again: still out of the chain (dockerd adds it back only on a reload)
      enabled = true;
      m = await new FakePlugin(sock, say).start();
      await expect(chain.request(body)).resolves.toBeUndefined();
      expect(m.calls).toEqual([]);
    } finally {
      await m.stop();
    }
  });

  it('reads interface types as the supervisor sends them (strings, as dockerd)', () => {
    expect(typeCapability('docker.authz/1.0')).toBe('authz');
    expect(typeCapability('docker.volumedriver/1.0')).toBe('volumedriver');
    expect(typeCapability({ Capability: 'authz' })).toBe('authz');
  });

  it("names headers as Go's http.Header does", () => {
    expect(canonicalHeader('content-type')).toBe('Content-Type');
    expect(canonicalHeader('x-docker-thing')).toBe('X-Docker-Thing');
  });
});
