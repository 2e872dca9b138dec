import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { status, type ServiceError } from '@grpc/grpc-js';
import { extract, pack } from 'tar-stream';
import { supervisorV1 } from '@drydock/proto';
import { waitFor } from '@drydock/infra';
import { buildBusyboxRootfsTar } from '@drydock/testing';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { grpcCode, SupervisorHarness } from './support/harness';

type Cb<T> = (err: ServiceError | null, res: T) => void;

interface TarEntry {
  name: string;
  type: string;
  linkname?: string;
  body: string;
}

/** docker cp, export, diff, volumes, image history/prune and system df against real containerd. */
const h = new SupervisorHarness();

describe('archives, volumes, image prune and disk usage (real containerd)', () => {
  const vol = <Res>(name: keyof supervisorV1.VolumesClient, req: unknown): Promise<Res> =>
    h.call(h.volumes, h.volumes[name] as unknown as (req: unknown, cb: Cb<Res>) => unknown, req);
  const img = <Res>(name: keyof supervisorV1.ImagesClient, req: unknown): Promise<Res> =>
    h.call(h.images, h.images[name] as unknown as (req: unknown, cb: Cb<Res>) => unknown, req);
  const statPath = (id: string, path: string) =>
    h.call<supervisorV1.StatPathRequest, supervisorV1.StatPathResponse>(h.archives, h.archives.statPath, { id, path }).then((r) => r.stat!);

  function getArchive(id: string, path: string): Promise<{ stat: supervisorV1.PathStat; entries: TarEntry[] }> {
    return new Promise((resolve, reject) => {
      const s = h.archives.getArchive({ id, path });
      let stat: supervisorV1.PathStat | undefined;
      const chunks: Buffer[] = [];
      s.on('data', (m: supervisorV1.GetArchiveResponse) => {
        if (m.stat) stat = m.stat;
        if (m.chunk) chunks.push(Buffer.from(m.chunk));
      });
      s.on('error', reject);
      s.on('end', () => void untar(Buffer.concat(chunks)).then((entries) => resolve({ stat: stat!, entries }), reject));
    });
  }

  function exportContainer(id: string): Promise<TarEntry[]> {
    return new Promise((resolve, reject) => {
      const s = h.archives.exportContainer({ id });
      const chunks: Buffer[] = [];
      s.on('data', (m: supervisorV1.ArchiveChunk) => chunks.push(Buffer.from(m.data ?? Buffer.alloc(0))));
      s.on('error', reject);
      s.on('end', () => void untar(Buffer.concat(chunks)).then(resolve, reject));
    });
  }

  async function putArchive(id: string, path: string, entries: { name: string; body?: string; type?: 'file' | 'directory' | 'symlink'; linkname?: string }[], noOverwriteDirNonDir = true): Promise<void> {
    const p = pack();
    for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: 0o644 }, e.body ?? '');
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p as AsyncIterable<Buffer>) chunks.push(c);
    await new Promise<void>((resolve, reject) => {
      const s = h.archives.putArchive((err) => (err ? reject(err) : resolve()));
      s.write({ header: { id, path, noOverwriteDirNonDir, copyUidGid: false } });
      s.write({ chunk: Buffer.concat(chunks) });
      s.end();
    });
  }

  const changes = (id: string) =>
    h
      .call<supervisorV1.ContainerChangesRequest, supervisorV1.ContainerChangesResponse>(h.archives, h.archives.containerChanges, { id })
      .then((r) => (r.changes ?? []).map((c) => `${['C', 'A', 'D'][c.kind ?? 0]} ${c.path}`));

  /** Imports busybox under another config (another image id): `message` changes the history. */
  async function importVariant(repository: string, tag: string, message: string): Promise<string> {
    const tar = join(h.infra.dir, 'busybox.tar');
    if (!existsSync(tar)) await buildBusyboxRootfsTar(tar);
    return new Promise((res, rej) => {
      const stream = h.images.importImage((err, r) => (err ? rej(err) : res(r.id ?? '')));
      stream.write({ header: { repository, tag, changes: [], message, platform: '' } });
      const rs = createReadStream(tar, { highWaterMark: 256 * 1024 });
      rs.on('data', (chunk) => stream.write({ chunk: chunk as Buffer }));
      rs.on('end', () => stream.end());
      rs.on('error', rej);
    });
  }

  let busyboxId = '';

  beforeAll(async () => {
    await h.setup();
    busyboxId = await h.importBusybox();
  }, 180000);

  afterAll(async () => {
    await h.teardown();
  }, 120000);

  it('copies out of a running container, resolving symlinks inside it', async () => {
    const id = await h.run('mkdir -p /data && echo hello > /data/f && echo inside > /etc/drydock-marker && ln -s / /data/rootlink && touch /ready && sleep 300', { name: 'cp-running' });
    await waitFor(() => statPath(id, '/ready').then(() => true, () => false), 20000, 'container ready');

    const file = await getArchive('cp-running', '/data/f');
    expect(file.stat).toMatchObject({ name: 'f', size: '6', mode: 0o644 });
    expect(file.stat.mtime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(file.entries).toEqual([{ name: 'f', type: 'file', body: 'hello\n' }]);

    const dir = await getArchive(id, '/data');
    expect(dir.stat.mode).toBe(2 ** 31 + 0o755);
    expect(dir.entries.map((e) => e.name)).toEqual(['data/', 'data/f', 'data/rootlink']);
    expect(dir.entries[2]).toMatchObject({ type: 'symlink', linkname: '/' });

    // "/" inside the container is the container's root, never the host's
    const link = await statPath(id, '/data/rootlink');
    expect(link).toMatchObject({ name: 'rootlink', mode: 2 ** 27 + 0o777, linkTarget: '/' });
    const through = await getArchive(id, '/data/rootlink/etc/drydock-marker');
    expect(through.entries).toEqual([{ name: 'drydock-marker', type: 'file', body: 'inside\n' }]);
    expect(existsSync('/etc/drydock-marker')).toBe(false);

    const missing = await getArchive(id, '/nope').then(() => undefined, (e) => e);
    expect(grpcCode(missing)).toBe(status.NOT_FOUND);
    expect(missing.details).toBe('Could not find the file /nope in container ' + id);
    const missingByName = await statPath('cp-running', '/data/rootlink/nope').then(() => undefined, (e) => e);
    expect(missingByName.details).toBe('Could not find the file /data/rootlink/nope in container cp-running');
  });

  it('copies into a running container (the container sees it; a link to / stays inside; escapes are refused)', async () => {
    const id = await h.run('ln -s / /rootlink; while [ ! -f /tmp/drydock-cp-in.txt ]; do sleep 0.1; done; cat /tmp/drydock-cp-in.txt; sleep 300', { name: 'cp-in-running' });
    await waitFor(() => statPath(id, '/rootlink').then(() => true, () => false), 20000, 'container ready');
    await putArchive(id, '/rootlink/tmp', [{ name: 'drydock-cp-in.txt', body: 'copied in\n' }]);
    expect(existsSync('/tmp/drydock-cp-in.txt')).toBe(false);
    await waitFor(async () => (await h.logs(id)).stdout === 'copied in\n', 20000, 'container to read the copied file');

    const escape = await putArchive(id, '/tmp', [{ name: '../../drydock-evil', body: 'x' }]).then(() => undefined, (e) => e);
    expect(grpcCode(escape)).toBe(status.INVALID_ARGUMENT);
    expect(escape.details).toBe('"../../drydock-evil" is outside of "/tmp"');

    const notDir = await putArchive(id, '/tmp/drydock-cp-in.txt', [{ name: 'x', body: 'x' }]).then(() => undefined, (e) => e);
    expect(grpcCode(notDir)).toBe(status.INVALID_ARGUMENT);
    const dirOverFile = await putArchive(id, '/', [{ name: 'tmp', body: 'x' }]).then(() => undefined, (e) => e);
    expect(dirOverFile.details).toBe('cannot overwrite directory "/tmp" with non-directory "/"');
    await h.c('removeContainer', { id, force: true });
  });

  it('copies out of and into stopped containers, exports and diffs them', async () => {
    const id = await h.run('echo x > /hello && rm /etc/group && echo more >> /etc/passwd && mkdir /newdir && touch /newdir/f && ln -s / /rootlink', { name: 'stopped1' });
    expect(await h.wait(id)).toBe(0);

    expect((await getArchive(id, '/hello')).entries).toEqual([{ name: 'hello', type: 'file', body: 'x\n' }]);
    expect((await getArchive(id, '/rootlink/hello')).entries[0].body).toBe('x\n');
    const gone = await statPath(id, '/etc/group').then(() => undefined, (e) => e);
    expect(grpcCode(gone)).toBe(status.NOT_FOUND);

    expect(await changes(id)).toEqual(['C /etc', 'D /etc/group', 'C /etc/passwd', 'A /hello', 'A /newdir', 'A /newdir/f', 'A /rootlink']);

    const exported = await exportContainer(id);
    const names = exported.map((e) => e.name);
    expect(names).toContain('bin/busybox');
    expect(names).toContain('hello');
    expect(names).not.toContain('etc/group');
    expect(exported.find((e) => e.name === 'rootlink')).toMatchObject({ type: 'symlink', linkname: '/' });

    // into a created-but-never-started container, then it reads what was copied
    const created = await h.c('createContainer', { name: 'cp-stopped-in', config: { image: 'busybox', cmd: { values: ['cat', '/put/put.txt'] } } });
    await putArchive(created.id, '/', [{ name: 'put', type: 'directory' }, { name: 'put/put.txt', body: 'from tar\n' }]);
    await putArchive(created.id, '/absent', []).then(
      () => {
        throw new Error('expected NOT_FOUND');
      },
      (e) => expect(grpcCode(e)).toBe(status.NOT_FOUND),
    );
    await h.c('startContainer', { id: created.id });
    expect(await h.wait(created.id)).toBe(0);
    expect((await h.logs(created.id)).stdout).toBe('from tar\n');
    // a symlink to / in a stopped container stays inside it too
    await putArchive(id, '/rootlink/tmp', [{ name: 'drydock-deep.txt', body: 'deep' }]);
    expect((await getArchive(id, '/tmp/drydock-deep.txt')).entries[0].body).toBe('deep');
    expect(existsSync('/tmp/drydock-deep.txt')).toBe(false);

    // a reader that goes away mid-archive still gets the temporary mount released
    await new Promise<void>((resolve, reject) => {
      const s = h.archives.getArchive({ id, path: '/bin' });
      s.once('data', () => s.cancel());
      s.on('error', (e: ServiceError) => (e.code === status.CANCELLED ? resolve() : reject(e)));
      s.on('end', resolve);
    });
    await waitFor(async () => noTemporaryMounts(), 10000, 'temporary rootfs mounts to go');
  });

  it('creates, lists, inspects, removes and prunes volumes; -v name:/path persists across containers', async () => {
    const created = await vol<supervisorV1.CreateVolumeResponse>('createVolume', { name: 'v1', labels: { team: 'a' } });
    expect(created.volume).toMatchObject({ name: 'v1', driver: 'local', scope: 'local', labels: { team: 'a' }, mountpoint: join(h.stateDir, 'volumes', 'v1', '_data') });
    const again = await vol<supervisorV1.CreateVolumeResponse>('createVolume', { name: 'v1' });
    expect(again.volume?.createdAt).toBe(created.volume?.createdAt);
    const bad = await vol('createVolume', { name: 'bad/name' }).then(() => undefined, (e) => e);
    expect(grpcCode(bad)).toBe(status.INVALID_ARGUMENT);

    const writer = await h.run('echo persisted > /data/file', { name: 'vol-writer', hostConfig: { mounts: [{ type: 'volume', source: 'v1', target: '/data' }] } });
    expect(await h.wait(writer)).toBe(0);
    const reader = await h.run('cat /data/file', { name: 'vol-reader', hostConfig: { mounts: [{ type: 'volume', source: 'v1', target: '/data' }] } });
    expect(await h.wait(reader)).toBe(0);
    expect((await h.logs(reader)).stdout).toBe('persisted\n');

    // auto-created on first use, with the image's content copied up
    const auto = await h.run('ls /etc', { name: 'vol-auto', hostConfig: { mounts: [{ type: 'volume', source: 'auto-etc', target: '/etc' }] } });
    expect(await h.wait(auto)).toBe(0);
    expect((await h.logs(auto)).stdout.split('\n')).toContain('passwd');

    const listed = await vol<supervisorV1.ListVolumesResponse>('listVolumes', { filters: [{ key: 'label', values: ['team=a'] }] });
    expect(listed.volumes?.map((v) => v.name)).toEqual(['v1']);
    const dangling = await vol<supervisorV1.ListVolumesResponse>('listVolumes', { filters: [{ key: 'dangling', values: ['true'] }] });
    expect(dangling.volumes?.map((v) => v.name)).not.toContain('v1');
    const inspected = await vol<supervisorV1.InspectVolumeResponse>('inspectVolume', { name: 'v1' });
    expect(inspected.volume?.name).toBe('v1');
    const unknown = await vol('inspectVolume', { name: 'nope' }).then(() => undefined, (e) => e);
    expect(grpcCode(unknown)).toBe(status.NOT_FOUND);
    expect(unknown.details).toBe('get nope: no such volume');

    const inUse = await vol('removeVolume', { name: 'v1' }).then(() => undefined, (e) => e);
    expect(grpcCode(inUse)).toBe(status.FAILED_PRECONDITION);
    expect(inUse.details).toMatch(/^remove v1: volume is in use - \[[0-9a-f]{64}, [0-9a-f]{64}\]$/);
    expect(inUse.details).toContain(writer);

    await vol('createVolume', { name: 'prune-me' });
    const pruned = await vol<supervisorV1.PruneVolumesResponse>('pruneVolumes', {});
    expect(pruned.deleted).toContain('prune-me');
    expect(pruned.deleted).not.toContain('v1');

    await h.c('removeContainer', { id: writer });
    await h.c('removeContainer', { id: reader });
    await vol('removeVolume', { name: 'v1' });
    const after = await vol<supervisorV1.ListVolumesResponse>('listVolumes', {});
    expect(after.volumes?.map((v) => v.name)).not.toContain('v1');
    expect(existsSync(join(h.stateDir, 'volumes', 'v1'))).toBe(false);
  });

  it('shows image history and prunes dangling, then unused images', async () => {
    const history = await img<supervisorV1.ImageHistoryResponse>('imageHistory', { ref: 'busybox' });
    expect(history.rows?.[0]).toMatchObject({ id: busyboxId, tags: ['busybox:latest'] });
    expect(Number(history.rows?.[0].size)).toBeGreaterThan(0);

    const untagged = await importVariant('', '', 'dangling one');
    const unused = await importVariant('unused', '1', 'unused one');
    const dangling = await img<supervisorV1.PruneImagesResponse>('pruneImages', {});
    expect(dangling.deleted).toContain(untagged);
    expect(dangling.deleted).not.toContain(unused);
    expect(Number(dangling.spaceReclaimed)).toBeGreaterThan(0);

    const all = await img<supervisorV1.PruneImagesResponse>('pruneImages', { filters: [{ key: 'dangling', values: ['false'] }] });
    expect(all.untagged).toContain('unused:1');
    expect(all.deleted).toContain(unused);
    expect(all.deleted).not.toContain(busyboxId); // containers use it
    const left = await img<supervisorV1.ListImagesResponse>('listImages', {});
    expect(left.images?.map((i) => i.id)).toEqual([busyboxId]);
  });

  it('leaves no temporary mounts behind', () => {
    expect(noTemporaryMounts()).toBe(true);
  });

  it('reports disk usage of images, writable layers and volumes', async () => {
    await vol('createVolume', { name: 'df-vol' });
    const du = await h.call<supervisorV1.GetDiskUsageRequest, supervisorV1.GetDiskUsageResponse>(h.node, h.node.getDiskUsage, {});
    expect(Number(du.layersSize)).toBeGreaterThan(0);
    const bb = du.images?.find((i) => i.id === busyboxId);
    expect(bb?.containers).toBeGreaterThan(0);
    expect(Number(bb?.size)).toBeGreaterThan(0);
    const stopped1 = (await h.inspect('stopped1')).id;
    expect(Number(du.containers?.find((c) => c.id === stopped1)?.sizeRw)).toBeGreaterThan(0);
    expect(du.volumes?.find((v) => v.name === 'df-vol')).toMatchObject({ refCount: 0, size: '0' });
    expect(du.volumes?.find((v) => v.name === 'auto-etc')?.refCount).toBe(1);
  });
});

/** Nothing left mounted or lying around under the supervisor's private mount directory. */
function noTemporaryMounts(): boolean {
  const dir = join(h.stateDir, 'supervisor', 'mnt');
  const left = existsSync(dir) ? readdirSync(dir) : [];
  const mounted = readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.includes(dir));
  return left.length === 0 && !mounted;
}

async function untar(buf: Buffer): Promise<TarEntry[]> {
  const ex = extract();
  const out: TarEntry[] = [];
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      const entry: TarEntry = { name: e.header.name, type: e.header.type, body: Buffer.concat(chunks).toString() };
      if (e.header.linkname) entry.linkname = e.header.linkname;
      out.push(entry);
    }
  })();
  ex.end(buf);
  await done;
  return out;
}
