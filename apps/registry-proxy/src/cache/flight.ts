import { createHash, type Hash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { TailSource } from './blob-reader';

/** A promise with its settle functions; never an unhandled rejection (callers may not be listening). */
export class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  settled = false;
  constructor() {
    this.promise = new Promise<T>((res, rej) => {
      this.resolve = (v) => {
        this.settled = true;
        res(v);
      };
      this.reject = (e) => {
        this.settled = true;
        rej(e);
      };
    });
    this.promise.catch(() => undefined);
  }
}

/**
 * The one upstream fetch of a digest in this process, and what its readers tail. The
 * partial file [0, written) is hashed in order into `hash`; readers may have all of it
 * except the blob's final byte until the whole blob verified, so no reader can complete
 * a blob that turns out to be wrong.
 */
export class Flight implements TailSource {
  /** Bytes on disk, contiguous from 0, all fed to `hash`. */
  written = 0;
  hash: Hash = createHash('sha256');
  /** Total size once the upstream (or the caller's expectedSize) told it. */
  size: number | undefined;
  verified = false;
  failure: Error | undefined;
  /** Highest byte position any reader has been handed. */
  deliveredHigh = 0;
  /** Opened (read/write) before the upstream is asked; shared by the fetch and its readers. */
  fh: FileHandle | undefined;
  /** A background fdatasync of the partial under way (one at a time). */
  syncing: Promise<void> | undefined;
  /** Bytes [0, syncedTo) of the partial were on disk when the last background sync ended. */
  syncedTo = 0;
  /** The last batch written, at file offset `at`: readers keeping up take it from here. */
  lastBatch: { at: number; bufs: Buffer[]; bytes: number } | undefined;
  /** The upstream stream being consumed, destroyed on close(). */
  current: Readable | undefined;
  readonly abort = new AbortController();
  /** Resolves with the size once known; rejects when the fetch fails before that. */
  readonly sizeKnown = new Deferred<number>();
  /** Resolves with the size once the blob is verified and committed. */
  readonly done = new Deferred<number>();
  /** The fetch itself holds one reference to `fh`; each reader holds one. */
  private refs = 1;
  private readonly events = new EventEmitter().setMaxListeners(0);

  constructor(
    readonly hex: string,
    readonly expectedSize: number | undefined,
  ) {}

  get readable(): number {
    if (this.verified) return this.written;
    // Withhold the final byte: with the size known that is byte size-1, otherwise the
    // last byte written so far (it may be the final one).
    return this.size !== undefined ? Math.min(this.written, this.size - 1) : Math.max(0, this.written - 1);
  }

  onChange(listener: () => void): () => void {
    this.events.once('change', listener);
    return () => this.events.off('change', listener);
  }

  delivered(position: number): void {
    if (position > this.deliveredHigh) this.deliveredHigh = position;
  }

  recent(position: number, length: number): Buffer[] | undefined {
    const r = this.lastBatch;
    const end = position + length;
    if (!r || position < r.at || end > r.at + r.bytes) return undefined;
    const out: Buffer[] = [];
    let off = r.at;
    for (const b of r.bufs) {
      const from = Math.max(position, off);
      const to = Math.min(end, off + b.length);
      if (from < to) out.push(from === off && to === off + b.length ? b : b.subarray(from - off, to - off));
      off += b.length;
      if (off >= end) break;
    }
    return out;
  }

  changed(): void {
    this.events.emit('change');
  }

  acquire(): void {
    this.refs++;
  }

  /** Drops one reference to the file; the last one closes it. */
  release(): void {
    if (--this.refs > 0) return;
    const fh = this.fh;
    this.fh = undefined;
    void fh?.close().catch(() => undefined);
  }
}
