import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { requireCommand } from '@drydock/infra';
import { makeTempDir, startTestInfra, TokenAuthRegistry, TokenServer, type TestInfra } from '@drydock/testing';
import { type OciLayout, writeBusyboxOciLayout } from './support/oci-layout';
import { http, ProxyProcess, putBlob, registryAuth, sha } from './support/proxy-process';

const run = promisify(execFile);
const repoRoot = resolve(__dirname, '../../..');

let tmp: string;
let proxy: ProxyProcess;
let basic: TestInfra;
let tokens: TokenServer;
let tokenRegistry: TokenAuthRegistry;
let layout: OciLayout;
let skopeoBin: string;

const ALICE = registryAuth({ username: 'alice', password: 'secret' });
const BOB = registryAuth({ username: 'bob', password: 'hunter2' });
const aliceBasic = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
const errorOf = (b: Buffer) => (JSON.parse(b.toString()) as { errors: { code: string; message: string }[] }).errors[0];
const blobFile = (digest: string) => readFileSync(join(layout.dir, 'blobs/sha256', digest.slice(7)));

async function skopeo(...args: string[]): Promise<string> {
  try {
    return (await run(skopeoBin, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${e.stderr || e.message}\nregistry-proxy log tail:\n${proxy.tail()}`);
  }
}

/** A monolithic upload through the proxy's relay. */
function upload(name: string, digest: string, data: Buffer, auth: string) {
  return http(`${proxy.url}/v2/${name}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { 'X-Registry-Auth': auth, 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) },
    body: data,
  });
}

beforeAll(async () => {
  skopeoBin = requireCommand('skopeo', 'skopeo');
  tmp = await makeTempDir('rp-push');
  execFileSync(process.execPath, [join(repoRoot, 'tools/build/build.mjs'), '--out', join(tmp, 'build'), 'registry-proxy'], { stdio: 'pipe' });
  tokens = await new TokenServer({ users: { bob: 'hunter2' } }).start();
  tokenRegistry = new TokenAuthRegistry({ dir: join(tmp, 'token-registry'), dieWithParent: true }, tokens);
  [basic, layout] = await Promise.all([
    startTestInfra({ registry: { htpasswd: { users: { alice: 'secret' } } }, name: 'rp-push' }),
    writeBusyboxOciLayout(join(tmp, 'oci'), 'v1'),
    tokenRegistry.start(),
  ]);
  proxy = await new ProxyProcess(join(tmp, 'build/apps/registry-proxy/main.js'), join(tmp, 'proxy')).start();
}, 180000);

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([basic?.stop(), tokenRegistry?.stop(), tokens?.close()]);
  if (tmp) execFileSync('rm', ['-rf', tmp]);
});

