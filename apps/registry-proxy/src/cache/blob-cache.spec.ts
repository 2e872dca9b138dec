import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { build } from 'esbuild';
import { createLogger } from '@drydock/logging';
import { sha256Digest } from '../registry/digest';
import { RegistryError } from '../registry/errors';
import { BlobCache, type BlobCacheOptions } from './blob-cache';
import { FakeUpstream } from './testing/fake-upstream';

const MiB = 1024 * 1024;
const logger = createLogger({ service: 'test', level: 'silent' });

/** Collects a stream: its bytes so far, a promise of the first `n`, and how it ended. */
function tap(stream: Readable) {
  const chunks: Buffer[] = [];
  let received = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  stream.on('data', (c: Buffer) => {
    chunks.push(c);
    received += c.length;
    for (const w of waiters.splice(0)) if (received >= w.n) w.resolve();
    else waiters.push(w);
  });
  const ended = new Promise<{ bytes: Buffer; err?: Error; ended: boolean }>((resolve) => {
    stream.on('end', () => resolve({ bytes: Buffer.concat(chunks), ended: true }));
    stream.on('error', (err) => resolve({ bytes: Buffer.concat(chunks), err, ended: false }));
  });
  return {
    get received() {
      return received;
    },
    get ended() {
      return ended;
    },
    until(n: number): Promise<void> {
      if (received >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const r = await tap(stream).ended;
  if (r.err) throw r.err;
  return r.bytes;
}

async function ls(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

describe('BlobCache', () => {
  let dir: string;
  const caches: BlobCache[] = [];
  const newCache = async (o: Partial<BlobCacheOptions> = {}) => {
    const c = new BlobCache({ dir, maxBytes: 1024 * MiB, logger, retryDelayMs: 0, ...o });
    caches.push(c);
    await c.init();
    return c;
  };
  const blobsDir = () => join(dir, 'blobs', 'sha256');
  const partialDir = () => join(dir, 'partial', 'sha256');

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dd-blobcache-'));
  });
  afterEach(async () => {
    for (const c of caches.splice(0)) await c.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves ten concurrent readers from one upstream fetch, all with the verified bytes', async () => {
    const up = new FakeUpstream(randomBytes(3 * MiB + 17)).plan({ holdAt: MiB });
    const cache = await newCache();
    const reads = await Promise.all(Array.from({ length: 10 }, () => cache.read(up.digest, { source: up.source })));
    // Late joiners while the fetch is held, one of them with a range.
    await up.held;
    const late = await cache.read(up.digest, { source: up.source, start: 5 });
    up.release();
    const bodies = await Promise.all(reads.map((r) => readAll(r.stream)));
    for (const r of reads) expect(r.size).toBe(up.data.length);
    for (const b of bodies) expect(b.equals(up.data)).toBe(true);
    expect((await readAll(late.stream)).equals(up.data.subarray(5))).toBe(true);
    expect(cache.upstreamOpens(up.digest)).toBe(1);
    expect(up.offsets).toEqual([0]);
    expect(up.sentBytes).toBe(up.data.length);
    expect(await ls(blobsDir())).toEqual([up.digest.slice(7)]);
    expect(await ls(partialDir())).toEqual([]);
    expect(cache.usage()).toEqual({ bytes: up.data.length, blobs: 1 });
    // Now a cache hit: no new upstream open.
    expect(await cache.stat(up.digest)).toEqual({ size: up.data.length });
    const again = await cache.read(up.digest, { source: up.source, start: MiB });
    expect((await readAll(again.stream)).equals(up.data.subarray(MiB))).toBe(true);
    expect(cache.upstreamOpens(up.digest)).toBe(1);
  });

  it('fails every reader with DIGEST_INVALID on tampered content, caches nothing, and fetches afresh next time', async () => {
    const up = new FakeUpstream(randomBytes(2 * MiB + 5)).plan({ tamperAt: MiB + 3 });
    const cache = await newCache();
    const reads = await Promise.all(Array.from({ length: 5 }, () => cache.read(up.digest, { source: up.source })));
    const results = await Promise.all(reads.map((r) => tap(r.stream).ended));
    for (const r of results) {
      expect(r.err).toBeInstanceOf(RegistryError);
      expect(r.err).toMatchObject({ code: 'DIGEST_INVALID' });
      expect(r.bytes.length).toBeLessThan(up.data.length);
    }
    expect(await ls(blobsDir())).toEqual([]);
    expect(await ls(partialDir())).toEqual([]);
    expect(await cache.stat(up.digest)).toBeUndefined();
    expect(cache.usage()).toEqual({ bytes: 0, blobs: 0 });

    const good = await cache.read(up.digest, { source: up.source });
    expect((await readAll(good.stream)).equals(up.data)).toBe(true);
    expect(up.offsets).toEqual([0, 0]);
    expect(await ls(blobsDir())).toEqual([up.digest.slice(7)]);
  });

  it('never hands out the final byte of a blob whose last byte was tampered', async () => {
    const up = new FakeUpstream(randomBytes(MiB)).plan({ tamperAt: MiB - 1 });
    const cache = await newCache();
    const { stream } = await cache.read(up.digest, { source: up.source });
    const r = await tap(stream).ended;
    expect(r.err).toMatchObject({ code: 'DIGEST_INVALID' });
    expect(r.bytes.length).toBe(MiB - 1);
    expect(r.bytes.equals(up.data.subarray(0, MiB - 1))).toBe(true);
  });

  it('withholds the last byte until the blob verified', async () => {
    const up = new FakeUpstream(randomBytes(MiB + 1)).plan({ holdAt: MiB });
    const cache = await newCache();
    const { stream, size } = await cache.read(up.digest, { source: up.source });
    expect(size).toBe(MiB + 1);
    const t = tap(stream);
    await t.until(MiB);
    await up.held;
    expect(t.received).toBe(MiB);
    expect(stream.readableEnded).toBe(false);
    up.release();
    const r = await t.ended;
    expect(r.ended).toBe(true);
    expect(r.bytes.equals(up.data)).toBe(true);
  });

  it('resumes an interrupted upstream stream from the bytes on disk', async () => {
    const cut = MiB + 123;
    const up = new FakeUpstream(randomBytes(3 * MiB)).plan({ cutAfter: cut }, { endAfter: 1000 });
    const cache = await newCache();
    const { stream } = await cache.read(up.digest, { source: up.source });
    expect((await readAll(stream)).equals(up.data)).toBe(true);
    expect(up.offsets).toEqual([0, cut, cut + 1000]);
    expect(up.sentBytes).toBe(up.data.length);
    expect(cache.upstreamOpens(up.digest)).toBe(3);
  });

  it('retries a failing reopen after an interruption, within the retry budget', async () => {
    const up = new FakeUpstream(randomBytes(MiB)).plan({ cutAfter: 4096 }, { reject: new Error('connect ECONNREFUSED') });
    const cache = await newCache({ retries: 2 });
    const { stream } = await cache.read(up.digest, { source: up.source });
    expect((await readAll(stream)).equals(up.data)).toBe(true);
    expect(up.offsets).toEqual([0, 4096, 4096]);
  });

  it('keeps the partial after the retries run out, and the next read resumes it', async () => {
    const up = new FakeUpstream(randomBytes(MiB)).plan({ cutAfter: 1000 }, { cutAfter: 1000 }, { cutAfter: 1000 });
    const cache = await newCache({ retries: 2 });
    const { stream } = await cache.read(up.digest, { source: up.source });
    const r = await tap(stream).ended;
    expect(r.err?.message).toMatch(/ECONNRESET/);
    expect(up.offsets).toEqual([0, 1000, 2000]);
    expect(await ls(partialDir())).toEqual([up.digest.slice(7)]);
    expect((await stat(join(partialDir(), up.digest.slice(7)))).size).toBe(3000);
    expect(cache.usage()).toEqual({ bytes: 3000, blobs: 0 });

    const again = await cache.read(up.digest, { source: up.source });
    expect((await readAll(again.stream)).equals(up.data)).toBe(true);
    expect(up.offsets).toEqual([0, 1000, 2000, 3000]);
    expect(cache.usage()).toEqual({ bytes: MiB, blobs: 1 });
  });

  it('rejects the read with the upstream error when the upstream refuses before any byte', async () => {
    const up = new FakeUpstream(randomBytes(1000)).plan({ reject: new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry') });
    const cache = await newCache();
    await expect(cache.read(up.digest, { source: up.source, expectedSize: 1000 })).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    expect(up.offsets).toEqual([0]);
    expect(await ls(partialDir())).toEqual([]);
    await expect(cache.ensure(up.digest, { source: up.source })).resolves.toEqual({ size: 1000 });
  });

  it('resumes after a restart without downloading the finished part again', async () => {
    const data = randomBytes(5 * MiB + 7);
    const first = new FakeUpstream(data).plan({ holdAt: 2 * MiB });
    const cache1 = await newCache();
    const { stream } = await cache1.read(first.digest, { source: first.source });
    const t = tap(stream);
    await first.held;
    await t.until(2 * MiB);
    await cache1.close();
    const r1 = await t.ended;
    expect(r1.err?.message).toMatch(/closing/);
    expect(await ls(blobsDir())).toEqual([]);
    expect((await stat(join(partialDir(), first.digest.slice(7)))).size).toBe(2 * MiB);

    const second = new FakeUpstream(data);
    const cache2 = await newCache();
    expect(cache2.usage()).toEqual({ bytes: 2 * MiB, blobs: 0 });
    const r2 = await cache2.read(second.digest, { source: second.source });
    expect((await readAll(r2.stream)).equals(data)).toBe(true);
    expect(second.offsets).toEqual([2 * MiB]);
    expect(second.sentBytes).toBe(data.length - 2 * MiB);
    expect(cache2.usage()).toEqual({ bytes: data.length, blobs: 1 });
  });

  it('resumes after a SIGKILL mid-fetch: nothing visible in blobs/, the partial continues where the disk left off', async () => {
    const data = randomBytes(6 * MiB + 3);
    const holdAt = 4 * MiB + 99;
    const dataPath = join(dir, 'blob.bin');
    await writeFile(dataPath, data);
    const child = join(dir, 'child.js');
    await build({
      entryPoints: [join(__dirname, 'testing', 'killed-fetch.child.ts')],
      outfile: child,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      tsconfig: join(__dirname, '../../../../tsconfig.json'),
      logLevel: 'warning',
    });
    const cacheDir = join(dir, 'cache');
    const proc = spawn(process.execPath, [child, cacheDir, dataPath, String(holdAt)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      proc.on('exit', (code) => reject(new Error(`child exited with ${code} before the hold`)));
    });
    proc.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const hex = sha256Digest(data).slice(7);
    expect(await ls(join(cacheDir, 'blobs', 'sha256'))).toEqual([]);
    expect((await stat(join(cacheDir, 'partial', 'sha256', hex))).size).toBe(holdAt);
    const up = new FakeUpstream(data);
    const cache = new BlobCache({ dir: cacheDir, maxBytes: 1024 * MiB, logger, retryDelayMs: 0 });
    caches.push(cache);
    await cache.init();
    const r = await cache.read(up.digest, { source: up.source });
    expect((await readAll(r.stream)).equals(data)).toBe(true);
    expect(up.offsets).toEqual([holdAt]);
    expect(up.sentBytes).toBe(data.length - holdAt);
  });

  it('commits a partial that was complete when the process died without asking the upstream', async () => {
    const data = randomBytes(4096);
    const digest = sha256Digest(data);
    await mkdir(join(dir, 'partial', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'partial', 'sha256', digest.slice(7)), data);
    const up = new FakeUpstream(data);
    const cache = await newCache();
    expect(await cache.ensure(digest, { source: up.source })).toEqual({ size: 4096 });
    expect(up.offsets).toEqual([]);
    expect(await ls(blobsDir())).toEqual([digest.slice(7)]);
  });

  it('starts over when a partial cannot be right: as long as the blob but wrong, or refused with 416', async () => {
    const data = randomBytes(8192);
    const digest = sha256Digest(data);
    await mkdir(partialDir(), { recursive: true });
    await writeFile(join(partialDir(), digest.slice(7)), Buffer.alloc(8192));
    const up = new FakeUpstream(data);
    const cache = await newCache();
    expect(await cache.ensure(digest, { source: up.source, expectedSize: 8192 })).toEqual({ size: 8192 });
    expect(up.offsets).toEqual([0]);

    const other = randomBytes(8192);
    await writeFile(join(partialDir(), sha256Digest(other).slice(7)), Buffer.alloc(9000));
    const up2 = new FakeUpstream(other).plan({ reject: Object.assign(new Error('requested range not satisfiable'), { status: 416 }) });
    const cache2 = await newCache();
    const r = await cache2.read(up2.digest, { source: up2.source });
    expect((await readAll(r.stream)).equals(other)).toBe(true);
    expect(up2.offsets).toEqual([9000, 0]);
  });

  it('serves an empty blob only once it verified', async () => {
    const up = new FakeUpstream(Buffer.alloc(0));
    const cache = await newCache();
    const r = await cache.read(up.digest, { source: up.source });
    expect(r.size).toBe(0);
    expect((await readAll(r.stream)).length).toBe(0);
    expect(await cache.stat(up.digest)).toEqual({ size: 0 });
    const liar = new FakeUpstream(Buffer.alloc(0)).plan({ noSize: true });
    const wrong = sha256Digest('not empty');
    const r2 = await cache.read(wrong, { source: liar.source, expectedSize: 0 });
    expect(r2.size).toBe(0);
    const res = await tap(r2.stream).ended;
    expect(res.ended).toBe(false);
    expect(res.err).toMatchObject({ code: 'DIGEST_INVALID' });
    expect(await ls(blobsDir())).toEqual([up.digest.slice(7)]);
  });

  it('restarts from zero when the upstream ignores Range and no reader has bytes yet', async () => {
    const up = new FakeUpstream(randomBytes(2 * MiB)).plan({ cutAfter: MiB }, { ignoreRange: true });
    const cache = await newCache();
    expect(await cache.ensure(up.digest, { source: up.source })).toEqual({ size: 2 * MiB });
    expect(up.offsets).toEqual([0, MiB]);
    expect(up.sentBytes).toBe(3 * MiB);
    const { stream } = await cache.read(up.digest, { source: up.source });
    expect((await readAll(stream)).equals(up.data)).toBe(true);
  });

  it('checks a repeated prefix against the file when readers already hold those bytes', async () => {
    const data = randomBytes(2 * MiB);
    const ok = new FakeUpstream(data).plan({ cutAfter: MiB }, { ignoreRange: true });
    const cache = await newCache();
    const r = await cache.read(ok.digest, { source: ok.source });
    expect((await readAll(r.stream)).equals(data)).toBe(true);
    expect(ok.offsets).toEqual([0, MiB]);

    const other = randomBytes(2 * MiB);
    const bad = new FakeUpstream(other).plan({ cutAfter: MiB }, { ignoreRange: true, tamperAt: 10 });
    const r2 = await cache.read(bad.digest, { source: bad.source });
    const res = await tap(r2.stream).ended;
    expect(res.err).toMatchObject({ code: 'DIGEST_INVALID' });
    expect(await ls(partialDir())).toEqual([]);
    expect(await cache.stat(bad.digest)).toBeUndefined();
  });

  it('fails like a mismatch when the size differs from expectedSize or the upstream sends too much', async () => {
    const cache = await newCache();
    const a = new FakeUpstream(randomBytes(1000));
    await expect(cache.read(a.digest, { source: a.source, expectedSize: 999 })).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    const b = new FakeUpstream(randomBytes(1000)).plan({ noSize: true, extra: Buffer.from('more') });
    const rb = await cache.read(b.digest, { source: b.source, expectedSize: 1000 });
    expect((await tap(rb.stream).ended).err).toMatchObject({ code: 'DIGEST_INVALID' });
    expect(await ls(blobsDir())).toEqual([]);
    expect(await ls(partialDir())).toEqual([]);
    // Without any size the blob is verified before the read resolves.
    const c = new FakeUpstream(randomBytes(1000)).plan({ noSize: true });
    const rc = await cache.read(c.digest, { source: c.source });
    expect(rc.size).toBe(1000);
    expect((await readAll(rc.stream)).equals(c.data)).toBe(true);
  });

  it('honours ranges, including a start beyond the bytes arrived so far', async () => {
    const up = new FakeUpstream(randomBytes(4 * MiB)).plan({ holdAt: MiB });
    const cache = await newCache();
    const first = await cache.read(up.digest, { source: up.source });
    const t = tap(first.stream);
    await up.held;
    const far = await cache.read(up.digest, { source: up.source, start: 3 * MiB + 1 });
    const farTap = tap(far.stream);
    up.release();
    expect((await farTap.ended).bytes.equals(up.data.subarray(3 * MiB + 1))).toBe(true);
    expect((await t.ended).bytes.equals(up.data)).toBe(true);
    const empty = await cache.read(up.digest, { source: up.source, start: 4 * MiB });
    expect((await readAll(empty.stream)).length).toBe(0);
    await expect(cache.read(up.digest, { source: up.source, start: 4 * MiB + 1 })).rejects.toMatchObject({ code: 'RANGE_INVALID' });
    expect(up.offsets).toEqual([0]);
  });

  it('reads ahead only about one chunk for a reader that does not consume (back-pressure, not memory)', async () => {
    const up = new FakeUpstream(randomBytes(16 * MiB));
    const cache = await newCache();
    const { stream } = await cache.read(up.digest, { source: up.source });
    stream.on('readable', () => undefined); // paused: asks to fill its buffer, never reads
    await cache.ensure(up.digest, { source: up.source });
    await new Promise((r) => setImmediate(r));
    expect(stream.readableLength).toBeGreaterThan(0);
    expect(stream.readableLength).toBeLessThanOrEqual(2 * MiB);
    stream.removeAllListeners('readable');
    expect((await readAll(stream)).equals(up.data)).toBe(true);
    expect(up.offsets).toEqual([0]);
  });

  it('keeps fetching when a reader goes away', async () => {
    const up = new FakeUpstream(randomBytes(3 * MiB)).plan({ holdAt: MiB });
    const cache = await newCache();
    const ac = new AbortController();
    const leaving = await cache.read(up.digest, { source: up.source, signal: ac.signal });
    const staying = await cache.read(up.digest, { source: up.source });
    const lt = tap(leaving.stream);
    await up.held;
    ac.abort();
    expect((await lt.ended).err).toBeDefined();
    up.release();
    expect((await readAll(staying.stream)).equals(up.data)).toBe(true);
    expect(await cache.stat(up.digest)).toEqual({ size: 3 * MiB });
    expect(up.offsets).toEqual([0]);
  });

  it('evicts least recently read blobs past maxBytes, never pinned ones, and remembers the order across restarts', async () => {
    const ups = Array.from({ length: 5 }, () => new FakeUpstream(randomBytes(MiB)));
    const [a, b, c, d, e] = ups;
    const cache = await newCache({ maxBytes: 3 * MiB + MiB / 2 });
    for (const u of [a, b, c]) await cache.ensure(u.digest, { source: u.source });
    expect(cache.usage()).toEqual({ bytes: 3 * MiB, blobs: 3 });
    await readAll((await cache.read(a.digest, { source: a.source })).stream); // a is now the most recent
    await cache.ensure(d.digest, { source: d.source }); // evicts b
    expect(await cache.stat(b.digest)).toBeUndefined();
    expect(cache.usage()).toEqual({ bytes: 3 * MiB, blobs: 3 });

    // c is the least recently used, but a reader holds it.
    const pinned = await cache.read(c.digest, { source: c.source });
    await cache.ensure(e.digest, { source: e.source }); // evicts a (c is pinned)
    expect(await cache.stat(a.digest)).toBeUndefined();
    expect((await readAll(pinned.stream)).equals(c.data)).toBe(true);
    await cache.close();
    expect(await ls(blobsDir())).toEqual([c, d, e].map((u) => u.digest.slice(7)).sort());

    // Order now, oldest first: d, c (read after d was fetched), e; stat(d) makes c the oldest.
    const again = await newCache({ maxBytes: 3 * MiB + MiB / 2 });
    expect(again.usage()).toEqual({ bytes: 3 * MiB, blobs: 3 });
    await again.stat(d.digest);
    await again.ensure(b.digest, { source: b.source });
    expect(await again.stat(c.digest)).toBeUndefined();
    expect(await again.stat(d.digest)).toEqual({ size: MiB });
    expect(await again.stat(e.digest)).toEqual({ size: MiB });
  });

  it('serves a blob bigger than the whole cache to its readers, then deletes it', async () => {
    const small = new FakeUpstream(randomBytes(1000));
    const big = new FakeUpstream(randomBytes(2 * MiB)).plan({ holdAt: MiB });
    const cache = await newCache({ maxBytes: MiB });
    await cache.ensure(small.digest, { source: small.source });
    const r1 = await cache.read(big.digest, { source: big.source });
    const r2 = await cache.read(big.digest, { source: big.source });
    const t1 = tap(r1.stream);
    await big.held;
    big.release();
    expect((await t1.ended).bytes.equals(big.data)).toBe(true);
    expect((await readAll(r2.stream)).equals(big.data)).toBe(true);
    expect(await cache.stat(big.digest)).toBeUndefined();
    // The small blob was not sacrificed for it.
    expect(await cache.stat(small.digest)).toEqual({ size: 1000 });
    await cache.close();
    expect(await ls(blobsDir())).toEqual([small.digest.slice(7)]);
  });

  it('keeps partial downloads and drops junk at init', async () => {
    await mkdir(join(dir, 'tmp'), { recursive: true });
    await writeFile(join(dir, 'tmp', 'leftover'), 'x');
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'blobs', 'sha256', 'not-a-digest'), 'x');
    await mkdir(join(dir, 'partial', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'partial', 'sha256', 'a'.repeat(64)), 'half');
    const cache = await newCache();
    expect(await ls(join(dir, 'tmp'))).toEqual([]);
    expect(await ls(blobsDir())).toEqual([]);
    expect(await ls(partialDir())).toEqual(['a'.repeat(64)]);
    expect(cache.usage()).toEqual({ bytes: 4, blobs: 0 });
  });

  it('stores manifests only when they match their digest, and tags, across restarts', async () => {
    const cache = await newCache();
    const body = Buffer.from('{"schemaVersion":2}');
    const digest = sha256Digest(body);
    await expect(cache.putManifest(sha256Digest('other'), 'application/json', body)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    await expect(cache.putManifest('sha512:abcd', 'application/json', body)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await cache.putManifest(digest, 'application/vnd.oci.image.manifest.v1+json', body);
    await cache.setTag('127.0.0.1:5000/team/app', 'v1', digest);
    expect(await cache.getTag('127.0.0.1:5000/team/app', 'v1')).toBe(digest);
    expect(await cache.getTag('127.0.0.1:5000/team/app', 'v2')).toBeUndefined();
    await expect(cache.setTag('../x', 'v1', digest)).rejects.toMatchObject({ code: 'NAME_INVALID' });
    await cache.close();
    const again = await newCache();
    expect(await again.getManifest(digest)).toEqual({ mediaType: 'application/vnd.oci.image.manifest.v1+json', body });
    expect(await again.getManifest(sha256Digest('missing'))).toBeUndefined();
    expect(await again.getTag('127.0.0.1:5000/team/app', 'v1')).toBe(digest);
    expect(again.usage().bytes).toBeGreaterThan(body.length);
  });

  it('rejects digests other than sha256 as the registry does', async () => {
    const cache = await newCache();
    const up = new FakeUpstream(Buffer.from('x'));
    await expect(cache.read('sha512:abcd', { source: up.source })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(cache.read('nonsense', { source: up.source })).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(up.offsets).toEqual([]);
  });
});
