import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { IO_CHUNK_BYTES } from './durable-fs';

/** Where a reader's bytes come from: a file that may still be growing. */
export interface TailSource {
  /** Bytes [0, readable) of the file may be handed out now. */
  readonly readable: number;
  /** Set once no more bytes will come; readers fail with it. */
  readonly failure: Error | undefined;
  /** The whole file is verified: a reader may end (an empty range or blob waits for this too). */
  readonly verified: boolean;
  /** Calls `listener` at the next change of `readable` or `failure`; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** A reader is taking (or took) bytes up to `position`: the fetch must not rewrite them. */
  delivered(position: number): void;
  /**
   * Bytes [position, position + length) as the buffers the fetch just wrote (and hashed), when
   * it still holds all of them in memory; undefined otherwise (the reader reads the file).
   */
  recent?(position: number, length: number): Buffer[] | undefined;
}

/** A complete, verified file: everything readable, nothing changes. */
export function completeSource(size: number): TailSource {
  return { readable: size, failure: undefined, verified: true, onChange: () => () => undefined, delivered: () => undefined };
}

/**
 * Streams bytes [start, end) of `fh` as they become readable. It reads only when its
 * consumer asks (_read), one chunk of at most 1 MiB at a time, so a slow consumer of a
 * 1 GB blob holds about one chunk in memory, never the blob. `onClose` runs once, when
 * the stream ends, errors or is destroyed (it releases the file and the pin).
 */
export class BlobReader extends Readable {
  private pos: number;
  private pumping = false;
  private unsubscribe: (() => void) | undefined;
  private released = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly source: TailSource,
    start: number,
    private readonly end: number,
    private readonly onClose: () => void,
  ) {
    // One chunk buffered ahead: back-pressure reaches the file reads right away.
    super({ highWaterMark: IO_CHUNK_BYTES });
    this.pos = start;
  }

  override _read(): void {
    void this.pump();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (!this.released) {
      this.released = true;
      this.onClose();
    }
    cb(err);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.destroyed) return;
        // A failed fetch (digest mismatch, upstream gone) stops readers at once, even
        // when bytes are still readable: they would never be vouched for.
        if (this.source.failure) {
          this.destroy(this.source.failure);
          return;
        }
        if (this.pos >= this.end && this.source.verified) {
          this.push(null);
          return;
        }
        const avail = Math.min(this.source.readable, this.end);
        if (avail > this.pos) {
          const len = Math.min(avail - this.pos, IO_CHUNK_BYTES);
          // Claimed before the read: the fetch must not rewrite bytes a read is taking.
          this.source.delivered(this.pos + len);
          // A reader keeping up with the fetch takes the batch just written from memory
          // (no file read, no new 1 MiB buffer).
          const mem = this.source.recent?.(this.pos, len);
          if (mem) {
            this.pos += len;
            let more = true;
            for (const b of mem) more = this.push(b);
            if (!more) return;
            continue;
          }
          const buf = Buffer.allocUnsafe(len);
          const { bytesRead } = await this.fh.read(buf, 0, len, this.pos);
          if (this.destroyed) return;
          if (bytesRead === 0) throw new Error(`blob file ended at ${this.pos} of ${this.end} bytes`);
          this.pos += bytesRead;
          if (!this.push(bytesRead < len ? buf.subarray(0, bytesRead) : buf)) return;
          continue;
        }
        // Nothing new yet: wait for the fetch to land more bytes (or fail, or verify).
        await new Promise<void>((resolve) => {
          this.unsubscribe = this.source.onChange(resolve);
        });
        this.unsubscribe = undefined;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.pumping = false;
    }
  }
}
