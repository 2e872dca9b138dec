import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { parseDigest } from '../registry/digest';
import { RegistryError } from '../registry/errors';
import { validateTag } from '../registry/names';
import { BlobReader, completeSource } from './blob-reader';
import { CacheIndex, type CacheEntry, type EntryKind } from './cache-index';
import { fileMatchesAt, hashFilePrefix, IO_CHUNK_BYTES, removeFile, syncDir, writeAllAt, writeFileAtomic } from './durable-fs';
import { Flight } from './flight';

/** What the upstream answered to a blob request. */
export interface UpstreamBody {
  stream: Readable;
  /** byte offset the stream starts at: the requested offset for a 206, 0 when the upstream ignored Range (then restart) */
  offset: number;
  /** full blob size when known (Content-Length of a 200, total of Content-Range of a 206) */
  size?: number;
}

/**
 * Opens the blob upstream from `offset` (Range: bytes=offset-). Rejects with the upstream's error (RegistryError from ../registry/errors with the spec code, or a connection error).
 * A 416 answer should reject with RegistryError RANGE_INVALID or an error carrying `status: 416` (also as a `cause`):
 * the cache then drops its partial and asks again from 0.
 */
export type BlobSource = (offset: number, signal: AbortSignal) => Promise<UpstreamBody>;

/** Construction options of BlobCache (main.ts passes the validated config). */
export interface BlobCacheOptions {
  /** Cache root (created if missing). One BlobCache per directory. */
  dir: string;
  /** Size limit of verified blobs, manifests and kept partial downloads together. */
  maxBytes: number;
  logger: Logger;
  /** fetch retries with resume inside one read, default 3 */
  retries?: number;
  /** Pause before retry n (1-based) is n times this, default 200 ms (tests pass 0). */
  retryDelayMs?: number;
}

/** Options of BlobCache.read. */
export interface BlobReadOptions {
  /** First byte to stream (a Range request's start); may be beyond what has arrived so far. */
  start?: number;
  /** The size the manifest promised; an upstream sending more or a different total fails like a digest mismatch. */
  expectedSize?: number;
  source: BlobSource;
  /** Ends this reader only (rejects the pending read or errors its stream), never the shared fetch. */
  signal?: AbortSignal;
}

const HEX_RE = /^[a-f0-9]{64}$/;
const MAX_REPO_DIR = 200;

/**
 * The registry-proxy's pull-through cache, on disk under `dir`:
 *   blobs/sha256/<hex>       verified blobs (appear by rename only after their sha256 matched and was fsynced)
 *   partial/sha256/<hex>     downloads in progress or interrupted; kept across restarts and resumed with Range
 *   manifests/sha256/<hex>   "<media type>\n<exact bytes>", written atomically
 *   tags/<repoKey>/<tag>     the last digest seen for a tag
 *   tmp/                     temp files before their rename (emptied at init)
 * A SIGKILL at any moment leaves at worst a partial file, which the next fetch re-hashes and resumes.
 * Least recently read content is evicted past `maxBytes`; the access order is the files' mtimes, so it
 * survives restarts. Content being read or fetched is pinned and never evicted.
 */
