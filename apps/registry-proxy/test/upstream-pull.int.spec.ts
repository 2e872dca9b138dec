import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { requireCommand, waitFor } from '@drydock/infra';
import { makeTempDir, RegistryTap, startTestInfra, TokenAuthRegistry, TokenServer, type TestInfra } from '@drydock/testing';
import { type OciLayout, writeBusyboxOciLayout } from './support/oci-layout';
import { http, ProxyProcess, putImage, registryAuth, sha } from './support/proxy-process';

const run = promisify(execFile);
const repoRoot = resolve(__dirname, '../../..');

let tmp: string;
let mainJs: string;
let proxy: ProxyProcess;
let anon: TestInfra;
let basic: TestInfra;
let tokens: TokenServer;
let tokenRegistry: TokenAuthRegistry;
let tap: RegistryTap;
let layout: OciLayout;
let skopeoBin: string;

const ALICE = registryAuth({ username: 'alice', password: 'secret' });
const BOB = registryAuth({ username: 'bob', password: 'hunter2' });

async function skopeo(...args: string[]): Promise<string> {
  try {
    return (await run(skopeoBin, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** GET through the proxy; fails the test with the proxy's log when the status is unexpected. */
async function viaProxy(path: string, headers: Record<string, string> = {}, method = 'GET') {
  return http(`${proxy.url}/v2/${path}`, { method, headers });
}

const errorOf = (b: Buffer) => (JSON.parse(b.toString()) as { errors: { code: string; message: string }[] }).errors[0];
const cached = (p: ProxyProcess, kind: 'blobs' | 'partial' | 'manifests', digest: string) => existsSync(join(p.cacheDir, kind, 'sha256', digest.slice(7)));

beforeAll(async () => {
  skopeoBin = requireCommand('skopeo', 'skopeo');
  tmp = await makeTempDir('rp-pull');
  execFileSync(process.execPath, [join(repoRoot, 'tools/build/build.mjs'), '--out', join(tmp, 'build'), 'registry-proxy'], { stdio: 'pipe' });
  mainJs = join(tmp, 'build/apps/registry-proxy/main.js');
  tokens = await new TokenServer({ users: { bob: 'hunter2' } }).start();
  tokenRegistry = new TokenAuthRegistry({ dir: join(tmp, 'token-registry'), dieWithParent: true }, tokens);
  [anon, basic, layout] = await Promise.all([
    startTestInfra({ registry: true, name: 'rp-anon' }),
    startTestInfra({ registry: { htpasswd: { users: { alice: 'secret' } } }, name: 'rp-basic' }),
    writeBusyboxOciLayout(join(tmp, 'oci'), 'v1'),
    tokenRegistry.start(),
  ]);
  tap = await RegistryTap.start({ upstream: anon.registry!.url });
  await Promise.all([
    skopeo('copy', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${anon.registry!.host}/team/app:v1`),
    skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'alice:secret', `oci:${layout.dir}:v1`, `docker://${basic.registry!.host}/team/app:v1`),
    skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'bob:hunter2', `oci:${layout.dir}:v1`, `docker://${tokenRegistry.host}/team/app:v1`),
  ]);
  proxy = await new ProxyProcess(mainJs, join(tmp, 'proxy')).start();
}, 180000);

afterAll(async () => {
  await proxy?.stop();
  await tap?.close();
  await Promise.all([anon?.stop(), basic?.stop(), tokenRegistry?.stop(), tokens?.close()]);
  if (tmp) execFileSync('rm', ['-rf', tmp]);
});

afterEach(() => {
  tap.setMode({});
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) process.stdout.write(`registry-proxy log tail:\n${proxy.tail()}\n`);
});

describe('pull-through of an anonymous registry', () => {
  it('serves the manifest by tag and by digest, verified, and its blobs; a second read of a blob stays local', async () => {
    const name = `${tap.host}/team/app`;
    const m = await viaProxy(`${name}/manifests/v1`, { Accept: 'application/vnd.oci.image.manifest.v1+json' });
    expect(m.status).toBe(200);
    expect(m.headers['docker-content-digest']).toBe(layout.manifestDigest);
    expect(m.headers['content-type']).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(sha(m.body)).toBe(layout.manifestDigest);
    const byDigest = await viaProxy(`${name}/manifests/${layout.manifestDigest}`);
    expect(sha(byDigest.body)).toBe(layout.manifestDigest);
    expect(tap.count(new RegExp(`/manifests/${layout.manifestDigest}$`), 'GET')).toBe(1);

    for (const digest of [layout.configDigest, layout.layerDigest]) {
      const b = await viaProxy(`${name}/blobs/${digest}`);
      expect(b.status).toBe(200);
      expect(sha(b.body)).toBe(digest);
    }
    const again = await viaProxy(`${name}/blobs/${layout.layerDigest}`);
    expect(sha(again.body)).toBe(layout.layerDigest);
    expect(tap.count(new RegExp(`/blobs/${layout.layerDigest}$`), 'GET')).toBe(1);
    expect(cached(proxy, 'blobs', layout.layerDigest)).toBe(true);

    const range = await viaProxy(`${name}/blobs/${layout.layerDigest}`, { Range: 'bytes=100-' });
    expect(range.status).toBe(206);
    expect(range.headers['content-range']).toBe(`bytes 100-${layout.layerSize - 1}/${layout.layerSize}`);
    expect(range.body.equals(readFileSync(join(layout.dir, 'blobs/sha256', layout.layerDigest.slice(7))).subarray(100))).toBe(true);
    const head = await viaProxy(`${name}/blobs/${layout.layerDigest}`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(layout.layerSize);
  });

  it('passes unknown images through as the registry answers them', async () => {
    const tag = await viaProxy(`${tap.host}/team/app/manifests/nope`);
    expect(tag.status).toBe(404);
    expect(errorOf(tag.body).code).toBe('MANIFEST_UNKNOWN');
    const repo = await viaProxy(`${tap.host}/no/such/repo/manifests/latest`);
    expect(repo.status).toBe(404);
    expect(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']).toContain(errorOf(repo.body).code);
    const blob = await viaProxy(`${tap.host}/team/app/blobs/${sha('missing')}`);
    expect(blob.status).toBe(404);
    expect(errorOf(blob.body).code).toBe('BLOB_UNKNOWN');
  });

  it('answers an unreachable registry with UNAVAILABLE in dockerd words, and a known tag from the cache', async () => {
    const gone = await RegistryTap.start({ upstream: anon.registry!.url });
    const name = `${gone.host}/team/app`;
    expect((await viaProxy(`${name}/manifests/v1`)).status).toBe(200);
    await gone.close();
    const m = await viaProxy(`${name}/manifests/v1`);
    expect(m.status).toBe(200);
    expect(m.headers['docker-content-digest']).toBe(layout.manifestDigest);
    const other = await viaProxy(`${name}/manifests/v2`);
    expect(other.status).toBe(502);
    expect(errorOf(other.body)).toEqual({ code: 'UNAVAILABLE', message: `Get "http://${gone.host}/v2/": dial tcp ${gone.host}: connect: connection refused` });
  });

  it('never answers a blob HEAD from the cache: an unreachable registry is 502 UNAVAILABLE (a push must not skip the layer)', async () => {
    const gone = await RegistryTap.start({ upstream: anon.registry!.url });
    const name = `${gone.host}/team/app`;
    expect(sha((await viaProxy(`${name}/blobs/${layout.layerDigest}`)).body)).toBe(layout.layerDigest);
    expect(cached(proxy, 'blobs', layout.layerDigest)).toBe(true);
    await gone.close();
    const head = await viaProxy(`${name}/blobs/${layout.layerDigest}`, {}, 'HEAD');
    expect(head.status).toBe(502);
    // A HEAD answer has no body; the same refusal on a GET of a manifest names it.
    const why = await viaProxy(`${name}/manifests/${sha('never')}`);
    expect(errorOf(why.body)).toEqual({ code: 'UNAVAILABLE', message: `Get "http://${gone.host}/v2/": dial tcp ${gone.host}: connect: connection refused` });
  });

  it('relays the tag list with the caller’s query and credentials, pages linked through the proxy; refusals pass through', async () => {
    const manifest = readFileSync(join(layout.dir, 'blobs/sha256', layout.manifestDigest.slice(7)));
    for (const tag of ['t1', 't2']) {
      const put = await http(`${anon.registry!.url}/v2/team/app/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
      expect(put.status).toBe(201);
    }
    const name = `${tap.host}/team/app`;
    const all = await viaProxy(`${name}/tags/list`);
    expect(all.status).toBe(200);
    const whole = JSON.parse(all.body.toString()) as { name: string; tags: string[] };
    expect(whole.name).toBe(name);
    expect([...whole.tags].sort()).toEqual(['t1', 't2', 'v1']);
    expect(all.headers.link).toBeUndefined();
    await viaProxy(`${name}/tags/list?n=2&last=t1`);
    expect(tap.requests.filter((r) => r.path === '/v2/team/app/tags/list').map((r) => r.query)).toEqual(['', '?n=2&last=t1']);

    // distribution 2.8 does not page tags; the proxy's own store does, so it serves as the paging upstream.
    await skopeo('copy', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${proxy.host}/team/paged:a`);
    for (const tag of ['b', 'c']) {
      expect((await http(`${proxy.url}/v2/team/paged/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest })).status).toBe(201);
    }
    const paged = `${proxy.host}/team/paged`;
    const first = await viaProxy(`${paged}/tags/list?n=2`);
    expect(JSON.parse(first.body.toString())).toEqual({ name: paged, tags: ['a', 'b'] });
    const link = /^<([^>]+)>; rel="next"$/.exec(String(first.headers.link))?.[1];
    expect(link).toBe(`/v2/${paged}/tags/list?n=2&last=b`);
    const second = await http(`${proxy.url}${link}`, {});
    expect(JSON.parse(second.body.toString())).toEqual({ name: paged, tags: ['c'] });
    expect(second.headers.link).toBeUndefined();

    const unknown = await viaProxy(`${tap.host}/no/such/tags/list`);
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown.body).code).toBe('NAME_UNKNOWN');
    const refused = await viaProxy(`${basic.registry!.host}/team/app/tags/list`);
    expect(refused.status).toBe(401);
    expect(errorOf(refused.body).message).toBe(`Get "http://${basic.registry!.host}/v2/team/app/tags/list": no basic auth credentials`);
    const withCreds = await viaProxy(`${basic.registry!.host}/team/app/tags/list`, { 'X-Registry-Auth': ALICE });
    expect(JSON.parse(withCreds.body.toString()).tags).toEqual(['v1']);
  });
});

describe('mirrors', () => {
  it('pulls docker.io names from the configured mirror first', async () => {
    const mirror = await RegistryTap.start({ upstream: anon.registry!.url });
    const mirrored = await new ProxyProcess(mainJs, join(tmp, 'mirrored'), { DRYDOCK_REGISTRY_MIRRORS: mirror.url }).start();
    try {
      const img = await putImage(anon.registry!.url, 'library/mirrored', 'v1', randomBytes(4096));
      const m = await http(`${mirrored.url}/v2/docker.io/mirrored/manifests/v1`);
      expect(m.status).toBe(200);
      expect(m.headers['docker-content-digest']).toBe(img.manifestDigest);
      const b = await http(`${mirrored.url}/v2/docker.io/library/mirrored/blobs/${img.layerDigest}`);
      expect(sha(b.body)).toBe(img.layerDigest);
      expect(mirror.count(/^\/v2\/library\/mirrored\/manifests\//)).toBeGreaterThanOrEqual(1);
      expect(mirror.count(new RegExp(`/blobs/${img.layerDigest}$`), 'GET')).toBe(1);
    } finally {
      await mirrored.stop();
      await mirror.close();
    }
  });
});

describe('cancellation', () => {
  it('cancels the upstream request a caller alone caused when the caller goes away', async () => {
    await putImage(anon.registry!.url, 'cancel/app', 'v1', randomBytes(1024));
    tap.setMode({ match: /\/cancel\/app\/manifests\//, delayMs: 30000 });
    const ac = new AbortController();
    const pending = fetch(`${proxy.url}/v2/${tap.host}/cancel/app/manifests/v1`, { signal: ac.signal }).then(
      () => 'answered',
      () => 'aborted',
    );
    await waitFor(() => tap.count(/\/cancel\/app\/manifests\//) >= 1, 10000, 'the upstream manifest request');
    ac.abort();
    expect(await pending).toBe('aborted');
    await waitFor(() => tap.requests.some((r) => r.path.includes('/cancel/app/manifests/') && r.aborted), 10000, 'the upstream request to be cancelled');
  });
});

describe('credentials', () => {
  it('answers Basic challenges with the caller’s X-Registry-Auth', async () => {
    const name = `${basic.registry!.host}/team/app`;
    const none = await viaProxy(`${name}/manifests/v1`);
    expect(none.status).toBe(401);
    expect(errorOf(none.body)).toEqual({ code: 'UNAUTHORIZED', message: `Head "http://${basic.registry!.host}/v2/team/app/manifests/v1": no basic auth credentials` });
    const wrong = await viaProxy(`${name}/manifests/v1`, { 'X-Registry-Auth': registryAuth({ username: 'alice', password: 'nope' }) });
    expect(wrong.status).toBe(401);
    expect(errorOf(wrong.body).code).toBe('UNAUTHORIZED');
    const ok = await viaProxy(`${name}/manifests/v1`, { 'X-Registry-Auth': ALICE });
    expect(ok.status).toBe(200);
    expect(sha(ok.body)).toBe(layout.manifestDigest);
    const blob = await viaProxy(`${name}/blobs/${layout.configDigest}`, { 'X-Registry-Auth': ALICE });
    expect(sha(blob.body)).toBe(layout.configDigest);
    // Docker's `auth` field (base64 user:password) works as well.
    const legacy = await viaProxy(`${name}/manifests/v1`, { 'X-Registry-Auth': registryAuth({ auth: Buffer.from('alice:secret').toString('base64') }) });
    expect(legacy.status).toBe(200);
  });

  it('gets bearer tokens from the realm: anonymous, basic credentials (cached), refresh token, registry token', async () => {
    const name = `${tokenRegistry.host}/team/app`;
    const anonymous = await viaProxy(`${name}/manifests/v1`);
    expect(anonymous.status).toBe(401);
    expect(errorOf(anonymous.body).code).toBe('UNAUTHORIZED');
    expect(tokens.requests.at(-1)).toMatchObject({ grantType: 'anonymous', account: '', scopes: ['repository:team/app:pull'] });

    const wrong = await viaProxy(`${name}/manifests/v1`, { 'X-Registry-Auth': registryAuth({ username: 'bob', password: 'nope' }) });
    expect(wrong.status).toBe(401);
    expect(errorOf(wrong.body)).toEqual({
      code: 'UNAUTHORIZED',
      message: `Head "http://${tokenRegistry.host}/v2/team/app/manifests/v1": unauthorized: incorrect username or password`,
    });

    const before = tokens.requests.length;
    const ok = await viaProxy(`${name}/manifests/v1`, { 'X-Registry-Auth': BOB });
    expect(ok.status).toBe(200);
    expect(sha(ok.body)).toBe(layout.manifestDigest);
    const blob = await viaProxy(`${name}/blobs/${layout.layerDigest}`, { 'X-Registry-Auth': BOB });
    expect(sha(blob.body)).toBe(layout.layerDigest);
    // One token for the repository's pull scope, reused by the later requests.
    expect(tokens.requests.slice(before)).toEqual([{ method: 'GET', grantType: 'basic', account: 'bob', scopes: ['repository:team/app:pull'], status: 200 }]);

    const login = await http(`${proxy.url}/drydock/v1/auth`, { method: 'POST', body: JSON.stringify({ username: 'bob', password: 'hunter2', serveraddress: tokenRegistry.host }) });
    expect(login.status).toBe(200);
    const { IdentityToken } = JSON.parse(login.body.toString());
    expect(IdentityToken).toMatch(/^rt-/);
    const refresh = await viaProxy(`${name}/manifests/v1`, { 'X-Registry-Auth': registryAuth({ username: 'bob', identitytoken: IdentityToken }) });
    expect(refresh.status).toBe(200);
    expect(tokens.requests.at(-1)).toMatchObject({ method: 'POST', grantType: 'refresh_token', account: 'bob' });

    const given = tokens.issue('bob', [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const n = tokens.requests.length;
    const direct = await viaProxy(`${name}/manifests/${layout.manifestDigest}`, { 'X-Registry-Auth': registryAuth({ registrytoken: given }) });
    expect(direct.status).toBe(200);
    expect(tokens.requests.length).toBe(n);
  });
});

describe('verification', () => {
  it('refuses a tampered blob, caches nothing, and fetches afresh afterwards', async () => {
    const img = await putImage(anon.registry!.url, 'tamper/blob', 'v1', randomBytes(256 * 1024));
    const path = `${tap.host}/tamper/blob/blobs/${img.layerDigest}`;
    tap.setMode({ match: new RegExp(img.layerDigest), flipByte: 'middle' });
    const bad = await viaProxy(path);
    expect(bad.complete).toBe(false);
    expect(sha(bad.body)).not.toBe(img.layerDigest);
    expect(cached(proxy, 'blobs', img.layerDigest) || cached(proxy, 'partial', img.layerDigest)).toBe(false);
    tap.setMode({});
    const good = await viaProxy(path);
    expect(good.status).toBe(200);
    expect(sha(good.body)).toBe(img.layerDigest);
    expect(tap.count(new RegExp(`/blobs/${img.layerDigest}$`), 'GET')).toBe(2);
  });

  it('resumes a blob whose upstream connection was cut, within the same request', async () => {
    const img = await putImage(anon.registry!.url, 'tamper/cut', 'v1', randomBytes(512 * 1024));
    tap.setMode({ match: new RegExp(img.layerDigest), cutAfter: 200 * 1024, times: 1 });
    const r = await viaProxy(`${tap.host}/tamper/cut/blobs/${img.layerDigest}`);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expect(sha(r.body)).toBe(img.layerDigest);
    const gets = tap.requests.filter((q) => q.method === 'GET' && q.path.endsWith(img.layerDigest));
    expect(gets).toHaveLength(2);
    expect(gets[0].range).toBeUndefined();
    // Whatever arrived before the cut (the last write may be lost with the socket) is not asked again.
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1].range ?? '')?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(200 * 1024);
    expect(gets[1].bytes).toBe(512 * 1024 - from);
  });

  it('refuses a truncated blob and caches nothing', async () => {
    const img = await putImage(anon.registry!.url, 'tamper/short', 'v1', randomBytes(300 * 1024));
    const path = `${tap.host}/tamper/short/blobs/${img.layerDigest}`;
    tap.setMode({ match: new RegExp(img.layerDigest), truncate: 1000 });
    const bad = await viaProxy(path);
    expect(bad.status === 502 || !bad.complete).toBe(true);
    if (bad.status === 502) expect(errorOf(bad.body).code).toBe('DIGEST_INVALID');
    expect(cached(proxy, 'blobs', img.layerDigest) || cached(proxy, 'partial', img.layerDigest)).toBe(false);
    tap.setMode({});
    expect(sha((await viaProxy(path)).body)).toBe(img.layerDigest);
  });

  it('refuses a tampered manifest with DIGEST_INVALID and caches nothing', async () => {
    const img = await putImage(anon.registry!.url, 'tamper/manifest', 'v1', randomBytes(1024));
    tap.setMode({ match: /\/manifests\//, flipByte: 'middle' });
    const bad = await viaProxy(`${tap.host}/tamper/manifest/manifests/v1`);
    expect(bad.status).toBe(502);
    expect(errorOf(bad.body).code).toBe('DIGEST_INVALID');
    expect(cached(proxy, 'manifests', img.manifestDigest)).toBe(false);
    tap.setMode({});
    const good = await viaProxy(`${tap.host}/tamper/manifest/manifests/v1`);
    expect(good.status).toBe(200);
    expect(good.headers['docker-content-digest']).toBe(img.manifestDigest);
    expect(cached(proxy, 'manifests', img.manifestDigest)).toBe(true);
  });
});

describe('sharing', () => {
  it('answers ten concurrent pulls of one new image with one upstream GET of its manifest and of its blob', async () => {
    const img = await putImage(anon.registry!.url, 'shared/blob', 'v1', randomBytes(2 * 1024 * 1024));
    // Ten pulls of the new tag: each asks the upstream for the tag (HEAD), one fetches the manifest.
    const manifests = await Promise.all(Array.from({ length: 10 }, () => viaProxy(`${tap.host}/shared/blob/manifests/v1`)));
    for (const m of manifests) expect(sha(m.body)).toBe(img.manifestDigest);
    expect(tap.count(/\/shared\/blob\/manifests\/v1$/, 'HEAD')).toBe(10);
    expect(tap.count(/\/shared\/blob\/manifests\//, 'GET')).toBe(1);
    // Slow enough that all ten requests arrive while the fetch is in flight.
    tap.setMode({ match: new RegExp(img.layerDigest), bytesPerSecond: 8 * 1024 * 1024 });
    const results = await Promise.all(Array.from({ length: 10 }, () => viaProxy(`${tap.host}/shared/blob/blobs/${img.layerDigest}`)));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(sha(r.body)).toBe(img.layerDigest);
    }
    expect(tap.count(new RegExp(`/blobs/${img.layerDigest}$`), 'GET')).toBe(1);
  });

  it('evicts least recently used blobs past the size limit', async () => {
    const small = await new ProxyProcess(mainJs, join(tmp, 'small'), { DRYDOCK_REGISTRY_CACHE_MAX_BYTES: String(2560 * 1024) }).start();
    try {
      const a = await putImage(anon.registry!.url, 'evict/a', 'v1', randomBytes(1536 * 1024));
      const b = await putImage(anon.registry!.url, 'evict/b', 'v1', randomBytes(1536 * 1024));
      const get = (img: typeof a, repo: string) => http(`${small.url}/v2/${tap.host}/${repo}/blobs/${img.layerDigest}`);
      expect(sha((await get(a, 'evict/a')).body)).toBe(a.layerDigest);
      expect(cached(small, 'blobs', a.layerDigest)).toBe(true);
      expect(sha((await get(b, 'evict/b')).body)).toBe(b.layerDigest);
      expect(cached(small, 'blobs', b.layerDigest)).toBe(true);
      // Eviction drops the index entry at once and unlinks the file in the background.
      await waitFor(() => !cached(small, 'blobs', a.layerDigest), 5000, 'the least recently used blob to be evicted');
      expect(sha((await get(a, 'evict/a')).body)).toBe(a.layerDigest);
      expect(tap.count(new RegExp(`/blobs/${a.layerDigest}$`), 'GET')).toBe(2);
    } finally {
      await small.stop();
    }
  });
});
