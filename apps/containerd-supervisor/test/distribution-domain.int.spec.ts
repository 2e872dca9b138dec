import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { requireCommand } from '@drydock/infra';
import { createLogger } from '@drydock/logging';
import type { ctrContent } from '@drydock/proto';
import { buildBusyboxRootfsTar, startTestInfra, type TestInfra } from '@drydock/testing';
import { ContainerdClient } from '../src/containerd/containerd-client';
import { ImageStore } from '../src/images';
import { ImagePuller, ImagePusher, RegistryClient, type Progress } from '../src/images/distribution';
import { imageOf, indexOf, layerOf, putManifest, sha, startStallingForwarder, tarOf, uploadImage, type TestImage } from './support/registry-fixtures';

/**
 * The pull/push domain code in process against a real containerd and a plain
 * docker-registry (the client maps `host/repo` to the registry's `repo`, as
 * the registry-proxy does for remote names). The supervisor -> registry-proxy
 * path is covered by distribution.int.spec.ts.
 */
describe('pull and push (domain, real containerd + docker-registry)', () => {
  let infra: TestInfra;
  let cc: ContainerdClient;
  let store: ImageStore;
  let client: RegistryClient;
  let puller: ImagePuller;
  let pusher: ImagePusher;
  let host: string;
  let base: TestImage;
  let child: TestImage;
  const logger = createLogger({ service: 'distribution-int', level: 'warn' });
  const opts = { maxConcurrentDownloads: 3, maxConcurrentUploads: 5, retryWindowMs: 5000, contentTimeoutMs: 60000, gzipLevel: 1 };

  async function drain<T, R>(gen: AsyncGenerator<T, R>): Promise<{ messages: T[]; result: R }> {
    const messages: T[] = [];
    for (;;) {
      const n = await gen.next();
      if (n.done) return { messages, result: n.value };
      messages.push(n.value);
    }
  }
  const pull = (ref: string, platform?: string) => drain(puller.pull({ ref: `${host}/${ref}`, platform }, new AbortController().signal));
  const push = (ref: string) => drain(pusher.push({ ref: `${host}/${ref}` }, new AbortController().signal));
  const statuses = (ms: Progress[]) => ms.map((m) => (m.id ? `${m.id} ${m.status}` : m.status));

  async function leftovers() {
    const content: string[] = [];
    await new Promise<void>((res, rej) => {
      const s = cc.serverStream(cc.content, cc.content.list, {});
      s.on('data', (r: ctrContent.ListContentResponse) => content.push(...(r.info ?? []).map((i) => i.digest ?? '')));
      s.on('error', rej);
      s.on('end', () => res());
    });
    const ingests = ((await cc.unary(cc.content, cc.content.listStatuses, {})).statuses ?? []).map((s) => s.ref);
    const leases = ((await cc.unary(cc.leases, cc.leases.list, {})).leases ?? []).map((l) => l.id);
    const images = ((await cc.unary(cc.images, cc.images.list, {})).images ?? []).map((i) => i.name);
    return { content: content.sort(), ingests, leases, images: images.sort() };
  }

  beforeAll(async () => {
    infra = await startTestInfra({ containerd: true, registry: true, name: 'dist' });
    cc = new ContainerdClient({ address: infra.containerd!.address, namespace: 'drydock', callTimeoutMs: 30000 });
    await cc.waitForReady(10000);
    store = new ImageStore(cc, logger, { snapshotter: 'overlayfs', platform: 'linux/amd64' });
    host = infra.registry!.host;
    client = new RegistryClient({ baseUrl: infra.registry!.url, repositoryPath: (n) => n.slice(n.indexOf('/') + 1), idleTimeoutMs: 10000 });
    puller = new ImagePuller(store, client, logger, opts);
    pusher = new ImagePusher(store, client, logger, opts);

    const bb = await buildBusyboxRootfsTar(join(infra.dir, 'busybox.tar'));
    const bbLayer = layerOf(await readFile(bb.path));
    base = imageOf([bbLayer]);
    child = imageOf([bbLayer, layerOf(await tarOf({ 'hello.txt': 'hello from layer two\n' }))], { cmd: ['/bin/cat', '/hello.txt'] });
    await uploadImage(infra.registry!.url, 'team/base', 'v1', base);
    await uploadImage(infra.registry!.url, 'team/child', 'v1', child);
  }, 180000);

  afterAll(async () => {
    client?.close();
    cc?.close();
    await infra?.stop();
  }, 120000);

  it('pulls by tag with Docker progress, names the image and records its RepoDigest', async () => {
    const { messages, result } = await pull('team/base:v1');
    const id = base.layers[0].digest.slice(7, 19);
    const s = statuses(messages);
    expect(s[0]).toBe('v1 Pulling from team/base');
    expect(s).toContain(`${id} Pulling fs layer`);
    expect(s).toContain(`${id} Downloading`);
    // One Extracting line, with all the bytes: containerd's Diff.Apply reports no progress, and dockerd never sends 0.
    expect(s.slice(-5)).toEqual([
      `${id} Download complete`,
      `${id} Extracting`,
      `${id} Pull complete`,
      `Digest: ${base.manifestDigest}`,
      `Status: Downloaded newer image for ${host}/team/base:v1`,
    ]);
    const order = ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'].map((st) => s.indexOf(`${id} ${st}`));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const last = messages.filter((m) => m.status === 'Downloading').pop()!;
    expect(last).toMatchObject({ current: base.layers[0].gz.length, total: base.layers[0].gz.length });
    expect(result).toEqual({ reference: `${host}/team/base:v1`, repository: `${host}/team/base`, imageId: base.configDigest, updated: true });

    const info = await store.inspectImage(`${host}/team/base:v1`);
    expect(info).toMatchObject({ Id: base.configDigest, RepoTags: [`${host}/team/base:v1`], RepoDigests: [`${host}/team/base@${base.manifestDigest}`] });
    expect(info.RootFS.Layers).toEqual([base.layers[0].diffId]);
    // The layer stays compressed in the content store, labelled with its diff id.
    const layerInfo = (await cc.unary(cc.content, cc.content.info, { digest: base.layers[0].digest })).info!;
    expect(layerInfo.labels).toMatchObject({ 'containerd.io/uncompressed': base.layers[0].diffId });
    const l = await leftovers();
    expect(l.ingests).toEqual([]);
    expect(l.leases.filter((x) => x?.startsWith('drydock-pull'))).toEqual([]);
  });

  it('answers "Image is up to date" on a repeat, without layer lines', async () => {
    const { messages, result } = await pull('team/base:v1');
    expect(statuses(messages)).toEqual(['v1 Pulling from team/base', `Digest: ${base.manifestDigest}`, `Status: Image is up to date for ${host}/team/base:v1`]);
    expect(result.updated).toBe(false);
  });

  it('says "Already exists" for a layer shared with an image already pulled', async () => {
    const { messages } = await pull('team/child:v1');
    const s = statuses(messages);
    expect(s).toContain(`${child.layers[0].digest.slice(7, 19)} Already exists`);
    expect(s).toContain(`${child.layers[1].digest.slice(7, 19)} Pull complete`);
    const img = await store.resolveImage(`${host}/team/child:v1`);
    expect(img.id).toBe(child.configDigest);
  });

  it('downloads at most three layers at once: the others say "Waiting" first, and unpack in order', async () => {
    const layers = [];
    for (let i = 0; i < 5; i++) layers.push(layerOf(await tarOf({ [`l${i}.bin`]: randomBytes(256 * 1024) })));
    const five = imageOf(layers);
    await uploadImage(infra.registry!.url, 'team/five', 'v1', five);
    const { messages } = await pull('team/five:v1');
    const s = statuses(messages);
    const ids = layers.map((l) => l.digest.slice(7, 19));
    expect(s.slice(0, 8)).toEqual(['v1 Pulling from team/five', ...ids.map((id) => `${id} Pulling fs layer`), `${ids[3]} Waiting`, `${ids[4]} Waiting`]);
    expect(s.filter((x) => x.endsWith('Pull complete'))).toEqual(ids.map((id) => `${id} Pull complete`));
    expect((await store.inspectImage(`${host}/team/five:v1`)).RootFS.Layers).toEqual(layers.map((l) => l.diffId));
  });

  it('pulls a zstd layer: it stays compressed in the content store and unpacks to its diff id', async () => {
    const tar = await tarOf({ 'z.txt': 'zstd layer\n' });
    const zst = execFileSync(requireCommand('zstd', 'zstd'), ['-q', '-c'], { input: tar });
    const layer = { gz: zst, digest: sha(zst), diffId: sha(tar) };
    const img = imageOf([layer], { oci: true });
    const manifest = JSON.parse(img.manifest.toString());
    manifest.layers[0].mediaType = 'application/vnd.oci.image.layer.v1.tar+zstd';
    const body = Buffer.from(JSON.stringify(manifest));
    await uploadImage(infra.registry!.url, 'team/zstd', undefined, img);
    await putManifest(infra.registry!.url, 'team/zstd', 'v1', body, img.mediaType);
    const { messages } = await pull('team/zstd:v1');
    expect(statuses(messages)).toContain(`${layer.digest.slice(7, 19)} Pull complete`);
    expect((await store.inspectImage(`${host}/team/zstd:v1`)).RootFS.Layers).toEqual([layer.diffId]);
    const info = (await cc.unary(cc.content, cc.content.info, { digest: layer.digest })).info!;
    expect({ size: Number(info.size), uncompressed: info.labels?.['containerd.io/uncompressed'] }).toEqual({ size: zst.length, uncompressed: layer.diffId });
  });

  it('two concurrent pulls of one new image share each download and both succeed', async () => {
    const img = imageOf([layerOf(await tarOf({ 'c1.bin': randomBytes(1024 * 1024) })), layerOf(await tarOf({ 'c2.bin': randomBytes(1024 * 1024) }))]);
    await uploadImage(infra.registry!.url, 'team/concurrent', 'v1', img);
    await uploadImage(infra.registry!.url, 'team/concurrent2', 'v1', img);
    const [a, b] = await Promise.all([pull('team/concurrent:v1'), pull('team/concurrent2:v1')]);
    for (const r of [a, b]) {
      expect(r.result.imageId).toBe(img.configDigest);
      const s = statuses(r.messages);
      expect(s.filter((x) => x.includes('Retrying'))).toEqual([]);
      for (const l of img.layers) expect(s).toContain(`${l.digest.slice(7, 19)} Download complete`);
    }
    expect((await store.inspectImage(img.configDigest)).RepoTags.sort()).toEqual([`${host}/team/concurrent2:v1`, `${host}/team/concurrent:v1`]);
    expect((await leftovers()).ingests).toEqual([]);
  });

  it('pulls by digest: only the digest name is recorded', async () => {
    const other = imageOf([layerOf(await tarOf({ 'd.txt': 'by digest\n' }))]);
    await uploadImage(infra.registry!.url, 'team/bydigest', undefined, other);
    const ref = `team/bydigest@${other.manifestDigest}`;
    const { messages } = await pull(ref);
    expect(statuses(messages)[0]).toBe(`${host}/${ref} Pulling from team/bydigest`);
    const info = await store.inspectImage(`${host}/${ref}`);
    expect(info).toMatchObject({ Id: other.configDigest, RepoTags: [], RepoDigests: [`${host}/${ref}`] });
  });

  it('picks the platform from an index, and refuses one the index lacks', async () => {
    const amd = imageOf([layerOf(await tarOf({ 'arch.txt': 'amd64\n' }))], { arch: 'amd64' });
    const arm = imageOf([layerOf(await tarOf({ 'arch.txt': 'arm64\n' }))], { arch: 'arm64', variant: 'v8' });
    await uploadImage(infra.registry!.url, 'team/multi', undefined, amd);
    await uploadImage(infra.registry!.url, 'team/multi', undefined, arm);
    const idx = indexOf([
      { image: amd, arch: 'amd64' },
      { image: arm, arch: 'arm64', variant: 'v8' },
    ]);
    await putManifest(infra.registry!.url, 'team/multi', 'v1', idx.body, idx.mediaType);

    const def = await pull('team/multi:v1');
    expect(statuses(def.messages).slice(-2)).toEqual([`Digest: ${idx.digest}`, `Status: Downloaded newer image for ${host}/team/multi:v1`]);
    const img = await store.inspectImage(`${host}/team/multi:v1`);
    expect(img).toMatchObject({ Id: amd.configDigest, Architecture: 'amd64', RepoDigests: [`${host}/team/multi@${idx.digest}`] });
    // The index is the record's target; the arm64 manifest is not in the content store, and list/inspect still work.
    expect((await store.resolveImage(`${host}/team/multi:v1`)).target.digest).toBe(idx.digest);
    expect((await store.listImages()).some((r) => r.id === amd.configDigest)).toBe(true);

    const armPull = await pull('team/multi:v1', 'linux/arm64');
    expect(statuses(armPull.messages).pop()).toBe(`Status: Downloaded newer image for ${host}/team/multi:v1`);
    expect((await store.inspectImage(`${host}/team/multi:v1`)).Architecture).toBe('arm64');

    await expect(pull('team/multi:v1', 'linux/s390x')).rejects.toThrow('no matching manifest for linux/s390x in the manifest list entries');
  });

  it('fails before any progress with dockerd words for unknown tags, repositories and bad references, leaving nothing', async () => {
    const before = await leftovers();
    await expect(pull('team/base:nope')).rejects.toMatchObject({ code: 'NOT_FOUND', message: `manifest for ${host}/team/base:nope not found: manifest unknown: manifest unknown` });
    await expect(pull('nosuch/repo:v1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(pull('team/UPPER:v1')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'invalid reference format: repository name must be lowercase' });
    expect(await leftovers()).toEqual(before);
  });

  it('a pull cancelled mid-download leaves nothing named, no lease, no content', async () => {
    const big = imageOf([layerOf(await tarOf({ 'big.bin': randomBytes(2 * 1024 * 1024) }))]);
    await uploadImage(infra.registry!.url, 'team/cancel', 'v1', big);
    const fwd = await startStallingForwarder(infra.registry!.url, big.layers[0].digest, 1024 * 1024);
    const stallingClient = new RegistryClient({ baseUrl: fwd.url, repositoryPath: (n) => n.slice(n.indexOf('/') + 1), idleTimeoutMs: 60000 });
    try {
      const before = await leftovers();
      const ac = new AbortController();
      const gen = new ImagePuller(store, stallingClient, logger, opts).pull({ ref: `${host}/team/cancel:v1` }, ac.signal);
      const seen: Progress[] = [];
      for (;;) {
        const n = await gen.next();
        if (n.done) throw new Error('pull finished although the forwarder stalls');
        seen.push(n.value);
        if (n.value.status === 'Downloading') break;
      }
      await fwd.stalled;
      ac.abort();
      await expect(drain(gen)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      const after = await leftovers();
      expect(after).toEqual(before);
    } finally {
      stallingClient.close();
      await fwd.close();
    }
  });

  it('pushes an imported image (layer gzip-compressed), then pulls it back with the same config', async () => {
    const tar = await tarOf({ 'random.bin': randomBytes(3 * 1024 * 1024) });
    const imported = await store.importImage({ repository: `${host}/team/imported`, tag: 'v1', changes: ['CMD ["/bin/sh"]'] }, (async function* () { yield tar; })());
    const first = await push('team/imported:v1');
    const s = statuses(first.messages);
    const diffShort = imported.diffId.slice(7, 19);
    expect(s[0]).toBe(`The push refers to repository [${host}/team/imported]`);
    expect(s[1]).toBe(`${diffShort} Preparing`);
    expect(s).toContain(`${diffShort} Pushed`);
    const pushing = first.messages.filter((m) => m.status === 'Pushing');
    expect(pushing.length).toBeGreaterThan(1);
    expect(pushing[pushing.length - 1].current).toBe(pushing[0].total);
    const done = first.messages.find((m) => m.aux)!;
    expect(s).toContain(`v1: digest: ${done.aux!.digest} size: ${done.aux!.size}`);
    expect(first.result).toEqual([expect.objectContaining({ tag: 'v1', digest: done.aux!.digest, imageId: imported.id })]);
    expect((await store.inspectImage(`${host}/team/imported:v1`)).RepoDigests).toEqual([`${host}/team/imported@${done.aux!.digest}`]);

    // The gzip twin made for the push is kept (the pushed manifest references it) and named on the layer for the next push.
    const twin = (await cc.unary(cc.content, cc.content.info, { digest: imported.diffId })).info!.labels?.['drydock.io/gzip'];
    expect(twin).toMatch(/^sha256:/);
    expect((await cc.unary(cc.content, cc.content.info, { digest: twin! })).info!.labels).toMatchObject({ 'containerd.io/uncompressed': imported.diffId });

    const again = await push('team/imported:v1');
    expect(statuses(again.messages)).toContain(`${diffShort} Layer already exists`);
    expect(again.messages.find((m) => m.aux)!.aux!.digest).toBe(done.aux!.digest);

    await store.removeImage(`${host}/team/imported:v1`, { force: true, isInUse: async () => ({ running: false, containerIds: [] }) });
    for (const n of (await store.listImages()).filter((r) => r.id === imported.id)) {
      await store.removeImage(n.id, { force: true, isInUse: async () => ({ running: false, containerIds: [] }) });
    }
    const back = await pull('team/imported:v1');
    expect(back.result.imageId).toBe(imported.id);
    expect(statuses(back.messages)).toContain(`Digest: ${done.aux!.digest}`);
  });

  it('pushes a pulled image with its original manifest bytes and mounts layers from the source repository', async () => {
    await store.tagImage(`${host}/team/child:v1`, `${host}/team/copy`, 'v2');
    const res = await push('team/copy:v2');
    const s = statuses(res.messages);
    expect(s).toContain(`${child.layers[1].diffId.slice(7, 19)} Mounted from team/child`);
    // dockerd lists the top layer first.
    expect(s.slice(1, 3)).toEqual([`${child.layers[1].diffId.slice(7, 19)} Preparing`, `${child.layers[0].diffId.slice(7, 19)} Preparing`]);
    expect(res.result[0].digest).toBe(child.manifestDigest);
  });

  it('pushes a pulled image whose layer was "Already exists" from an import: its gzip twin goes up', async () => {
    const tar = await tarOf({ 'shared.bin': randomBytes(512 * 1024) });
    const imported = await store.importImage({ repository: `${host}/team/local`, tag: 'v1', changes: [] }, (async function* () {
      yield tar;
    })());
    const remote = imageOf([layerOf(tar)]);
    await uploadImage(infra.registry!.url, 'team/shared', 'v1', remote);
    expect(statuses((await pull('team/shared:v1')).messages)).toContain(`${remote.layers[0].digest.slice(7, 19)} Already exists`);
    await store.tagImage(`${host}/team/shared:v1`, `${host}/team/pushback`, 'v1');
    const res = await push('team/pushback:v1');
    expect(statuses(res.messages)).toContain(`${imported.diffId.slice(7, 19)} Pushed`);
    await store.removeImage(`${host}/team/pushback:v1`, { force: true, isInUse: async () => ({ running: false, containerIds: [] }) });
    const back = await pull('team/pushback:v1');
    expect(back.result.imageId).toBe(remote.configDigest);
  });

  it('push of a missing image answers dockerd words after the first line', async () => {
    const gen = pusher.push({ ref: `${host}/team/nothing` }, new AbortController().signal);
    expect((await gen.next()).value).toEqual({ id: '', status: `The push refers to repository [${host}/team/nothing]` });
    await expect(gen.next()).rejects.toThrow(`An image does not exist locally with the tag: ${host}/team/nothing`);
  });
});