export class BlobCache {
  private readonly log: Logger;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly index = new CacheIndex();
  private readonly flights = new Map<string, Flight>();
  private readonly runs = new Set<Promise<void>>();
  private readonly pins = new Map<string, number>();
  /** Unlinks under way: a commit of the same name waits for them, or the unlink could remove the new file. */
  private readonly deleting = new Map<string, Promise<void>>();
  private readonly opens = new Map<string, number>();
  /** mtime updates in flight (close() waits for them so the next process sees the order). */
  private readonly touches = new Set<Promise<void>>();
  private lastTouchS = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: BlobCacheOptions) {
    if (!(opts.maxBytes >= 0)) throw new RangeError(`maxBytes must be a number >= 0, got ${opts.maxBytes}`);
    this.log = opts.logger.child({ component: 'blob-cache' });
    this.retries = opts.retries ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 200;
  }

  /** Scans dir, rebuilds the LRU index and usage, deletes junk temp files, KEEPS partial downloads (they resume). */
  async init(): Promise<void> {
    const dir = this.opts.dir;
    await rm(join(dir, 'tmp'), { recursive: true, force: true });
    for (const d of ['blobs/sha256', 'partial/sha256', 'manifests/sha256', 'tags', 'tmp']) await mkdir(join(dir, d), { recursive: true });
    const found: Array<CacheEntry & { mtimeMs: number }> = [];
    for (const kind of ['blob', 'partial', 'manifest'] as const) {
      const d = this.kindDir(kind);
      for (const name of await readdir(d)) {
        const path = join(d, name);
        const st = await stat(path).catch(() => undefined);
        if (!st) continue;
        // Anything that is not a content-addressed file is debris of an older layout or a crash.
        if (!HEX_RE.test(name) || !st.isFile()) {
          await rm(path, { recursive: true, force: true });
          continue;
        }
        found.push({ kind, hex: name, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    const verified = new Set(found.filter((e) => e.kind === 'blob').map((e) => e.hex));
    for (const e of found) {
      // A partial next to its verified blob is a leftover (content-addressed: the blob wins).
      if (e.kind === 'partial' && verified.has(e.hex)) await removeFile(this.path('partial', e.hex));
      else this.index.add(e.kind, e.hex, e.size);
    }
    this.log.info({ bytes: this.index.bytes, blobs: this.index.blobs, maxBytes: this.opts.maxBytes }, 'blob cache loaded');
    this.evict();
  }

  /** Idempotent; aborts fetches in flight (their readers fail), keeps partials for a later resume. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        for (const f of this.flights.values()) {
          f.abort.abort(new UnavailableError('the blob cache is closing'));
          f.current?.destroy();
        }
        await Promise.allSettled([...this.runs]);
        await Promise.allSettled([...this.deleting.values()]);
        await Promise.allSettled([...this.touches]);
      })();
    }
    return this.closing;
  }

  /** Size of a verified blob, or undefined; counts as a use for the LRU order. */
  async stat(digest: string): Promise<{ size: number } | undefined> {
    const hex = parseDigest(digest);
    const e = this.index.get('blob', hex);
    if (!e) return undefined;
    this.touch('blob', hex);
    return { size: e.size };
  }

  /**
   * A reader of `digest` from byte `start`: served from the cache when present; otherwise joins the ONE fetch in
   * flight for that digest or starts it via `source` (single flight across all callers, whatever repository they
   * came from). Resolves once the size is known (upstream answered). Bytes stream to the reader as they land on disk,
   * but the FINAL byte is released only after the whole blob's sha256 matched `digest`; on a mismatch the reader's
   * stream errors with RegistryError DIGEST_INVALID, the partial is deleted and nothing is cached. An upstream failure
   * before any byte rejects the promise with that error. A reader going away does not stop the fetch (others may
   * wait; the blob gets cached). An interrupted upstream stream is retried from the bytes on disk (Range), up to
   * `retries` times; after that the partial file STAYS so a later read (even after a process restart) resumes.
   * A `start` beyond the size rejects with RegistryError RANGE_INVALID (start === size gives an empty stream).
   * When neither the upstream nor `expectedSize` tells the size, the promise resolves only once the blob verified.
   */
  async read(digest: string, opts: BlobReadOptions): Promise<{ size: number; stream: Readable }> {
    const hex = parseDigest(digest);
    this.assertOpen();
    const start = opts.start ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) throw new RegistryError('RANGE_INVALID', `invalid range start ${start}`);
    opts.signal?.throwIfAborted();

    if (this.index.has('blob', hex)) {
      const hit = await this.openCached(hex, start);
      if (hit) return this.withSignal(hit, opts.signal);
    }

    const f = this.flights.get(hex) ?? this.startFlight(digest, hex, opts.expectedSize, opts.source);
    // Both taken before any await: the fetch cannot close the file or lose the pin under us.
    f.acquire();
    this.pin(hex);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      f.release();
      this.unpin(hex);
    };
    let size: number;
    try {
      size = await abortable(f.sizeKnown.promise, opts.signal);
      if (start > size) throw new RegistryError('RANGE_INVALID', `range start ${start} is beyond the blob's ${size} bytes`, { size });
    } catch (err) {
      release();
      throw err;
    }
    // sizeKnown resolves only after the file is open, and our reference keeps it open.
    const stream = new BlobReader(f.fh as FileHandle, f, start, size, release);
    return this.withSignal({ size, stream }, opts.signal);
  }

  /** Fetches fully into the cache without a reader; resolves with the size once verified and committed. */
  async ensure(digest: string, opts: { expectedSize?: number; source: BlobSource }): Promise<{ size: number }> {
    const hex = parseDigest(digest);
    this.assertOpen();
    const e = this.index.get('blob', hex);
    if (e) {
      this.touch('blob', hex);
      return { size: e.size };
    }
    const f = this.flights.get(hex) ?? this.startFlight(digest, hex, opts.expectedSize, opts.source);
    return { size: await f.done.promise };
  }

  /** Manifests and indexes (small): stored only when sha256(body) === digest, else RegistryError DIGEST_INVALID. */
  async putManifest(digest: string, mediaType: string, body: Buffer): Promise<void> {
    const hex = parseDigest(digest);
    this.assertOpen();
    if (/[\r\n]/.test(mediaType)) throw new RegistryError('MANIFEST_INVALID', `invalid media type ${JSON.stringify(mediaType)}`);
    const actual = createHash('sha256').update(body).digest('hex');
    if (actual !== hex) {
      throw new RegistryError('DIGEST_INVALID', `manifest content does not match digest ${digest}`, { expected: digest, actual: `sha256:${actual}` });
    }
    const data = Buffer.concat([Buffer.from(`${mediaType}\n`), body]);
    await this.deleting.get(`manifest:${hex}`);
    await writeFileAtomic(join(this.opts.dir, 'tmp'), this.path('manifest', hex), data);
    this.index.add('manifest', hex, data.length);
    this.stamp('manifest', hex);
    this.evict();
  }

  /** A stored manifest (re-verified on read: a damaged file is dropped and reads as missing). Counts as a use. */
  async getManifest(digest: string): Promise<{ mediaType: string; body: Buffer } | undefined> {
    const hex = parseDigest(digest);
    if (!this.index.has('manifest', hex)) return undefined;
    const data = await readFile(this.path('manifest', hex)).catch(() => undefined);
    const nl = data ? data.indexOf(0x0a) : -1;
    const body = data && nl >= 0 ? data.subarray(nl + 1) : undefined;
    if (!data || !body || createHash('sha256').update(body).digest('hex') !== hex) {
      if (data) this.log.warn({ digest }, 'dropping damaged cached manifest');
      this.drop(this.index.get('manifest', hex));
      return undefined;
    }
    this.touch('manifest', hex);
    return { mediaType: data.subarray(0, nl).toString('utf8'), body: Buffer.from(body) };
  }

  /** Last tag -> digest seen per "<host>/<repo>" (served when the upstream is unreachable). */
  async setTag(repoKey: string, tag: string, digest: string): Promise<void> {
    parseDigest(digest);
    this.assertOpen();
    await writeFileAtomic(join(this.opts.dir, 'tmp'), this.tagPath(repoKey, tag), digest);
  }

  /** The digest last recorded with setTag, or undefined. */
  async getTag(repoKey: string, tag: string): Promise<string | undefined> {
    const d = await readFile(this.tagPath(repoKey, tag), 'utf8').catch(() => undefined);
    if (d === undefined) return undefined;
    try {
      parseDigest(d.trim());
      return d.trim();
    } catch {
      return undefined;
    }
  }

  /** Bytes the cache holds on disk (verified blobs, manifests, kept partials; not fetches in flight) and verified blob count. */
  usage(): { bytes: number; blobs: number } {
    return { bytes: this.index.bytes, blobs: this.index.blobs };
  }

  /** How many times `source` was opened for `digest` in this process (tests and metrics). */
  upstreamOpens(digest: string): number {
    const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
    return m ? (this.opens.get(m[1]) ?? 0) : 0;
  }

  // ---- cached reads

  /** Opens a verified blob for reading, pinned until the stream closes; undefined when it vanished meanwhile. */
  private async openCached(hex: string, start: number): Promise<{ size: number; stream: Readable } | undefined> {
    this.pin(hex);
    let fh: FileHandle;
    try {
      fh = await open(this.path('blob', hex), 'r');
    } catch (err) {
      this.unpin(hex);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.index.remove('blob', hex);
      return undefined;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      void fh.close().catch(() => undefined);
      this.unpin(hex);
    };
    try {
      const { size } = await fh.stat();
      if (start > size) throw new RegistryError('RANGE_INVALID', `range start ${start} is beyond the blob's ${size} bytes`, { size });
      this.touch('blob', hex);
      return { size, stream: new BlobReader(fh, completeSource(size), start, size, release) };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Ends the stream when the caller's signal aborts (the fetch goes on). */
  private withSignal(r: { size: number; stream: Readable }, signal: AbortSignal | undefined): { size: number; stream: Readable } {
    if (!signal) return r;
    const onAbort = () => r.stream.destroy(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    r.stream.once('close', () => signal.removeEventListener('abort', onAbort));
    return r;
  }

  // ---- the fetch

  private startFlight(digest: string, hex: string, expectedSize: number | undefined, source: BlobSource): Flight {
    const f = new Flight(hex, expectedSize);
    this.flights.set(hex, f);
    this.pin(hex);
    // Its partial is being worked on: no longer an idle, evictable entry.
    this.index.remove('partial', hex);
    const run = this.runFlight(f, digest, source)
      .catch((err) => this.log.error({ err, digest }, 'blob fetch bookkeeping failed'))
      .finally(() => {
        this.runs.delete(run);
        this.unpin(hex);
      });
    this.runs.add(run);
    return f;
  }

  private async runFlight(f: Flight, digest: string, source: BlobSource): Promise<void> {
    const log = this.log.child({ digest });
    const partial = this.path('partial', f.hex);
    try {
      // An eviction of this partial may still be unlinking it: that must not hit the new file.
      await this.deleting.get(`partial:${f.hex}`);
      f.fh = await open(partial, fsc.O_RDWR | fsc.O_CREAT, 0o644);
      const { size: onDisk } = await f.fh.stat();
      if (onDisk > 0 && f.expectedSize !== undefined && onDisk > f.expectedSize) {
        await f.fh.truncate(0);
      } else if (onDisk > 0) {
        // A partial from an earlier fetch (maybe an earlier process): its bytes count only
        // once hashed again, the hash state did not survive.
        await hashFilePrefix(f.fh, onDisk, f.hash);
        f.written = onDisk;
        log.debug({ offset: onDisk }, 'resuming partial blob');
      }
      if (f.expectedSize !== undefined) this.learnSize(f, f.expectedSize, digest);
      // A crash between the last write and the rename leaves a complete partial; the
      // upstream would answer 416 to a Range starting at its end.
      if (f.written > 0 && f.hash.copy().digest('hex') === f.hex) {
        await this.commitBlob(f, digest);
        return;
      }
      // All the bytes, but the wrong ones (a power loss can leave zeros): start over.
      if (f.size !== undefined && f.written >= f.size) await this.restartFromZero(f);
      await this.download(f, digest, source, log);
      await this.commitBlob(f, digest);
    } catch (err) {
      await this.failFlight(f, digest, err as Error, log);
    } finally {
      f.current = undefined;
      // The file stays open until a background sync is done with it.
      await f.syncing;
      f.release();
    }
  }

  /** Pulls the rest of the blob into the partial file, resuming after interruptions. */
  private async download(f: Flight, digest: string, source: BlobSource, log: Logger): Promise<void> {
    let retry = 0;
    let answered = false;
    let restarted = false;
    for (;;) {
      this.checkAborted(f);
      let body: UpstreamBody;
      try {
        this.opens.set(f.hex, (this.opens.get(f.hex) ?? 0) + 1);
        body = await source(f.written, f.abort.signal);
        answered = true;
      } catch (err) {
        this.checkAborted(f);
        // A partial the upstream cannot continue (416: it is as long as the blob, or
        // longer) is not worth keeping: fetch the blob from its start.
        if (f.written > 0 && f.deliveredHigh === 0 && !restarted && isRangeNotSatisfiable(err)) {
          restarted = true;
          log.warn({ offset: f.written }, 'upstream refused to resume the partial blob, restarting');
          await this.restartFromZero(f);
          continue;
        }
        // A refusal on the first request is the upstream's answer (404, 401, unreachable):
        // it goes straight to the caller. Once it has served bytes, a failing reopen is
        // the interruption continuing.
        if (!answered || retry >= this.retries) throw err;
        retry++;
        log.warn({ err, offset: f.written, retry }, 'blob upstream reopen failed, retrying');
        await this.pause(f, retry);
        continue;
      }
      try {
        f.current = body.stream;
        // close() may have come while the upstream was answering.
        this.checkAborted(f);
        await this.consume(f, body, digest);
        return;
      } catch (err) {
        body.stream.destroy();
        this.checkAborted(f);
        if (isDigestInvalid(err) || retry >= this.retries) throw err;
        retry++;
        log.warn({ err, offset: f.written, retry }, 'blob upstream stream interrupted, resuming');
        await this.pause(f, retry);
      } finally {
        f.current = undefined;
      }
    }
  }

  /** Appends one upstream response to the partial file; throws when it ends early. */
  private async consume(f: Flight, body: UpstreamBody, digest: string): Promise<void> {
    const fh = f.fh as FileHandle;
    // Bytes of this response that repeat what the file already holds (a 200 to a Range request).
    let compareUntil = 0;
    if (body.offset !== f.written) {
      if (body.offset !== 0) throw new Error(`upstream answered from byte ${body.offset}, asked for ${f.written}`);
      if (f.deliveredHigh === 0) {
        await this.restartFromZero(f);
      } else {
        // Readers already hold bytes of the file: rewriting them could hand out bytes
        // the final hash never covered, so the repeat must equal the file instead.
        compareUntil = f.written;
      }
    }
    // Errors between two batches (while a write is awaited) must not go unhandled;
    // nextBatch finds them on stream.errored.
    body.stream.on('error', () => undefined);
    if (body.size !== undefined) this.learnSize(f, body.size, digest);
    // Only now: an upstream that refuses outright must reject read(), not a stream.
    if (f.size !== undefined && !f.sizeKnown.settled) f.sizeKnown.resolve(f.size);
    let pos = body.offset;
    // One batch is written while the next is collected (the upstream socket keeps flowing);
    // f.written, the hash and the readers only ever move after a write succeeded.
    let writing: Promise<void> | undefined;
    try {
      for (;;) {
        const batch = await nextBatch(body.stream, IO_CHUNK_BYTES);
        if (writing) await writing;
        writing = undefined;
        if (!batch) break;
        let bufs = batch;
        if (pos < compareUntil) {
          const joined = bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
          const n = Math.min(joined.length, compareUntil - pos);
          if (!(await fileMatchesAt(fh, joined.subarray(0, n), pos))) throw this.mismatch(digest, 'the upstream resent different bytes');
          pos += n;
          if (n === joined.length) continue;
          bufs = [joined.subarray(n)];
        }
        const n = bufs.reduce((s, b) => s + b.length, 0);
        if (f.size !== undefined && f.written + n > f.size) {
          throw this.mismatch(digest, `the upstream sent more than the blob's ${f.size} bytes`);
        }
        const write = bufs;
        writing = writeAllAt(fh, write, f.written).then(() => {
          // Hashed after the write succeeded: the hash must only ever cover bytes on disk.
          for (const b of write) f.hash.update(b);
          f.lastBatch = { at: f.written, bufs: write, bytes: n };
          f.written += n;
          f.changed();
          this.syncAhead(f, fh);
        });
        writing.catch(() => undefined);
        pos += n;
      }
    } finally {
      // Never leave a write running past this response (the flight may close the file next).
      if (writing) await writing.catch(() => undefined);
    }
    if (pos < compareUntil || (f.size !== undefined && f.written < f.size)) {
      throw new Error(`upstream stream ended at byte ${f.written} of ${f.size ?? 'unknown'}`);
    }
  }

  /**
   * Starts an fdatasync of the partial in the background every SYNC_AHEAD_BYTES, so the
   * fsync before the commit (which holds back the readers' final byte) finds little
   * left to write: a 50 MB blob's single fsync took ~0.1 s on the critical path.
   */
  private syncAhead(f: Flight, fh: FileHandle): void {
    if (f.syncing || f.written - f.syncedTo < SYNC_AHEAD_BYTES) return;
    const to = f.written;
    f.syncing = fh.datasync().then(
      () => {
        f.syncedTo = to;
        f.syncing = undefined;
      },
      () => {
        // The commit's own fsync reports what matters.
        f.syncing = undefined;
      },
    );
  }

  /** Empties the partial file (no reader holds any of its bytes). */
  private async restartFromZero(f: Flight): Promise<void> {
    await (f.fh as FileHandle).truncate(0);
    f.written = 0;
    f.syncedTo = 0;
    f.lastBatch = undefined;
    f.hash = createHash('sha256');
    f.changed();
  }

  /** Records the blob's total size (resolving readers waits for the upstream's answer); a second, different answer is a mismatch. */
  private learnSize(f: Flight, size: number, digest: string): void {
    if (f.size === undefined) {
      if (f.written > size) throw this.mismatch(digest, `the partial download is larger than the blob's ${size} bytes`);
      f.size = size;
    } else if (f.size !== size) {
      throw this.mismatch(digest, `the blob's size is ${size} bytes, expected ${f.size}`);
    }
  }

  /** Verifies the hash, then fsync + rename into blobs/: from here on the blob is served as verified. */
  private async commitBlob(f: Flight, digest: string): Promise<void> {
    const actual = f.hash.digest('hex');
    if (actual !== f.hex) throw this.mismatch(digest, 'sha256 of the content differs', `sha256:${actual}`);
    const fh = f.fh as FileHandle;
    await f.syncing;
    await fh.sync();
    await this.deleting.get(`blob:${f.hex}`);
    await rename(this.path('partial', f.hex), this.path('blob', f.hex));
    await syncDir(this.kindDir('blob'));
    // One synchronous step: a read sees either the flight or the indexed blob, never neither.
    const size = f.written;
    f.verified = true;
    this.index.add('blob', f.hex, size);
    this.stamp('blob', f.hex);
    this.flights.delete(f.hex);
    if (!f.sizeKnown.settled) f.sizeKnown.resolve(size);
    f.done.resolve(size);
    f.changed();
    this.evict();
  }

  private async failFlight(f: Flight, digest: string, err: Error, log: Logger): Promise<void> {
    const failure = f.abort.signal.aborted ? (f.abort.signal.reason as Error) : err;
    if (isDigestInvalid(failure)) {
      log.warn({ err: failure }, 'blob from upstream failed verification, discarded');
      await removeFile(this.path('partial', f.hex)).catch(() => undefined);
    } else if (f.written > 0) {
      log.warn({ err: failure, offset: f.written }, 'blob fetch failed, partial kept for resume');
    } else {
      await removeFile(this.path('partial', f.hex)).catch(() => undefined);
    }
    const kept = !isDigestInvalid(failure) && f.written > 0;
    f.failure = failure;
    this.flights.delete(f.hex);
    if (kept) {
      this.index.add('partial', f.hex, f.written);
      this.stamp('partial', f.hex);
    }
    f.sizeKnown.reject(failure);
    f.done.reject(failure);
    f.changed();
    if (kept) this.evict();
  }

  private mismatch(digest: string, why: string, actual?: string): RegistryError {
    return new RegistryError('DIGEST_INVALID', `content from the upstream does not match digest ${digest}: ${why}`, { digest, actual });
  }

  private checkAborted(f: Flight): void {
    if (f.abort.signal.aborted) throw f.abort.signal.reason;
  }

  private async pause(f: Flight, retry: number): Promise<void> {
    if (this.retryDelayMs > 0) await delay(this.retryDelayMs * retry, undefined, { signal: f.abort.signal });
  }

  // ---- LRU and pins

  private pin(hex: string): void {
    this.pins.set(hex, (this.pins.get(hex) ?? 0) + 1);
  }

  private unpin(hex: string): void {
    const n = (this.pins.get(hex) ?? 1) - 1;
    if (n > 0) {
      this.pins.set(hex, n);
      return;
    }
    this.pins.delete(hex);
    // The last reader of an oversized (or over-budget) blob is gone: it may go now.
    if (this.index.bytes > this.opts.maxBytes) this.evict();
  }

  private touch(kind: EntryKind, hex: string): void {
    if (this.index.touch(kind, hex)) this.stamp(kind, hex);
  }

  /**
   * Records the access order in the file's mtime, so it survives restarts. Commits are
   * stamped too: the kernel's own mtimes tick coarsely (jiffies), and one strictly
   * increasing clock keeps two uses in one millisecond in order.
   */
  private stamp(kind: EntryKind, hex: string): void {
    const t = Math.max(Date.now() / 1000, this.lastTouchS + 1e-6);
    this.lastTouchS = t;
    const p: Promise<void> = utimes(this.path(kind, hex), t, t)
      .catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') this.log.warn({ err }, 'cannot record cache access time');
      })
      .finally(() => this.touches.delete(p));
    this.touches.add(p);
  }

  /** Evicts unpinned entries, blobs larger than the whole cache first, then least recently used, until within maxBytes. */
  private evict(): void {
    const max = this.opts.maxBytes;
    if (this.index.bytes <= max) return;
    // An oversized blob still being read goes when its last reader does; it must not
    // flush everything else out meanwhile.
    let oversizedPinned = 0;
    for (const e of this.index.oldestFirst()) {
      if (e.size <= max) continue;
      if (this.pinned(e)) oversizedPinned += e.size;
      else this.drop(e);
    }
    for (const e of this.index.oldestFirst()) {
      if (this.index.bytes - oversizedPinned <= max) break;
      if (e.size <= max && !this.pinned(e)) this.drop(e);
    }
  }

  private pinned(e: CacheEntry): boolean {
    return e.kind !== 'manifest' && this.pins.has(e.hex);
  }

  /** Removes an entry from the index at once and its file in the background. */
  private drop(e: CacheEntry | undefined): void {
    if (!e) return;
    this.index.remove(e.kind, e.hex);
    this.log.debug({ kind: e.kind, digest: `sha256:${e.hex}`, size: e.size }, 'evicting');
    const key = `${e.kind}:${e.hex}`;
    const prev = this.deleting.get(key) ?? Promise.resolve();
    const p: Promise<void> = prev
      .then(() => removeFile(this.path(e.kind, e.hex)))
      .catch((err) => this.log.warn({ err, digest: `sha256:${e.hex}` }, 'cannot delete cache file'))
      .finally(() => {
        if (this.deleting.get(key) === p) this.deleting.delete(key);
      });
    this.deleting.set(key, p);
  }

  // ---- paths

  private assertOpen(): void {
    if (this.closing) throw new UnavailableError('the blob cache is closed');
  }

  private kindDir(kind: EntryKind): string {
    const top = kind === 'blob' ? 'blobs' : kind === 'partial' ? 'partial' : 'manifests';
    return join(this.opts.dir, top, 'sha256');
  }

  private path(kind: EntryKind, hex: string): string {
    return join(this.kindDir(kind), hex);
  }

  /** One directory per repository key; keys too long for a file name are hashed. */
  private tagPath(repoKey: string, tag: string): string {
    validateTag(tag);
    if (!repoKey || repoKey.split('/').some((c) => c === '' || c === '.' || c === '..')) {
      throw new RegistryError('NAME_INVALID', `invalid repository ${JSON.stringify(repoKey)}`);
    }
    const enc = encodeURIComponent(repoKey);
    const name = enc.length <= MAX_REPO_DIR ? enc : `sha256-${createHash('sha256').update(repoKey).digest('hex')}`;
    return join(this.opts.dir, 'tags', name, tag);
  }
}

/**
 * The upstream answered 416 to a Range request: a RegistryError RANGE_INVALID, or any
 * error with `status: 416`, anywhere on the cause chain (the upstream client's own
 * error class stays unknown to the cache).
 */
function isRangeNotSatisfiable(err: unknown): boolean {
  let cur: unknown = err;
  for (let i = 0; i < 16 && cur; i++) {
    if (cur instanceof RegistryError && cur.code === 'RANGE_INVALID') return true;
    if ((cur as { status?: unknown }).status === 416) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

function isDigestInvalid(err: unknown): boolean {
  return err instanceof RegistryError && err.code === 'DIGEST_INVALID';
}

function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error('the read was aborted');
  e.name = 'AbortError';
  return e;
}

/** Waits for `p`, or rejects when `signal` aborts first. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * How long a batch below `max` waits for more bytes. Network chunks are 64 KiB: writing,
 * hashing and waking the readers for each cost ~2x the CPU of the same bytes in 1 MiB
 * batches (measured: 0.40 vs 0.22 s per 50 MB cold). A flowing upstream fills a batch
 * long before this; a slow or stalled one still has its bytes written (and readable) soon.
 */
const BATCH_WAIT_MS = 20;

/** Bytes written between two background fdatasyncs of a partial (see syncAhead). */
const SYNC_AHEAD_BYTES = 8 * 1024 * 1024;

/**
 * The stream's next bytes, up to `max`, as one batch (one writev for many small network
 * chunks): waits until `max` bytes came, the stream ended, or BATCH_WAIT_MS passed since
 * the batch's first byte; null at the end. A stream that closes without ending is an
 * interruption (bytes taken before it are dropped: the fetch resumes from what is written).
 */
function nextBatch(stream: Readable, max: number): Promise<Buffer[] | null> {
  return new Promise((resolve, reject) => {
    const bufs: Buffer[] = [];
    let n = 0;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      done();
      resolve(bufs.length > 0 ? bufs : null);
    };
    // Bytes already taken are handed out before a failure: the next call finds it.
    const fail = (err: Error) => {
      if (bufs.length > 0) return flush();
      done();
      reject(err);
    };
    const take = (): boolean => {
      if (stream.errored) {
        fail(stream.errored);
        return true;
      }
      let c: Buffer | string | null;
      while (n < max && (c = stream.read()) !== null) {
        const b = typeof c === 'string' ? Buffer.from(c) : c;
        bufs.push(b);
        n += b.length;
      }
      if (n >= max || stream.readableEnded) {
        flush();
        return true;
      }
      if (stream.destroyed) {
        fail(new Error('upstream stream closed before its end'));
        return true;
      }
      if (bufs.length > 0) timer ??= setTimeout(flush, BATCH_WAIT_MS);
      return false;
    };
    const onReadable = () => void take();
    const onError = (err: Error) => fail(err);
    const onClose = () => {
      if (!take()) fail(new Error('upstream stream closed before its end'));
    };
    const done = () => {
      if (timer) clearTimeout(timer);
      stream.off('readable', onReadable);
      stream.off('end', flush);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    stream.on('readable', onReadable);
    stream.on('end', flush);
    stream.on('error', onError);
    stream.on('close', onClose);
    take();
  });
}