describe('push relay', () => {
  it('pushes an image: HEAD, monolithic upload, mount, manifest PUT; skopeo then reads it from the registry', async () => {
    const up = basic.registry!;
    const name = `${up.host}/pushed/app`;
    // The layer already sits in another repository of the registry: mounted, not uploaded.
    await putBlob(up.url, 'team/base', blobFile(layout.layerDigest), aliceBasic);

    const missing = await http(`${proxy.url}/v2/${name}/blobs/${layout.configDigest}`, { method: 'HEAD', headers: { 'X-Registry-Auth': ALICE } });
    expect(missing.status).toBe(404);
    const cfg = await upload(name, layout.configDigest, blobFile(layout.configDigest), ALICE);
    expect(cfg.status).toBe(201);
    expect(cfg.headers['docker-content-digest']).toBe(layout.configDigest);
    const present = await http(`${proxy.url}/v2/${name}/blobs/${layout.configDigest}`, { method: 'HEAD', headers: { 'X-Registry-Auth': ALICE } });
    expect(present.status).toBe(200);
    expect(Number(present.headers['content-length'])).toBe(blobFile(layout.configDigest).length);

    const mount = await http(`${proxy.url}/v2/${name}/blobs/uploads/?mount=${layout.layerDigest}&from=team/base`, { method: 'POST', headers: { 'X-Registry-Auth': ALICE } });
    expect(mount.status).toBe(201);
    expect(mount.headers.location).toBe(`/v2/${name}/blobs/${layout.layerDigest}`);
    const nothing = await http(`${proxy.url}/v2/${name}/blobs/uploads/?mount=${sha('nothing')}&from=team/base`, { method: 'POST', headers: { 'X-Registry-Auth': ALICE } });
    expect(nothing.status).toBe(202);

    const manifest = blobFile(layout.manifestDigest);
    const put = await http(`${proxy.url}/v2/${name}/manifests/v1`, {
      method: 'PUT',
      headers: { 'X-Registry-Auth': ALICE, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    expect(put.status).toBe(201);
    expect(put.headers['docker-content-digest']).toBe(layout.manifestDigest);
    const inspect = JSON.parse(await skopeo('inspect', '--tls-verify=false', '--creds', 'alice:secret', `docker://${up.host}/pushed/app:v1`));
    expect(inspect.Digest).toBe(layout.manifestDigest);
    expect(inspect.Layers).toEqual([layout.layerDigest]);
  });

  it('refuses an upload whose content does not match its digest; the registry gets nothing', async () => {
    const up = basic.registry!;
    const claimed = sha('what the client promised');
    const bad = await upload(`${up.host}/pushed/app`, claimed, Buffer.from('something else entirely'), ALICE);
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body).code).toBe('DIGEST_INVALID');
    const head = await http(`${up.url}/v2/pushed/app/blobs/${claimed}`, { method: 'HEAD', headers: { Authorization: aliceBasic } });
    expect(head.status).toBe(404);
  });

  it('streams a large blob to a token-auth registry with a push token', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const digest = sha(data);
    const r = await upload(`${tokenRegistry.host}/bob/big`, digest, data, BOB);
    expect(r.status).toBe(201);
    expect(tokens.requests.at(-1)).toMatchObject({ grantType: 'basic', account: 'bob', scopes: ['repository:bob/big:pull,push'] });
    const token = tokens.issue('bob', [{ type: 'repository', name: 'bob/big', actions: ['pull'] }]);
    const back = await http(`http://${tokenRegistry.host}/v2/bob/big/blobs/${digest}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(back.status).toBe(200);
    expect(sha(back.body)).toBe(digest);
  });

  it('passes a refusal through with the registry’s status and code', async () => {
    const r = await upload(`${basic.registry!.host}/pushed/app`, sha('x'), Buffer.from('x'), registryAuth({ username: 'alice', password: 'wrong' }));
    expect(r.status).toBe(401);
    expect(errorOf(r.body).code).toBe('UNAUTHORIZED');
  });
});

describe('login and search', () => {
  const login = (body: object) => http(`${proxy.url}/drydock/v1/auth`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = (b: Buffer) => JSON.parse(b.toString());

  it('checks credentials against the registry as dockerd does', async () => {
    const host = basic.registry!.host;
    const ok = await login({ username: 'alice', password: 'secret', serveraddress: host });
    expect(ok.status).toBe(200);
    expect(json(ok.body)).toEqual({ Status: 'Login Succeeded', IdentityToken: '' });
    expect((await login({ username: 'alice', password: 'secret', serveraddress: `http://${host}/` })).status).toBe(200);
    const bad = await login({ username: 'alice', password: 'bad', serveraddress: host });
    expect(bad.status).toBe(500);
    expect(json(bad.body)).toEqual({ message: `login attempt to http://${host}/v2/ failed with status: 401 Unauthorized` });
    const none = await login({ serveraddress: host });
    expect(json(none.body)).toEqual({ message: `Get "http://${host}/v2/": no basic auth credentials` });

    const tokenBad = await login({ username: 'bob', password: 'bad', serveraddress: tokenRegistry.host });
    expect(tokenBad.status).toBe(401);
    expect(json(tokenBad.body)).toEqual({ message: `Get "http://${tokenRegistry.host}/v2/": unauthorized: incorrect username or password` });
    const tokenOk = await login({ username: 'bob', password: 'hunter2', serveraddress: tokenRegistry.host });
    expect(tokenOk.status).toBe(200);
    expect(json(tokenOk.body).Status).toBe('Login Succeeded');

    const closed = await login({ username: 'a', password: 'b', serveraddress: '127.0.0.1:1' });
    expect(closed.status).toBe(500);
    expect(json(closed.body)).toEqual({ message: 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused' });
  });

  it('answers search on a registry without the v1 search API with dockerd’s error', async () => {
    const r = await http(`${proxy.url}/drydock/v1/search?term=${encodeURIComponent(`${basic.registry!.host}/busybox`)}&limit=10`);
    expect(r.status).toBe(500);
    expect(json(r.body)).toEqual({ message: 'Unexpected status code 404' });
    const limit = await http(`${proxy.url}/drydock/v1/search?term=${encodeURIComponent(`${basic.registry!.host}/busybox`)}&limit=101`);
    expect(limit.status).toBe(400);
    expect(json(limit.body)).toEqual({ message: 'Limit 101 is outside the range of [1, 100]' });
  });
});

describe('local repositories next to remote ones', () => {
  it('still serve skopeo as a plain registry', async () => {
    await skopeo('copy', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${proxy.host}/local/app:v1`);
    const out = join(tmp, 'oci-out');
    await skopeo('copy', '--src-tls-verify=false', `docker://${proxy.host}/local/app:v1`, `oci:${out}:v1`);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(layout.manifestDigest);
  });
});
