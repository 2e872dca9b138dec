import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort, requireCommand, tcpAccepts, waitFor } from '@drydock/infra';
import { makeTempDir, startTestInfra, type TestInfra } from '@drydock/testing';
import { type OciLayout, writeBusyboxOciLayout } from './support/oci-layout';

const run = promisify(execFile);
interface ErrorBody {
  errors: { code: string; message: string; detail?: { digests?: string[] } }[];
}
const repoRoot = resolve(__dirname, '../../..');
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let tmp: string;
let proxy: ChildProcess;
let proxyLog = '';
let port: number;
let base: string;
let host: string;
let infra: TestInfra;
let layout: OciLayout;
let skopeoBin: string;

async function skopeo(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(skopeoBin, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${e.stderr || e.message}\nregistry-proxy log tail:\n${proxyLog.slice(-4000)}`);
  }
}

/** The stored blob files (content-addressed area) of the proxy. */
function storedBlobs(): string[] {
  const root = join(tmp, 'data', 'blobs', 'sha256');
  return readdirSync(root).flatMap((ab) => readdirSync(join(root, ab)));
}

async function startUpload(name: string): Promise<string> {
  const r = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  expect(r.status).toBe(202);
  expect(r.headers.get('docker-upload-uuid')).toBeTruthy();
  return new URL(r.headers.get('location')!, base).toString();
}

beforeAll(async () => {
  skopeoBin = requireCommand('skopeo', 'skopeo');
  tmp = await makeTempDir('regproxy');
  execFileSync(process.execPath, [join(repoRoot, 'tools/build/build.mjs'), '--out', join(tmp, 'build'), 'registry-proxy'], { stdio: 'pipe' });
  port = await freePort();
  host = `127.0.0.1:${port}`;
  base = `http://${host}`;
  proxy = spawn(process.execPath, [join(tmp, 'build/apps/registry-proxy/main.js')], {
    env: { ...process.env, DRYDOCK_REGISTRY_PROXY_LISTEN: host, DRYDOCK_REGISTRY_PROXY_DIR: join(tmp, 'data'), DRYDOCK_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proxy.stdout!.on('data', (d) => (proxyLog += d));
  proxy.stderr!.on('data', (d) => (proxyLog += d));
  const [registryInfra, oci] = await Promise.all([
    startTestInfra({ registry: true, name: 'regproxy-up' }),
    writeBusyboxOciLayout(join(tmp, 'oci'), 'v1'),
    waitFor(() => proxy.exitCode === null && tcpAccepts(port), 15000, `registry-proxy on ${host}`).catch((err: Error) => {
      throw new Error(`${err.message}\n${proxyLog}`);
    }),
  ]);
  infra = registryInfra;
  layout = oci;
}, 120000);

afterAll(async () => {
  if (proxy && proxy.exitCode === null) {
    const exited = new Promise((r) => proxy.once('exit', r));
    proxy.kill('SIGTERM');
    await exited;
  }
  await infra?.stop();
  if (tmp) execFileSync('rm', ['-rf', tmp]);
});

describe('registry-proxy as a registry for skopeo', () => {
  it('answers the version check', async () => {
    const r = await fetch(`${base}/v2/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await r.json()).toEqual({});
  });

  it('takes a push from an OCI layout, inspects it and gives the same image back', async () => {
    await skopeo('copy', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${host}/team/app:v1`);
    const inspect = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${host}/team/app:v1`));
    expect(inspect.Digest).toBe(layout.manifestDigest);
    expect(inspect.Layers).toEqual([layout.layerDigest]);
    expect(inspect.Os).toBe('linux');
    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/team/app:v1`);
    expect(sha(raw)).toBe(layout.manifestDigest);

    const out = join(tmp, 'oci-out');
    await skopeo('copy', '--src-tls-verify=false', `docker://${host}/team/app:v1`, `oci:${out}:v1`);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(layout.manifestDigest);
    expect(sha(readFileSync(join(out, 'blobs/sha256', layout.layerDigest.slice(7))))).toBe(layout.layerDigest);

    const m = await fetch(`${base}/v2/team/app/manifests/v1`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(m.headers.get('docker-content-digest')).toBe(layout.manifestDigest);
    expect(sha(Buffer.from(await m.arrayBuffer()))).toBe(layout.manifestDigest);
  });

  it('copies to and from the Debian docker-registry, manifests lists included', async () => {
    const theirs = infra.registry!.host;
    await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${host}/team/app:v1`, `docker://${theirs}/mirror/app:v1`);
    expect(JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${theirs}/mirror/app:v1`)).Digest).toBe(layout.manifestDigest);
    await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${theirs}/mirror/app:v1`, `docker://${host}/back/app:v2`);
    expect(JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${host}/back/app:v2`)).Digest).toBe(layout.manifestDigest);

    // An image index pushed to ours, copied with --all to theirs and back.
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: layout.manifestDigest, size: statSync(join(layout.dir, 'blobs/sha256', layout.manifestDigest.slice(7))).size, platform: { architecture: 'amd64', os: 'linux' } }],
    });
    const put = await fetch(`${base}/v2/team/app/manifests/multi`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: index });
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(sha(index));
    await skopeo('copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${host}/team/app:multi`, `docker://${theirs}/mirror/app:multi`);
    await skopeo('copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${theirs}/mirror/app:multi`, `docker://${host}/back/app:multi`);
    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/back/app:multi`);
    expect(sha(raw)).toBe(sha(index));
    const head = await fetch(`${base}/v2/back/app/manifests/${sha(index)}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json');
  });

  it('lists tags with pagination and the catalog', async () => {
    const all = await (await fetch(`${base}/v2/team/app/tags/list`)).json();
    expect(all).toEqual({ name: 'team/app', tags: ['multi', 'v1'] });
    const first = await fetch(`${base}/v2/team/app/tags/list?n=1`);
    expect(await first.json()).toEqual({ name: 'team/app', tags: ['multi'] });
    expect(first.headers.get('link')).toContain('last=multi');
    expect(await (await fetch(`${base}/v2/team/app/tags/list?n=1&last=multi`)).json()).toEqual({ name: 'team/app', tags: ['v1'] });
    const tags = JSON.parse(await skopeo('list-tags', '--tls-verify=false', `docker://${host}/team/app`));
    expect(tags.Tags.sort()).toEqual(['multi', 'v1']);
    expect(await (await fetch(`${base}/v2/_catalog`)).json()).toEqual({ repositories: ['back/app', 'team/app'] });
  });

  it('serves blob ranges, mounts across repositories and keeps blobs per repository', async () => {
    const r = await fetch(`${base}/v2/team/app/blobs/${layout.layerDigest}`, { headers: { Range: 'bytes=0-511' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 0-511/${layout.layerSize}`);
    const part = Buffer.from(await r.arrayBuffer());
    expect(part.equals(readFileSync(join(layout.dir, 'blobs/sha256', layout.layerDigest.slice(7))).subarray(0, 512))).toBe(true);

    expect((await fetch(`${base}/v2/other/app/blobs/${layout.layerDigest}`, { method: 'HEAD' })).status).toBe(404);
    const mount = await fetch(`${base}/v2/other/app/blobs/uploads/?mount=${layout.layerDigest}&from=team/app`, { method: 'POST' });
    expect(mount.status).toBe(201);
    expect(mount.headers.get('location')).toBe(`/v2/other/app/blobs/${layout.layerDigest}`);
    const head = await fetch(`${base}/v2/other/app/blobs/${layout.layerDigest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(layout.layerSize);
    // Nothing to mount from: an ordinary upload starts instead.
    const fallback = await fetch(`${base}/v2/other/app/blobs/uploads/?mount=${sha('nope')}&from=team/app`, { method: 'POST' });
    expect(fallback.status).toBe(202);
    const cancel = await fetch(new URL(fallback.headers.get('location')!, base), { method: 'DELETE' });
    expect(cancel.status).toBe(204);
    expect(readdirSync(join(tmp, 'data', 'uploads'))).toEqual([]);
  });

  it('completes chunked uploads with Content-Range and rejects a chunk at the wrong offset', async () => {
    const data = Buffer.from('hello chunked world');
    const loc = await startUpload('team/chunks');
    const p1 = await fetch(loc, { method: 'PATCH', headers: { 'Content-Range': '0-4', 'Content-Type': 'application/octet-stream' }, body: data.subarray(0, 5) });
    expect(p1.status).toBe(202);
    expect(p1.headers.get('range')).toBe('0-4');
    const loc2 = new URL(p1.headers.get('location')!, base).toString();
    const bad = await fetch(loc2, { method: 'PATCH', headers: { 'Content-Range': '0-4' }, body: data.subarray(0, 5) });
    expect(bad.status).toBe(416);
    const p2 = await fetch(loc2, { method: 'PATCH', headers: { 'Content-Range': `5-${data.length - 1}` }, body: data.subarray(5) });
    expect(p2.status).toBe(202);
    const put = await fetch(`${loc2}?digest=${sha(data)}`, { method: 'PUT' });
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(sha(data));
    expect(Buffer.from(await (await fetch(`${base}/v2/team/chunks/blobs/${sha(data)}`)).arrayBuffer()).equals(data)).toBe(true);
  });
});

describe('registry-proxy refuses bad input', () => {
  it('rejects a blob whose content does not match ?digest= and stores nothing', async () => {
    const before = storedBlobs();
    const claimed = sha('something else');
    const r = await fetch(`${base}/v2/team/bad/blobs/uploads/?digest=${claimed}`, { method: 'POST', body: 'the real content' });
    expect(r.status).toBe(400);
    expect(((await r.json()) as ErrorBody).errors[0].code).toBe('DIGEST_INVALID');
    const loc = await startUpload('team/bad');
    const put = await fetch(`${loc}?digest=${claimed}`, { method: 'PUT', body: 'the real content' });
    expect(put.status).toBe(400);
    expect(((await put.json()) as ErrorBody).errors[0].code).toBe('DIGEST_INVALID');
    expect(storedBlobs()).toEqual(before);
    expect((await fetch(`${base}/v2/team/bad/blobs/${sha('the real content')}`, { method: 'HEAD' })).status).toBe(404);
    expect(readdirSync(join(tmp, 'data', 'uploads'))).toEqual([]);
  });

  it('rejects a manifest that names a missing blob', async () => {
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: layout.configDigest, size: 10 },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha('missing layer'), size: 13 }],
    });
    const r = await fetch(`${base}/v2/team/app/manifests/broken`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' }, body: manifest });
    expect(r.status).toBe(400);
    const body = (await r.json()) as ErrorBody;
    expect(body.errors[0].code).toBe('MANIFEST_BLOB_UNKNOWN');
    expect(body.errors[0].detail?.digests).toEqual([sha('missing layer')]);
    expect((await fetch(`${base}/v2/team/app/manifests/broken`)).status).toBe(404);
  });

  it('answers unknown manifests, repositories, names and methods with the spec codes', async () => {
    const codeOf = async (r: Response) => ((await r.json()) as ErrorBody).errors[0].code;
    let r = await fetch(`${base}/v2/team/app/manifests/nope`);
    expect([r.status, await codeOf(r)]).toEqual([404, 'MANIFEST_UNKNOWN']);
    r = await fetch(`${base}/v2/no/such/manifests/v1`);
    expect([r.status, await codeOf(r)]).toEqual([404, 'MANIFEST_UNKNOWN']);
    r = await fetch(`${base}/v2/no/such/tags/list`);
    expect([r.status, await codeOf(r)]).toEqual([404, 'NAME_UNKNOWN']);
    r = await fetch(`${base}/v2/Bad_Name/manifests/v1`);
    expect([r.status, await codeOf(r)]).toEqual([400, 'NAME_INVALID']);
    r = await fetch(`${base}/v2/team/app/blobs/sha256:xyz`);
    expect([r.status, await codeOf(r)]).toEqual([400, 'DIGEST_INVALID']);
    r = await fetch(`${base}/v2/team/app/blobs/uploads/00000000-0000-0000-0000-000000000000`);
    expect([r.status, await codeOf(r)]).toEqual([404, 'BLOB_UPLOAD_UNKNOWN']);
    r = await fetch(`${base}/v2/team/app/tags/list`, { method: 'DELETE' });
    expect([r.status, await codeOf(r)]).toEqual([405, 'UNSUPPORTED']);
    r = await fetch(`${base}/v2/team/app/manifests/v1`, { method: 'PUT', body: 'not json' });
    expect([r.status, await codeOf(r)]).toEqual([400, 'MANIFEST_INVALID']);
  });

  it('leaves no visible blob when the client disconnects mid-PATCH', async () => {
    const before = storedBlobs();
    const loc = new URL(await startUpload('team/killed'));
    const data = Buffer.alloc(4 * 1024 * 1024, 7);
    await new Promise<void>((done) => {
      const req = request({ host: '127.0.0.1', port, method: 'PATCH', path: loc.pathname, headers: { 'Content-Length': data.length, 'Content-Range': `0-${data.length - 1}` } });
      req.on('error', () => done());
      req.write(data.subarray(0, 1024 * 1024), () => setTimeout(() => (req.destroy(), done()), 100));
    });
    // The server drops the upload when its body fails.
    await waitFor(async () => (await fetch(loc)).status === 404, 10000, 'the interrupted upload to be dropped');
    const r = await fetch(`${base}/v2/team/killed/blobs/${sha(data)}`, { method: 'HEAD' });
    expect(r.status).toBe(404);
    expect(storedBlobs()).toEqual(before);
    expect(readdirSync(join(tmp, 'data', 'uploads'))).not.toContain(loc.pathname.split('/').pop());
    const put = await fetch(`${loc}?digest=${sha(data)}`, { method: 'PUT' });
    expect(put.status).toBe(404);
  });

  it('deletes manifests by digest, and the tag goes with them', async () => {
    const r = await fetch(`${base}/v2/back/app/manifests/${layout.manifestDigest}`, { method: 'DELETE' });
    expect(r.status).toBe(202);
    expect((await fetch(`${base}/v2/back/app/manifests/v2`)).status).toBe(404);
    expect(((await (await fetch(`${base}/v2/back/app/tags/list`)).json()) as { tags: string[] }).tags).toEqual(['multi']);
  });
});
