import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { waitFor } from '@drydock/infra';
import { makeTempDir, RegistryTap, startTestInfra, type TestInfra } from '@drydock/testing';
import { http, ProxyProcess, putImage, sha } from './support/proxy-process';

const repoRoot = resolve(__dirname, '../../..');
const SIZE = 24 * 1024 * 1024;

let tmp: string;
let infra: TestInfra;
let tap: RegistryTap;
let proxy: ProxyProcess;

beforeAll(async () => {
  tmp = await makeTempDir('rp-restart');
  execFileSync(process.execPath, [join(repoRoot, 'tools/build/build.mjs'), '--out', join(tmp, 'build'), 'registry-proxy'], { stdio: 'pipe' });
  infra = await startTestInfra({ registry: true, name: 'rp-restart' });
  tap = await RegistryTap.start({ upstream: infra.registry!.url });
  proxy = await new ProxyProcess(join(tmp, 'build/apps/registry-proxy/main.js'), join(tmp, 'proxy')).start();
}, 120000);

afterAll(async () => {
  await proxy?.stop();
  await tap?.close();
  await infra?.stop();
  if (tmp) execFileSync('rm', ['-rf', tmp]);
});

it('resumes a blob from the bytes on disk after a SIGKILL mid-download, and serves it verified', async () => {
  const img = await putImage(infra.registry!.url, 'big/app', 'v1', randomBytes(SIZE));
  const partial = join(proxy.cacheDir, 'partial', 'sha256', img.layerDigest.slice(7));
  const url = `${proxy.url}/v2/${tap.host}/big/app/blobs/${img.layerDigest}`;
  tap.setMode({ match: new RegExp(img.layerDigest), bytesPerSecond: 4 * 1024 * 1024 });

  const first = http(url);
  await waitFor(() => existsSync(partial) && statSync(partial).size >= 4 * 1024 * 1024, 30000, 'a few MiB of the blob on disk');
  await proxy.stop('SIGKILL');
  const cut = await first;
  // The caller got a 200 whose body ended early: never the whole (unverified) blob.
  expect(cut.complete).toBe(false);
  expect(cut.body.length).toBeLessThan(SIZE);

  const onDisk = statSync(partial).size;
  expect(onDisk).toBeGreaterThan(0);
  expect(onDisk).toBeLessThan(SIZE);
  tap.setMode({});
  await proxy.start();
  const again = await http(url);
  expect(again.status).toBe(200);
  expect(again.complete).toBe(true);
  expect(sha(again.body)).toBe(img.layerDigest);

  const gets = tap.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${img.layerDigest}`));
  expect(gets).toHaveLength(2);
  expect(gets[0].range).toBeUndefined();
  // The restarted proxy asked only for what it did not have.
  expect(gets[1].range).toBe(`bytes=${onDisk}-`);
  expect(gets[1].status).toBe(206);
  expect(gets[1].bytes).toBe(SIZE - onDisk);
  expect(existsSync(join(proxy.cacheDir, 'blobs', 'sha256', img.layerDigest.slice(7)))).toBe(true);
  expect(existsSync(partial)).toBe(false);
}, 120000);
