import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { PluginFetcher, type PluginSource, type ResolvedPlugin } from './plugin-fetch';
import { parsePluginConfig } from './plugin-config';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function layer(entries: [Partial<Header> & { name: string }, string?][]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const [h, body] of entries) await new Promise<void>((res, rej) => p.entry({ mtime: new Date(0), mode: h.type === 'directory' ? 0o755 : 0o644, ...h }, Buffer.from(body ?? ''), (err) => (err ? rej(err) : res())));
  p.finalize();
  await ended;
  return gzipSync(Buffer.concat(chunks));
}

/** A registry of blobs by digest: the one part of PluginSource that unpack uses. */
function blobs(layers: Buffer[]): PluginSource {
  const byDigest = new Map(layers.map((l) => [sha(l), l]));
  return {
    getBlob: async (_name: string, digest: string) => ({
      start: 0,
      body: (async function* () {
        yield byDigest.get(digest)!;
      })(),
    }),
  } as unknown as PluginSource;
}

describe('PluginFetcher.unpack: layer whiteouts (OCI image-spec changesets, dockerd UnpackLayer)', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'drydock-plugin-wh-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('removes whited-out files and empties opaque directories of lower content; no .wh. entry is left', async () => {
    const l1 = await layer([
      [{ name: 'etc/', type: 'directory' }],
      [{ name: 'etc/keep', type: 'file' }, 'kept'],
      [{ name: 'etc/secret', type: 'file' }, 'gone'],
      [{ name: 'etc/link', type: 'symlink', linkname: '/etc/keep' }],
      [{ name: 'old/', type: 'directory' }],
      [{ name: 'old/a', type: 'file' }, 'a'],
      [{ name: 'old/sub/', type: 'directory' }],
      [{ name: 'old/sub/b', type: 'file' }, 'b'],
      [{ name: 'gonedir/', type: 'directory' }],
      [{ name: 'gonedir/c', type: 'file' }, 'c'],
    ]);
    const l2 = await layer([
      [{ name: 'etc/.wh.secret', type: 'file' }],
      [{ name: 'etc/.wh.link', type: 'file' }],
      [{ name: '.wh.gonedir', type: 'file' }],
      // the same layer's own entry before the opaque marker survives it (tar order is free)
      [{ name: 'old/new', type: 'file' }, 'new'],
      [{ name: 'old/.wh..wh..opq', type: 'file' }],
      [{ name: 'old/sub2/', type: 'directory' }],
      [{ name: 'old/sub2/d', type: 'file' }, 'd'],
      // AUFS metadata at the top: skipped
      [{ name: '.wh..wh.plnk/', type: 'directory' }],
    ]);
    const p: ResolvedPlugin = {
      ref: { name: 'x/p', tag: 'latest' } as ResolvedPlugin['ref'],
      name: 'x/p:latest',
      config: parsePluginConfig(Buffer.from(JSON.stringify({ interface: { types: ['docker.volumedriver/1.0'], socket: 'p.sock' }, entrypoint: ['/p'] }))),
      layers: [l1, l2].map((l) => ({ digest: sha(l), mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.length })),
      digest: 'sha256:00',
    };
    await new PluginFetcher(blobs([l1, l2]), { retryWindowMs: 0 }).unpack(p, dir, {});
    expect(readdirSync(dir).sort()).toEqual(['etc', 'old']);
    expect(readdirSync(join(dir, 'etc'))).toEqual(['keep']);
    expect(readFileSync(join(dir, 'etc', 'keep'), 'utf8')).toBe('kept');
    expect(readdirSync(join(dir, 'old')).sort()).toEqual(['new', 'sub2']);
    expect(readFileSync(join(dir, 'old', 'sub2', 'd'), 'utf8')).toBe('d');
    expect(existsSync(join(dir, 'gonedir'))).toBe(false);
    expect(lstatSync(join(dir, 'old')).isDirectory()).toBe(true);
  });

  it('refuses a whiteout naming the parent directory (.wh..), which would delete outside the rootfs', async () => {
    const bad = await layer([[{ name: '.wh..', type: 'file' }]]);
    const p: ResolvedPlugin = {
      ref: { name: 'x/p', tag: 'latest' } as ResolvedPlugin['ref'],
      name: 'x/p:latest',
      config: parsePluginConfig(Buffer.from(JSON.stringify({ interface: { types: ['docker.volumedriver/1.0'], socket: 'p.sock' }, entrypoint: ['/p'] }))),
      layers: [{ digest: sha(bad), mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: bad.length }],
      digest: 'sha256:00',
    };
    const rootfs = join(dir, 'rootfs');
    require('node:fs').mkdirSync(rootfs);
    await expect(new PluginFetcher(blobs([bad]), { retryWindowMs: 0 }).unpack(p, rootfs, {})).rejects.toThrow('invalid whiteout ".wh.."');
    expect(existsSync(rootfs)).toBe(true);
  });
});

describe('PluginFetcher.unpack: progress as the layers arrive', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'drydock-plugin-prog-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a layer downloading while its bytes are still coming, and complete before the next layer', async () => {
    const l1 = await layer([[{ name: 'a', type: 'file' }, 'a'.repeat(4096)]]);
    const l2 = await layer([[{ name: 'b', type: 'file' }, 'b']]);
    // l1 arrives in two parts; the second only once the test has seen the first reported
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const half = Math.floor(l1.length / 2);
    const source = {
      getBlob: async (_n: string, digest: string) => ({
        start: 0,
        body: (async function* (): AsyncGenerator<Buffer> {
          if (digest === sha(l2)) return yield l2;
          yield l1.subarray(0, half);
          await gate;
          yield l1.subarray(half);
        })(),
      }),
    } as unknown as PluginSource;
    const p: ResolvedPlugin = {
      ref: { name: 'x/p', tag: 'latest' } as ResolvedPlugin['ref'],
      name: 'x/p:latest',
      config: parsePluginConfig(Buffer.from(JSON.stringify({ interface: { types: ['docker.volumedriver/1.0'], socket: 'p.sock' }, entrypoint: ['/p'] }))),
      layers: [l1, l2].map((l) => ({ digest: sha(l), mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.length })),
      digest: 'sha256:00',
    };
    const seen: string[] = [];
    let firstSeen!: () => void;
    const first = new Promise<void>((r) => (firstSeen = r));
    let finished = false;
    const done = new PluginFetcher(source, { retryWindowMs: 0 })
      .unpack(p, dir, {}, (m) => {
        seen.push(`${m.id} ${m.status} ${m.current ?? ''}/${m.total ?? ''}`);
        firstSeen();
      })
      .then(() => (finished = true));
    await first;
    const id1 = sha(l1).slice(7, 19);
    const id2 = sha(l2).slice(7, 19);
    expect(finished).toBe(false);
    expect(seen).toEqual([`${id1} Downloading ${half}/${l1.length}`]);
    release();
    await done;
    expect(seen[seen.length - 3]).toBe(`${id1} Download complete /`);
    expect(seen.slice(-2)).toEqual([`${id2} Downloading ${l2.length}/${l2.length}`, `${id2} Download complete /`]);
  });
});
