import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { extract, pack, type Header } from 'tar-stream';

type Headers = Partial<Header> & { name: string };
import { InvalidArgumentError, NotFoundError } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import { chainIds } from '@drydock/oci-spec';
import type { ctrContent, ctrLeases, ctrSnapshots } from '@drydock/proto';
import { buildBusyboxRootfsTar, startTestInfra, type RootfsTar, type TestInfra } from '@drydock/testing';
import { ContainerdClient } from '../src/containerd/containerd-client';
import { ImageStore, type ImageUsage } from '../src/images';
import { ImageExporter, ImageLoader } from '../src/images/archive';
import { LocalIngest } from '../src/images/content';

/**
 * docker save / docker load against a real, private containerd 1.6: round
 * trips keep id, tags, config and layers; a Docker-format archive built here by
 * hand (as Docker 20.10 writes one) loads; every bad archive leaves containerd
 * exactly as it was (no image, content, snapshot, lease or ingest).
 */
describe('image archive: save and load (real containerd)', () => {
  let infra: TestInfra;
  let cc: ContainerdClient;
  let store: ImageStore;
  let exporter: ImageExporter;
  let loader: ImageLoader;
  let busybox: RootfsTar;
  let busyboxTar: Buffer;
  const notUsed = async (): Promise<ImageUsage> => ({ running: false, containerIds: [] });
  const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

  async function* bytes(buf: Buffer, size = 64 * 1024): AsyncGenerator<Buffer> {
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

  /** Everything a load could leave behind in containerd. */
  async function state() {
    const content = (await collect<ctrContent.ListContentResponse>(cc.serverStream(cc.content, cc.content.list, {}))).flatMap((r) => r.info ?? []);
    const snapshots = (await collect<ctrSnapshots.ListSnapshotsResponse>(cc.serverStream(cc.snapshots, cc.snapshots.list, { snapshotter: 'overlayfs' }))).flatMap((r) => r.info ?? []);
    const ingests = (await cc.unary(cc.content, cc.content.listStatuses, {})).statuses ?? [];
    const leases: ctrLeases.Lease[] = (await cc.unary(cc.leases, cc.leases.list, {})).leases ?? [];
    const images = (await cc.unary(cc.images, cc.images.list, {})).images ?? [];
    return {
      content: content.map((c) => c.digest).sort(),
      snapshots: snapshots.map((s) => s.name).sort(),
      ingests: ingests.map((s) => s.ref),
      leases: leases.map((l) => l.id),
      images: images.map((i) => `${i.name} ${i.target?.digest}`).sort(),
    };
  }

  async function tarOf(entries: (Headers & { content?: Buffer | string })[]): Promise<Buffer> {
    const p = pack();
    const chunks: Buffer[] = [];
    p.on('data', (c) => chunks.push(c as Buffer));
    const ended = new Promise<void>((r) => p.on('end', () => r()));
    for (const { content, ...h } of entries) {
      await new Promise<void>((resolve, reject) => {
        const cb = (err?: Error | null) => (err ? reject(err) : resolve());
        if (content !== undefined) p.entry({ mode: 0o644, mtime: new Date(0), ...h }, content, cb);
        else p.entry({ mode: 0o755, mtime: new Date(0), ...h }, cb);
      });
    }
    p.finalize();
    await ended;
    return Buffer.concat(chunks);
  }

  async function untar(buf: Buffer): Promise<{ name: string; type: string; size: number; mtime: number; linkname?: string; data: Buffer }[]> {
    const out: { name: string; type: string; size: number; mtime: number; linkname?: string; data: Buffer }[] = [];
    const x = extract();
    const done = (async () => {
      for await (const e of x) {
        const parts: Buffer[] = [];
        for await (const c of e) parts.push(c as Buffer);
        out.push({ name: e.header.name, type: e.header.type ?? 'file', size: e.header.size ?? 0, mtime: Math.floor((e.header.mtime?.getTime() ?? 0) / 1000), linkname: e.header.linkname ?? undefined, data: Buffer.concat(parts) });
      }
    })();
    x.end(buf);
    await done;
    return out;
  }

  async function save(names: string[]): Promise<Buffer> {
    const p = await exporter.prepare(names);
    const parts: Buffer[] = [];
    for await (const c of p.chunks) parts.push(c);
    return Buffer.concat(parts);
  }

  /** A Docker 20.10-format archive of the layers and tags given (what `docker save` writes), built by hand. */
  function dockerArchive(layers: { tar: Buffer; file?: Buffer }[], repoTags: string[] | null, extra: Record<string, unknown> = {}) {
    const diffIds = layers.map((l) => sha(l.tar));
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created: '2021-03-04T05:06:07.123456789Z',
        config: { Cmd: ['/bin/sh', '-c', 'echo hi'], Env: ['PATH=/bin'], Labels: { 'org.example': 'by hand' } },
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: layers.map(() => ({ created: '2021-03-04T05:06:07Z', created_by: 'by hand' })),
        ...extra,
      }),
    );
    const id = sha(config);
    const dirs = layers.map((_, i) => createHash('sha256').update(`layer ${i} ${id}`).digest('hex'));
    return { config, id, diffIds, dirs, manifest: [{ Config: `${id.slice(7)}.json`, RepoTags: repoTags, Layers: dirs.map((d) => `${d}/layer.tar`) }] };
  }

  async function archiveTar(a: ReturnType<typeof dockerArchive>, layers: { tar: Buffer; file?: Buffer }[], opts: { manifest?: unknown; extra?: (Headers & { content?: Buffer | string })[]; skip?: string[] } = {}): Promise<Buffer> {
    const entries: (Headers & { content?: Buffer | string })[] = [];
    for (const [i, d] of a.dirs.entries()) {
      entries.push({ name: `${d}/`, type: 'directory' });
      entries.push({ name: `${d}/VERSION`, content: '1.0' });
      entries.push({ name: `${d}/json`, content: JSON.stringify({ id: d }) });
      entries.push({ name: `${d}/layer.tar`, content: layers[i].file ?? layers[i].tar });
    }
    entries.push({ name: `${a.id.slice(7)}.json`, content: a.config });
    entries.push(...(opts.extra ?? []));
    entries.push({ name: 'manifest.json', content: typeof opts.manifest === 'string' ? opts.manifest : JSON.stringify(opts.manifest ?? a.manifest) });
    return tarOf(entries.filter((e) => !(opts.skip ?? []).includes(e.name)));
  }

  beforeAll(async () => {
    infra = await startTestInfra({ containerd: true, name: 'image-archive' });
    cc = new ContainerdClient({ address: infra.containerd!.address, namespace: 'drydock', callTimeoutMs: 30000 });
    await cc.waitForReady(10000);
    const logger = createLogger({ service: 'image-archive-int', level: 'warn' });
    store = new ImageStore(cc, logger, { snapshotter: 'overlayfs', platform: 'linux/amd64' });
    exporter = new ImageExporter(store, logger);
    loader = new ImageLoader(store, logger);
    busybox = await buildBusyboxRootfsTar(join(infra.dir, 'busybox.tar'));
    busyboxTar = readFileSync(busybox.path);
  }, 120000);

  afterAll(async () => {
    cc?.close();
    await infra?.stop();
  }, 120000);

  let importedId = '';

  it('saves an imported image in Docker 20.10 layout and loads it back with the same id, tags, config and layer', async () => {
    importedId = (await store.importImage({ repository: 'archive/busybox', tag: 'v1', changes: ['CMD ["/bin/sh"]'] }, createReadStream(busybox.path) as AsyncIterable<Buffer>)).id;
    await store.tagImage(importedId, 'archive/busybox', 'v2');
    const configBefore = (await store.resolveImage(importedId)).config;

    const archive = await save(['archive/busybox']);
    const entries = await untar(archive);
    const top = entries.find((e) => e.name.endsWith('/layer.tar'))!;
    const v1 = top.name.split('/')[0];
    expect(entries.map((e) => e.name)).toEqual([`${importedId.slice(7)}.json`, `${v1}/`, `${v1}/VERSION`, `${v1}/json`, `${v1}/layer.tar`, 'manifest.json', 'repositories'].sort());
    expect(top.data.equals(busyboxTar)).toBe(true);
    expect(JSON.parse(entries.find((e) => e.name === 'manifest.json')!.data.toString())).toEqual([{ Config: `${importedId.slice(7)}.json`, RepoTags: ['archive/busybox:v1', 'archive/busybox:v2'], Layers: [`${v1}/layer.tar`] }]);
    expect(JSON.parse(entries.find((e) => e.name === 'repositories')!.data.toString())).toEqual({ 'archive/busybox': { v1, v2: v1 } });
    expect(sha(entries.find((e) => e.name.endsWith('.json') && !e.name.includes('/') && e.name !== 'manifest.json')!.data)).toBe(importedId);
    // the same image saves to the same bytes
    expect((await save(['archive/busybox'])).equals(archive)).toBe(true);

    await store.removeImage('archive/busybox:v1', { isInUse: notUsed });
    await store.removeImage('archive/busybox:v2', { isInUse: notUsed });
    expect(await store.listImages()).toEqual([]);

    const res = await loader.load(bytes(archive));
    expect(res).toEqual({ messages: ['Loaded image: archive/busybox:v1', 'Loaded image: archive/busybox:v2'], imageIds: [importedId], labels: [{}] });
    const back = await store.resolveImage('archive/busybox:v1');
    expect(back).toMatchObject({ id: importedId, repoTags: ['archive/busybox:v1', 'archive/busybox:v2'], diffIds: [busybox.diffId], chainId: busybox.diffId });
    expect(back.config).toEqual(configBefore);
    expect(back.manifest.layers).toEqual([{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: busybox.diffId, size: busybox.size }]);
    const s = await state();
    expect(s.snapshots).toEqual([busybox.diffId]);
    expect(s.leases).toEqual([]);
    expect(s.ingests).toEqual([]);
    // and saves to the same archive again
    expect((await save(['archive/busybox'])).equals(archive)).toBe(true);
  });

  it('reads layer blobs from containerd\'s content root when it is local: the same archive as over Content.Read', async () => {
    const logger = createLogger({ service: 'image-archive-int', level: 'warn' });
    const local = await LocalIngest.probe(cc, logger);
    expect(local).toBeDefined();
    const opened: string[] = [];
    const viaFiles = new ImageExporter(store, logger, {
      timeoutMs: 60000,
      localBlobs: { openBlob: async (d) => (opened.push(d), local!.openBlob(d)) },
    });
    const p = await viaFiles.prepare(['archive/busybox:v1']);
    const parts: Buffer[] = [];
    for await (const c of p.chunks) parts.push(c);
    expect(Buffer.concat(parts).equals(await save(['archive/busybox:v1']))).toBe(true);
    expect(opened).toContain(busybox.diffId);
    expect(await local!.openBlob('sha256:' + '0'.repeat(64))).toBeUndefined();
  });

  it('save by id leaves RepoTags null; unknown names are dockerd\'s errors', async () => {
    const entries = await untar(await save([importedId.slice(7, 19)]));
    expect(JSON.parse(entries.find((e) => e.name === 'manifest.json')!.data.toString())[0].RepoTags).toBeNull();
    expect(entries.map((e) => e.name)).not.toContain('repositories');
    await expect(exporter.prepare(['nosuch'])).rejects.toThrow(new NotFoundError('No such image: nosuch'));
    await expect(exporter.prepare(['nosuch:tag'])).rejects.toThrow(new NotFoundError('reference does not exist'));
    await expect(exporter.prepare(['archive/busybox:v1', 'nosuch'])).rejects.toThrow('No such image: nosuch');
    await expect(exporter.prepare(['INVALID'])).rejects.toThrow(new InvalidArgumentError('invalid reference format: repository name must be lowercase'));
    expect(JSON.parse((await untar(await save([]))).map((e) => e.data.toString()).join(''))).toBeNull();
  });

  it('loads a hand-built Docker archive: several layers, a gzip layer.tar, untagged, then saves it with Docker\'s v1 ids', async () => {
    const l1 = busyboxTar;
    const l2 = await tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/motd', content: 'loaded by hand\n' }]);
    const l3 = await tarOf([{ name: 'etc/motd', content: 'second\n' }, { name: 'etc/.wh.hostname', content: '' }]);
    const layers = [{ tar: l1 }, { tar: l2, file: gzipSync(l2) }, { tar: l3 }];
    const a = dockerArchive(layers, ['archive/multi:1', 'archive/multi:2', 'other/name:latest']);
    const before = await state();
    const res = await loader.load(bytes(await archiveTar(a, layers), 1000));
    expect(res.messages).toEqual(['Loaded image: archive/multi:1', 'Loaded image: archive/multi:2', 'Loaded image: other/name:latest']);
    expect(res.imageIds).toEqual([a.id]);
    expect(res.labels).toEqual([{ 'org.example': 'by hand' }]);
    const img = await store.resolveImage('other/name');
    expect(img).toMatchObject({ id: a.id, diffIds: a.diffIds, chainId: chainIds(a.diffIds)[2] });
    const after = await state();
    expect(after.snapshots).toEqual([...new Set([...before.snapshots, ...chainIds(a.diffIds)])].sort());
    expect(after.content).toEqual(expect.arrayContaining([a.id, ...a.diffIds]));

    // saved again: three layer dirs chained by parent, the gzip layer uncompressed
    const entries = await untar(await save(['archive/multi:2']));
    const m = JSON.parse(entries.find((e) => e.name === 'manifest.json')!.data.toString());
    expect(m[0].RepoTags).toEqual(['archive/multi:2']);
    const ids = (m[0].Layers as string[]).map((l) => l.split('/')[0]);
    expect(ids).toHaveLength(3);
    expect(entries.find((e) => e.name === `${ids[1]}/layer.tar`)!.data.equals(l2)).toBe(true);
    const json = (i: number) => JSON.parse(entries.find((e) => e.name === `${ids[i]}/json`)!.data.toString());
    expect(json(0)).toEqual(expect.objectContaining({ id: ids[0], created: '1970-01-01T00:00:00Z', os: 'linux' }));
    expect(json(0).parent).toBeUndefined();
    expect(json(2)).toEqual(expect.objectContaining({ id: ids[2], parent: ids[1], created: '2021-03-04T05:06:07.123456789Z' }));
    expect(entries.find((e) => e.name === `${ids[2]}/layer.tar`)!.mtime).toBe(Math.floor(Date.parse('2021-03-04T05:06:07Z') / 1000));

    // an untagged image prints its id; the tag of an existing image moves and says so
    const u = dockerArchive([{ tar: l2 }], null, { comment: 'untagged' });
    expect(await loader.load(bytes(await archiveTar(u, [{ tar: l2 }])))).toEqual({ messages: [`Loaded image ID: ${u.id}`], imageIds: [u.id], labels: [{ 'org.example': 'by hand' }] });
    const moved = dockerArchive([{ tar: l3 }], ['archive/multi:1'], { comment: 'moved' });
    expect((await loader.load(bytes(await archiveTar(moved, [{ tar: l3 }])))).messages).toEqual([
      `The image archive/multi:1 already exists, renaming the old one with ID ${a.id} to empty string`,
      'Loaded image: archive/multi:1',
    ]);
    expect((await store.resolveImage('archive/multi:1')).id).toBe(moved.id);
    expect((await store.resolveImage('archive/multi:2')).id).toBe(a.id);
  });

  it('dockerd\'s symlinked duplicate layer.tar loads', async () => {
    const l = await tarOf([{ name: 'same', content: 'x' }]);
    const a = dockerArchive([{ tar: l }, { tar: l }], ['archive/dup:1']);
    const tar = await archiveTar(a, [{ tar: l }, { tar: l }], {
      skip: [`${a.dirs[1]}/layer.tar`],
      extra: [{ name: `${a.dirs[1]}/layer.tar`, type: 'symlink', linkname: `../${a.dirs[0]}/layer.tar` }],
    });
    expect((await loader.load(bytes(tar))).messages).toEqual(['Loaded image: archive/dup:1']);
  });

  it('loads an archive compressed with gzip, xz or bzip2, as docker load documents', async () => {
    const l = await tarOf([{ name: 'compressed', content: 'x' }]);
    const a = dockerArchive([{ tar: l }], ['archive/compressed:1']);
    const tar = await archiveTar(a, [{ tar: l }]);
    const viaTool = (tool: string) => execFileSync(tool, ['-c'], { input: tar });
    for (const [name, data] of [['gzip', gzipSync(tar)], ['xz', viaTool('xz')], ['bzip2', viaTool('bzip2')]] as const) {
      expect({ name, res: await loader.load(bytes(data, 4096)) }).toEqual({ name, res: expect.objectContaining({ messages: ['Loaded image: archive/compressed:1'] }) });
    }
    // Go's tar reader stops at the end-of-archive marker: what follows is ignored, as dockerd does
    expect((await loader.load(bytes(Buffer.concat([tar, Buffer.from('trailing garbage'.repeat(100))])))).messages).toEqual(['Loaded image: archive/compressed:1']);
    const before = await state();
    const damaged = viaTool('xz').subarray(0, 200);
    await expect(loader.load(bytes(damaged))).rejects.toThrow('Error processing tar file(exit status 1): unexpected EOF');
    expect(await state()).toEqual(before);
  });

  describe('bad archives are refused with dockerd\'s words and leave nothing behind', () => {
    let l: Buffer;
    let good: ReturnType<typeof dockerArchive>;
    beforeAll(async () => {
      l = await tarOf([{ name: 'hello.txt', content: 'hello\n' }]);
      good = dockerArchive([{ tar: l }], ['archive/bad:1'], { comment: 'bad cases' });
    });

    const cases: [string, () => Promise<Buffer>, string | RegExp | (() => string)][] = [
      ['not a tar', async () => Buffer.from('this is not a tar at all'.repeat(100)), 'Error processing tar file(exit status 1): archive/tar: invalid tar header'],
      ['an empty upload', async () => Buffer.alloc(0), 'open repositories: no such file or directory'],
      ['a truncated upload', async () => (await archiveTar(good, [{ tar: l }])).subarray(0, 3000), 'Error processing tar file(exit status 1): unexpected EOF'],
      ['no manifest.json', async () => archiveTar(good, [{ tar: l }], { skip: ['manifest.json'] }), 'open repositories: no such file or directory'],
      ['manifest.json not JSON', async () => archiveTar(good, [{ tar: l }], { manifest: '{not json' }), "invalid character 'n' looking for beginning of object key string"],
      ['manifest.json an object', async () => archiveTar(good, [{ tar: l }], { manifest: '{"Config":"x"}' }), 'json: cannot unmarshal object into Go value of type []tarexport.manifestItem'],
      ['a number for Config', async () => archiveTar(good, [{ tar: l }], { manifest: [{ Config: 5, RepoTags: ['a:1'], Layers: [] }] }), 'json: cannot unmarshal number into Go struct field manifestItem.Config of type string'],
      ['a string for Layers', async () => archiveTar(good, [{ tar: l }], { manifest: [{ Config: 'x', Layers: 'l/layer.tar' }] }), 'json: cannot unmarshal string into Go struct field manifestItem.Layers of type []string'],
      ['the config missing', async () => archiveTar(good, [{ tar: l }], { skip: [`${good.id.slice(7)}.json`] }), () => `open ${good.id.slice(7)}.json: no such file or directory`],
      ['a layer missing', async () => archiveTar(good, [{ tar: l }], { skip: [`${good.dirs[0]}/layer.tar`] }), () => `open ${good.dirs[0]}/layer.tar: no such file or directory`],
      ['a config without rootfs', async () => archiveTar(good, [{ tar: l }], { manifest: [{ Config: 'c.json', RepoTags: ['archive/bad:1'], Layers: [] }], extra: [{ name: 'c.json', content: '{"os":"linux"}' }] }), 'invalid image JSON, no RootFS key'],
      ['a config that is not JSON', async () => archiveTar(good, [{ tar: l }], { manifest: [{ Config: 'c.json', RepoTags: [], Layers: [] }], extra: [{ name: 'c.json', content: 'nope' }] }), "invalid character 'o' in literal null (expecting 'u')"],
      ['a layer whose diff id differs', async () => archiveTar(good, [{ tar: l, file: await tarOf([{ name: 'other', content: 'x' }]) }]), /^invalid diffID for layer 0: expected "sha256:[0-9a-f]{64}", got "sha256:[0-9a-f]{64}"$/],
      ['more layers than diff ids', async () => archiveTar(good, [{ tar: l }], { manifest: [{ ...good.manifest[0], Layers: [...good.manifest[0].Layers, ...good.manifest[0].Layers] }] }), 'invalid manifest, layers length mismatch: expected 2, got 1'],
      ['a layer that is not a tar', async () => {
        const junk = Buffer.from('garbage'.repeat(100));
        const a = dockerArchive([{ tar: junk }], ['archive/bad:1']);
        return archiveTar(a, [{ tar: junk }]);
      }, 'Error processing tar file(exit status 1): archive/tar: invalid tar header'],
      ['an entry climbing out with ..', async () => archiveTar(good, [{ tar: l }], { extra: [{ name: '../evil', content: 'x' }] }), 'invalid tar: entry "../evil" escapes the root'],
      ['a hardlink escaping', async () => archiveTar(good, [{ tar: l }], { extra: [{ name: 'hl', type: 'link', linkname: '../../etc/passwd' }] }), 'invalid tar: hardlink "hl" -> "../../etc/passwd" escapes the root'],
      ['a symlink escaping', async () => archiveTar(good, [{ tar: l }], { extra: [{ name: 'a/s', type: 'symlink', linkname: '../../etc' }] }), 'invalid tar: symlink "a/s" -> "../../etc" escapes the root'],
      ['a layer with an entry climbing out', async () => {
        const evil = await tarOf([{ name: '../evil', content: 'x' }]);
        const a = dockerArchive([{ tar: evil }], ['archive/bad:1']);
        return archiveTar(a, [{ tar: evil }]);
      }, 'invalid tar: entry "../evil" escapes the root'],
      ['a manifest path climbing out', async () => archiveTar(good, [{ tar: l }], { manifest: [{ ...good.manifest[0], Config: `../${good.id.slice(7)}.json` }] }), /is not in the archive/],
      ['a tag that is not valid', async () => archiveTar(good, [{ tar: l }], { manifest: [{ ...good.manifest[0], RepoTags: ['BAD:1'] }] }), 'invalid reference format: repository name must be lowercase'],
      ['a digest for a tag', async () => archiveTar(good, [{ tar: l }], { manifest: [{ ...good.manifest[0], RepoTags: [`archive/bad@sha256:${'0'.repeat(64)}`] }] }), `invalid tag "archive/bad@sha256:${'0'.repeat(64)}"`],
      ['a second image that is bad after a good one', async () => archiveTar(good, [{ tar: l }], { manifest: [good.manifest[0], { ...good.manifest[0], Config: 'nosuch.json' }] }), 'open nosuch.json: no such file or directory'],
    ];

    it.each(cases)('%s', async (_name, make, message) => {
      const before = await state();
      const tar = await make();
      const err = await loader.load(bytes(tar, 700)).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      if (message instanceof RegExp) expect(err?.message).toMatch(message);
      else expect(err?.message).toBe(typeof message === 'function' ? message() : message);
      expect(await state()).toEqual(before);
      await expect(store.resolveImage('archive/bad:1')).rejects.toThrow(NotFoundError);
    });
  });
});
