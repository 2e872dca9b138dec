import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '@drydock/logging';
import type { ctrContent } from '@drydock/proto';
import { startTestInfra, type TestInfra } from '@drydock/testing';
import { loadSupervisorConfig } from '../src/config';
import { ContainerdClient } from '../src/containerd/containerd-client';
import { contentStoreRoot } from '../src/containerd/introspection';
import { ImageStore } from '../src/images';
import { LocalIngest } from '../src/images/content';
import { ImagePuller, RegistryClient, type Progress, type PullSource } from '../src/images/distribution';
import { imageOf, layerOf, startStallingForwarder, tarOf, uploadImage, type TestImage } from './support/registry-fixtures';

/** Counts the ingests it found as files: proves which path a pull took. */
class CountingIngest extends LocalIngest {
  found = 0;
  override async dataPath(ref: string): Promise<string | undefined> {
    const p = await super.dataPath(ref);
    if (p) this.found++;
    return p;
  }
}

/**
 * Pulled layers written straight into containerd's ingest files (LocalIngest) against a
 * real containerd and docker-registry, and the gRPC path the supervisor falls back to.
 */
describe('pull with layers written into containerd ingest files', () => {
  let infra: TestInfra;
  let cc: ContainerdClient;
  let store: ImageStore;
  let client: RegistryClient;
  let host: string;
  let image: TestImage;
  const logger = createLogger({ service: 'direct-ingest-int', level: 'warn' });
  const opts = { maxConcurrentDownloads: 3, maxConcurrentUploads: 5, retryWindowMs: 5000, contentTimeoutMs: 60000, gzipLevel: 1 };
  const repoPath = (n: string) => n.slice(n.indexOf('/') + 1);

  async function drain<T, R>(gen: AsyncGenerator<T, R>): Promise<{ messages: T[]; result: R }> {
    const messages: T[] = [];
    for (;;) {
      const n = await gen.next();
      if (n.done) return { messages, result: n.value };
      messages.push(n.value);
    }
  }

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

  async function removeAll(): Promise<void> {
    for (const r of await store.listImages()) {
      await store.removeImage(r.id, { force: true, isInUse: async () => ({ running: false, containerIds: [] }) });
    }
  }

  /** Pulls `image` as repo:v1 and checks the result and the stored layers. */
  async function pullAndCheck(puller: ImagePuller, repo: string): Promise<Progress[]> {
    const { messages, result } = await drain(puller.pull({ ref: `${host}/${repo}:v1` }, new AbortController().signal));
    expect(result.imageId).toBe(image.configDigest);
    expect((await store.inspectImage(`${host}/${repo}:v1`)).RootFS.Layers).toEqual(image.layers.map((l) => l.diffId));
    for (const l of image.layers) {
      const info = (await cc.unary(cc.content, cc.content.info, { digest: l.digest })).info!;
      expect(info).toMatchObject({ size: String(l.gz.length), labels: expect.objectContaining({ 'containerd.io/uncompressed': l.diffId }) });
    }
    expect((await leftovers()).ingests).toEqual([]);
    return messages;
  }

  beforeAll(async () => {
    infra = await startTestInfra({ containerd: true, registry: true, name: 'ingest' });
    cc = new ContainerdClient({ address: infra.containerd!.address, namespace: 'drydock', callTimeoutMs: 30000 });
    await cc.waitForReady(10000);
    store = new ImageStore(cc, logger, { snapshotter: 'overlayfs', platform: 'linux/amd64' });
    host = infra.registry!.host;
    client = new RegistryClient({ baseUrl: infra.registry!.url, repositoryPath: repoPath, idleTimeoutMs: 10000 });
    image = imageOf([
      layerOf(await tarOf({ 'a.bin': randomBytes(3 * 1024 * 1024) })),
      layerOf(await tarOf({ 'b.bin': randomBytes(2 * 1024 * 1024 + 17) })),
      layerOf(await tarOf({ 'c.txt': 'small\n' })),
    ]);
    for (const repo of ['team/direct', 'team/grpc', 'team/missing', 'team/resume', 'team/decoy']) await uploadImage(infra.registry!.url, repo, 'v1', image);
  }, 180000);

  afterEach(async () => {
    await removeAll();
  });

  afterAll(async () => {
    client?.close();
    cc?.close();
    await infra?.stop();
  }, 120000);

  it("finds containerd's content root by introspection and probes an ingest file, leaving no ingest behind", async () => {
    const root = await contentStoreRoot(cc);
    expect(root).toBe(join(infra.dir, 'ctd', 'root', 'io.containerd.content.v1.content'));
    const local = await LocalIngest.probe(cc, logger);
    expect(local?.root).toBe(root);
    expect((await leftovers()).ingests).toEqual([]);
  });

  it('writes the layers into the ingest files and containerd commits them with their digests', async () => {
    const local = new CountingIngest((await contentStoreRoot(cc))!, cc.namespace);
    await pullAndCheck(new ImagePuller(store, client, logger, opts, local), 'team/direct');
    expect(local.found).toBe(image.layers.length);
  });

  it('falls back to Content.Write when ingest files are not where containerd says (and without a LocalIngest at all)', async () => {
    const elsewhere = join(infra.dir, 'not-the-content-root');
    mkdirSync(join(elsewhere, 'ingest'), { recursive: true });
    const missing = new CountingIngest(elsewhere, cc.namespace);
    await pullAndCheck(new ImagePuller(store, client, logger, opts, missing), 'team/missing');
    expect(missing.found).toBe(0);
    await removeAll();
    await pullAndCheck(new ImagePuller(store, client, logger, opts), 'team/grpc');
  });

  it('a layer whose ref matches two ingest directories (a leftover) goes over gRPC, the others into their files', async () => {
    const root = (await contentStoreRoot(cc))!;
    const decoy = join(root, 'ingest', 'decoy');
    mkdirSync(decoy, { recursive: true });
    writeFileSync(join(decoy, 'ref'), `${cc.namespace}/999999/drydock-pull-${image.layers[0].digest}`);
    writeFileSync(join(decoy, 'data'), '');
    try {
      const local = new CountingIngest(root, cc.namespace);
      await pullAndCheck(new ImagePuller(store, client, logger, opts, local), 'team/decoy');
      expect(local.found).toBe(image.layers.length - 1);
    } finally {
      rmSync(decoy, { recursive: true, force: true });
    }
  });

  it('DRYDOCK_PULL_DIRECT_INGEST=false switches the fast path off (default on)', () => {
    expect(loadSupervisorConfig({}).distribution.directIngest).toBe(true);
    expect(loadSupervisorConfig({ DRYDOCK_PULL_DIRECT_INGEST: 'false' }).distribution.directIngest).toBe(false);
  });

  it('resumes an interrupted download from the bytes already in the ingest file (Range from that offset)', async () => {
    const local = new CountingIngest((await contentStoreRoot(cc))!, cc.namespace);
    const cut = 1024 * 1024;
    const fwd = await startStallingForwarder(infra.registry!.url, image.layers[0].digest, cut);
    const stalling = new RegistryClient({ baseUrl: fwd.url, repositoryPath: repoPath, idleTimeoutMs: 60000 });
    const offsets: number[] = [];
    const source: PullSource = {
      getManifest: (...a) => stalling.getManifest(...a),
      getBlobBytes: (...a) => stalling.getBlobBytes(...a),
      getBlob: (name, digest, offset, o) => {
        if (digest === image.layers[0].digest) offsets.push(offset);
        return stalling.getBlob(name, digest, offset, o);
      },
    };
    try {
      const done = pullAndCheck(new ImagePuller(store, source, logger, opts, local), 'team/resume');
      await fwd.stalled;
      // The first MiB is in the ingest file, written by this process.
      const path = (await local.dataPath(`drydock-pull-${image.layers[0].digest}`))!;
      for (let i = 0; i < 100 && (await stat(path)).size < cut; i++) await new Promise((r) => setTimeout(r, 50));
      expect((await stat(path)).size).toBe(cut);
      fwd.release();
      await done;
      expect(offsets).toEqual([0, cut]);
    } finally {
      stalling.close();
      await fwd.close();
    }
  });

  it('a pull cancelled mid-download leaves nothing named, no lease, no content, no ingest', async () => {
    const big = imageOf([layerOf(await tarOf({ 'big.bin': randomBytes(2 * 1024 * 1024) }))]);
    await uploadImage(infra.registry!.url, 'team/cancel', 'v1', big);
    const local = new CountingIngest((await contentStoreRoot(cc))!, cc.namespace);
    const fwd = await startStallingForwarder(infra.registry!.url, big.layers[0].digest, 1024 * 1024);
    const stalling = new RegistryClient({ baseUrl: fwd.url, repositoryPath: repoPath, idleTimeoutMs: 60000 });
    try {
      const before = await leftovers();
      const ac = new AbortController();
      const gen = new ImagePuller(store, stalling, logger, opts, local).pull({ ref: `${host}/team/cancel:v1` }, ac.signal);
      for (;;) {
        const n = await gen.next();
        if (n.done) throw new Error('pull finished although the forwarder stalls');
        if (n.value.status === 'Downloading') break;
      }
      await fwd.stalled;
      ac.abort();
      await expect(drain(gen)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(local.found).toBe(1);
      expect(await leftovers()).toEqual(before);
    } finally {
      stalling.close();
      await fwd.close();
    }
  });
});
