import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import { ctrContent, ctrLeases, ctrSnapshots } from '@drydock/proto';
import { buildBusyboxRootfsTar, startTestInfra, type RootfsTar, type TestInfra } from '@drydock/testing';
import { ContainerdClient } from '../src/containerd/containerd-client';
import { ImageStore, type ImageUsage } from '../src/images';

/**
 * The image store against a real, private containerd 1.6: import (plain and
 * gzip), validation failures that must leave nothing behind, names, removal
 * rules and container snapshots.
 */
describe('image store (real containerd)', () => {
  let infra: TestInfra;
  let cc: ContainerdClient;
  let store: ImageStore;
  let busybox: RootfsTar;
  let busyboxGz: string;

  const notUsed = async (): Promise<ImageUsage> => ({ running: false, containerIds: [] });
  const stoppedBy = (id: string) => async (): Promise<ImageUsage> => ({ running: false, containerIds: [id] });
  const runningBy = (id: string) => async (): Promise<ImageUsage> => ({ running: true, containerIds: [id] });
  const file = (path: string) => createReadStream(path, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>;
  async function* bytes(buf: Buffer, size = 4096): AsyncGenerator<Buffer> {
    for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
  }

  function collect<T>(stream: NodeJS.EventEmitter): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const out: T[] = [];
      stream.on('data', (m: T) => out.push(m));
      stream.on('error', reject);
      stream.on('end', () => resolve(out));
    });
  }

  /** Everything an import could leave behind in containerd. */
  async function state() {
    const content = (await collect<ctrContent.ListContentResponse>(cc.serverStream(cc.content, cc.content.list, {}))).flatMap((r) => r.info ?? []);
    const snapshots = (await collect<ctrSnapshots.ListSnapshotsResponse>(cc.serverStream(cc.snapshots, cc.snapshots.list, { snapshotter: 'overlayfs' }))).flatMap((r) => r.info ?? []);
    const ingests = (await cc.unary(cc.content, cc.content.listStatuses, {})).statuses ?? [];
    const leases: ctrLeases.Lease[] = ((await cc.unary(cc.leases, cc.leases.list, {})).leases ?? []).filter((l) => l.id?.startsWith('drydock-import'));
    const images = (await cc.unary(cc.images, cc.images.list, {})).images ?? [];
    return {
      content: content.map((c) => c.digest).sort(),
      snapshots: snapshots.map((s) => s.name).sort(),
      ingests: ingests.map((s) => s.ref),
      leases: leases.map((l) => l.id),
      images: images.map((i) => i.name).sort(),
    };
  }

  async function tarOf(entries: { name: string; content?: string; type?: 'file' | 'link' | 'symlink' | 'directory'; linkname?: string }[]): Promise<Buffer> {
    const p = pack();
    const chunks: Buffer[] = [];
    p.on('data', (c) => chunks.push(c as Buffer));
    const ended = new Promise<void>((r) => p.on('end', () => r()));
    for (const { content, ...h } of entries) {
      await new Promise<void>((resolve, reject) => {
        const cb = (err?: Error | null) => (err ? reject(err) : resolve());
        if (content !== undefined) p.entry({ mode: 0o644, ...h }, content, cb);
        else p.entry({ mode: 0o755, ...h }, cb);
      });
    }
    p.finalize();
    await ended;
    return Buffer.concat(chunks);
  }

  beforeAll(async () => {
    infra = await startTestInfra({ containerd: true, name: 'images' });
    cc = new ContainerdClient({ address: infra.containerd!.address, namespace: 'drydock', callTimeoutMs: 30000 });
    await cc.waitForReady(10000);
    store = new ImageStore(cc, createLogger({ service: 'images-int', level: 'warn' }), { snapshotter: 'overlayfs', platform: 'linux/amd64' });
    busybox = await buildBusyboxRootfsTar(join(infra.dir, 'busybox.tar'));
    busyboxGz = join(infra.dir, 'busybox.tar.gz');
    writeFileSync(busyboxGz, gzipSync(readFileSync(busybox.path)));
  }, 120000);

  afterAll(async () => {
    cc?.close();
    await infra?.stop();
  }, 120000);

  let busyboxId: string;

  it('imports a rootfs tar with changes and shows it in list and inspect', async () => {
    const res = await store.importImage({ repository: 'busybox', changes: ['CMD ["/bin/sh"]', 'ENV FOO=bar'] }, file(busybox.path));
    busyboxId = res.id;
    expect(res).toMatchObject({ name: 'busybox:latest', diffId: busybox.diffId, compression: 'none', layerSize: busybox.size });
    expect(res.id).toMatch(/^sha256:[0-9a-f]{64}$/);

    const list = await store.listImages();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: res.id, repoTags: ['busybox:latest'], repoDigests: [], labels: {} });
    // busybox-static is ~2 MB on disk once unpacked.
    expect(list[0].size).toBeGreaterThan(1_000_000);

    const info = await store.inspectImage('busybox');
    expect(info).toMatchObject({
      Id: res.id,
      RepoTags: ['busybox:latest'],
      Architecture: 'amd64',
      Os: 'linux',
      Comment: 'Imported from -',
      RootFS: { Type: 'layers', Layers: [busybox.diffId] },
      Size: list[0].size,
    });
    expect(info.Config.Cmd).toEqual(['/bin/sh']);
    expect(info.Config.Env).toEqual(['FOO=bar']);
    expect(info.Config.Entrypoint).toBeNull();
    expect(Date.parse(info.Created)).toBeGreaterThan(Date.now() - 60000);

    const history = await store.imageHistory(res.id);
    expect(history).toEqual([{ Id: res.id, Created: Math.floor(Date.parse(info.Created) / 1000), CreatedBy: '', Tags: ['busybox:latest'], Size: list[0].size, Comment: 'Imported from -' }]);

    // Every way of naming it finds it.
    const hex = res.id.slice('sha256:'.length);
    for (const ref of ['busybox', 'busybox:latest', 'docker.io/library/busybox:latest', res.id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 12)}`]) {
      expect((await store.resolveImage(ref)).id).toBe(res.id);
    }
    const resolved = await store.resolveImage('busybox');
    expect(resolved).toMatchObject({ names: ['docker.io/library/busybox:latest'], chainId: busybox.diffId, diffIds: [busybox.diffId] });
    expect(resolved.manifest.layers[0]).toMatchObject({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: busybox.diffId, size: busybox.size });

    // GC references: containerd keeps config, layer and snapshot because the labels say so.
    const manifestInfo = (await cc.unary(cc.content, cc.content.info, { digest: resolved.manifestDigest })).info!;
    expect(manifestInfo.labels).toMatchObject({ 'containerd.io/gc.ref.content.config': res.id, 'containerd.io/gc.ref.content.l.0': busybox.diffId });
    const configInfo = (await cc.unary(cc.content, cc.content.info, { digest: res.id })).info!;
    expect(configInfo.labels).toMatchObject({ 'containerd.io/gc.ref.snapshot.overlayfs': busybox.diffId });

    const s = await state();
    expect(s.leases).toEqual([]);
    expect(s.ingests).toEqual([]);
    expect(s.snapshots).toEqual([busybox.diffId]);
    expect(s.images).toEqual(['docker.io/library/busybox:latest']);
  });

  it('finds nothing under unknown names with Docker texts', async () => {
    await expect(store.resolveImage('nothere')).rejects.toThrow(new NotFoundError('No such image: nothere:latest'));
    await expect(store.resolveImage('sha256:' + '0'.repeat(64))).rejects.toThrow('No such image: sha256:' + '0'.repeat(64));
    await expect(store.inspectImage('NotLower')).rejects.toThrow('invalid reference format: repository name must be lowercase');
  });

  it('imports the same tar gzip-compressed to the same diff id and shares the layer', async () => {
    const before = await state();
    const res = await store.importImage({ repository: 'busybox-gz', tag: 'v1', changes: [], message: 'from gzip' }, file(busyboxGz));
    expect(res).toMatchObject({ diffId: busybox.diffId, compression: 'gzip', name: 'busybox-gz:v1' });
    expect(res.id).not.toBe(busyboxId);
    const info = await store.inspectImage('busybox-gz:v1');
    expect(info.Comment).toBe('from gzip');
    expect(info.RootFS.Layers).toEqual([busybox.diffId]);
    const after = await state();
    // Stored uncompressed: the layer blob and snapshot are the ones the first import made.
    expect(after.snapshots).toEqual(before.snapshots);
    expect(after.content.length).toBe(before.content.length + 2);
  });

  describe('rejected input leaves nothing behind', () => {
    const cases: [string, () => Promise<AsyncIterable<Buffer>>, RegExp][] = [
      ['a ../ entry', async () => bytes(await tarOf([{ name: 'etc', type: 'directory' }, { name: 'etc/ok', content: 'x'.repeat(100000) }, { name: '../evil', content: 'boom' }])), /^invalid tar: entry "\.\.\/evil" escapes the root$/],
      ['an escaping hardlink', async () => bytes(await tarOf([{ name: 'x', type: 'link', linkname: '../../etc/shadow' }])), /hardlink "x" -> "..\/..\/etc\/shadow" escapes the root/],
      ['data that is not a tar', async () => bytes(Buffer.from('definitely not a tar archive\n'.repeat(1000))), /^invalid tar header/],
      ['a truncated tar', async () => bytes(readFileSync(busybox.path).subarray(0, 300000)), /unexpected EOF/],
      ['truncated gzip', async () => bytes(readFileSync(busyboxGz).subarray(0, 200000)), /^invalid gzip data/],
    ];
    it.each(cases)('%s', async (_name, input, message) => {
      const before = await state();
      const err = await store.importImage({ repository: 'evil', changes: [] }, await input()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(message);
      expect(await state()).toEqual(before);
      await expect(store.resolveImage('evil')).rejects.toThrow(NotFoundError);
    });

    it('a failure after the layer was stored and unpacked (naming fails)', async () => {
      const before = await state();
      // The real client, except that creating an image record fails, as if containerd went away right then.
      const failing = new Proxy(cc, {
        get(target, prop, receiver) {
          if (prop !== 'unary') return Reflect.get(target, prop, receiver);
          return (client: never, method: unknown, req: never, opts?: never) =>
            method === cc.images.create ? Promise.reject(new UnavailableError('injected: containerd unavailable')) : target.unary(client, method as never, req, opts);
        },
      });
      const flaky = new ImageStore(failing, createLogger({ service: 'images-int', level: 'silent' }), { snapshotter: 'overlayfs', platform: 'linux/amd64' });
      const unique = await tarOf([{ name: 'only-here', content: `unique ${Date.now()} ${Math.random()}` }]);
      await expect(flaky.importImage({ repository: 'fresh', changes: [] }, bytes(unique))).rejects.toThrow('injected: containerd unavailable');
      // The lease went with a synchronous GC: the new layer blob, config, manifest and snapshot are gone.
      expect(await state()).toEqual(before);
    });

    it('a bad --change is refused before any data is read', async () => {
      let read = false;
      async function* spy() {
        read = true;
        yield Buffer.alloc(0);
      }
      await expect(store.importImage({ repository: 'x', changes: ['RUN echo no'] }, spy())).rejects.toThrow('run is not a valid change command');
      await expect(store.importImage({ repository: 'Bad', changes: [] }, spy())).rejects.toThrow('invalid reference format: repository name must be lowercase');
      expect(read).toBe(false);
    });
  });

  it('tags, filters, and moves a tag off an image that then stays dangling', async () => {
    expect(await store.tagImage('busybox', 'mine/app', '1')).toBe('mine/app:1');
    await expect(store.tagImage('busybox', 'Mine')).rejects.toThrow(new InvalidArgumentError('invalid reference format: repository name must be lowercase'));
    await expect(store.tagImage('busybox', 'bad//name')).rejects.toThrow('invalid reference format');
    await expect(store.tagImage('nothere', 'x')).rejects.toThrow('No such image: nothere:latest');
    let list = await store.listImages();
    expect(list.find((i) => i.id === busyboxId)?.repoTags.sort()).toEqual(['busybox:latest', 'mine/app:1']);

    const byRef = await store.listImages({ filters: [{ key: 'reference', values: ['mine/*'] }] });
    expect(byRef.map((i) => [i.id, i.repoTags])).toEqual([[busyboxId, ['mine/app:1']]]);
    const since = await store.listImages({ filters: [{ key: 'since', values: ['busybox'] }] });
    expect(since.map((i) => i.repoTags)).toEqual([['busybox-gz:v1']]);
    const before = await store.listImages({ filters: [{ key: 'before', values: ['busybox-gz:v1'] }] });
    expect(before.map((i) => i.id)).toEqual([busyboxId]);

    // An untagged import, then a tag moved onto it: the old image keeps no name but stays.
    const labelled = await store.importImage({ changes: ['LABEL tier=web'] }, file(busybox.path));
    expect(labelled.name).toBeUndefined();
    const dangling = await store.listImages({ filters: [{ key: 'dangling', values: ['true'] }] });
    expect(dangling.map((i) => [i.id, i.repoTags, i.labels])).toEqual([[labelled.id, [], { tier: 'web' }]]);
    expect((await store.listImages({ filters: [{ key: 'label', values: ['tier=web'] }] })).map((i) => i.id)).toEqual([labelled.id]);

    await store.tagImage(labelled.id, 'busybox-gz', 'v1');
    list = await store.listImages();
    expect(list.find((i) => i.id === labelled.id)?.repoTags).toEqual(['busybox-gz:v1']);
    const gzImage = list.find((i) => i.repoTags.length === 0);
    expect(gzImage).toBeDefined();
    expect((await store.listImages({ filters: [{ key: 'dangling', values: ['true'] }] })).map((i) => i.id)).toEqual([gzImage!.id]);
    // The dangling image is still fully readable: containerd's GC must not have touched it.
    expect((await store.inspectImage(gzImage!.id)).Comment).toBe('from gzip');
  });

  it('removes with Docker rules and conflicts', async () => {
    const short = busyboxId.slice(7, 19);
    await expect(store.removeImage(short, { isInUse: notUsed })).rejects.toThrow(
      new FailedPreconditionError(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`),
    );
    expect(await store.removeImage('mine/app:1', { isInUse: notUsed })).toEqual({ untagged: ['mine/app:1'], deleted: [] });

    const ctr = 'f00d'.repeat(16);
    await expect(store.removeImage('busybox', { isInUse: stoppedBy(ctr) })).rejects.toThrow(
      `conflict: unable to remove repository reference "busybox" (must force) - container f00df00df00d is using its referenced image ${short}`,
    );
    await expect(store.removeImage(busyboxId, { isInUse: stoppedBy(ctr) })).rejects.toThrow(
      `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container f00df00df00d`,
    );
    await expect(store.removeImage(busyboxId, { force: true, isInUse: runningBy(ctr) })).rejects.toThrow(
      `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container f00df00df00d`,
    );

    // rmi -f of the last name while a container runs: untagged, but the image stays (dangling).
    expect(await store.removeImage('busybox', { force: true, isInUse: runningBy(ctr) })).toEqual({ untagged: ['busybox:latest'], deleted: [] });
    expect((await store.resolveImage(busyboxId)).repoTags).toEqual([]);

    // Its layer is shared with the other images, so only the image id is deleted.
    expect(await store.removeImage(busyboxId, { isInUse: notUsed })).toEqual({ untagged: [], deleted: [busyboxId] });
    await expect(store.resolveImage(busyboxId)).rejects.toThrow(NotFoundError);

    // The last users of the layer go: so does the layer, and containerd is empty again.
    const rest = await store.listImages();
    expect(rest).toHaveLength(2);
    const results = [];
    for (const img of rest) results.push(await store.removeImage(img.id, { isInUse: notUsed }));
    expect(results[0].deleted).toEqual([rest[0].id]);
    expect(results[1].deleted).toEqual([rest[1].id, busybox.diffId]);
    expect(results.flatMap((r) => r.untagged)).toEqual(['busybox-gz:v1']);
    const s = await state();
    expect(s).toEqual({ content: [], snapshots: [], ingests: [], leases: [], images: [] });
  });

  it('prepares, finds and removes a container snapshot on top of an image', async () => {
    const img = await store.importImage({ repository: 'busybox', changes: [] }, file(busybox.path));
    const containerId = 'c0ffee'.repeat(10) + 'c0ff';
    const mounts = await store.snapshotMountsForContainer(containerId, img.id);
    expect(mounts).toHaveLength(1);
    expect(mounts[0].type).toBe('overlay');
    const lower = mounts[0].options!.find((o) => o.startsWith('lowerdir='))!.slice('lowerdir='.length);
    expect(mounts[0].options!.some((o) => o.startsWith('upperdir='))).toBe(true);
    expect(mounts[0].options!.some((o) => o.startsWith('workdir='))).toBe(true);
    // The lower dir is the unpacked image layer.
    expect(existsSync(join(lower, 'bin/busybox'))).toBe(true);
    expect(readFileSync(join(lower, 'etc/hostname'), 'utf8')).toBe('drydock\n');

    expect(await store.containerSnapshotMounts(containerId)).toEqual(mounts);
    // Idempotent after a crash between Prepare and Containers.Create.
    expect(await store.snapshotMountsForContainer(containerId, img.id)).toEqual(mounts);

    // The image cannot take its layers away from under the container's snapshot.
    await store.removeImage('busybox', { isInUse: notUsed });
    expect(await store.containerSnapshotMounts(containerId)).toEqual(mounts);

    await store.removeContainerSnapshot(containerId);
    await store.removeContainerSnapshot(containerId);
    await expect(store.containerSnapshotMounts(containerId)).rejects.toThrow(NotFoundError);
  });
});
