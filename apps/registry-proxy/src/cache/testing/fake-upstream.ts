import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobSource } from '../blob-cache';

/** How one upstream response behaves (FakeUpstream.plan queues them, one per open). */
export interface ResponsePlan {
  /** Reject the open with this error (an upstream 404, a refused connection). */
  reject?: Error;
  /** Send this many bytes of the response, then fail the stream like a reset connection. */
  cutAfter?: number;
  /** Send this many bytes of the response, then end it cleanly (a short body). */
  endAfter?: number;
  /** Answer 200 from byte 0 whatever the requested offset. */
  ignoreRange?: boolean;
  /** Pause at this absolute byte position until release(). */
  holdAt?: number;
  /** Flip the byte at this absolute position. */
  tamperAt?: number;
  /** Leave out the size (a chunked response without Content-Length). */
  noSize?: boolean;
  /** Announce this size instead of the real one. */
  size?: number;
  /** Send these bytes after the blob (an upstream sending more than it should). */
  extra?: Buffer;
}

/**
 * A hand-written upstream for BlobCache's seam (BlobSource): serves `data` in 64 KiB
 * chunks honouring the offset, with per-open misbehaviour. Records every offset asked
 * and every byte sent, so tests can prove what was (not) downloaded again.
 */
export class FakeUpstream {
  readonly offsets: number[] = [];
  sentBytes = 0;
  private readonly plans: ResponsePlan[] = [];
  private released = false;
  private releaseGate!: () => void;
  private readonly gate = new Promise<void>((r) => (this.releaseGate = r));
  private reachedHold!: () => void;
  /** Resolves when a response reaches its holdAt position. */
  readonly held = new Promise<void>((r) => (this.reachedHold = r));

  constructor(readonly data: Buffer) {}

  get digest(): string {
    return `sha256:${createHash('sha256').update(this.data).digest('hex')}`;
  }

  /** Queues behaviours for the next opens (later opens behave normally). */
  plan(...plans: ResponsePlan[]): this {
    this.plans.push(...plans);
    return this;
  }

  /** Lets held responses go on. */
  release(): void {
    this.released = true;
    this.releaseGate();
  }

  readonly source: BlobSource = async (offset, signal) => {
    this.offsets.push(offset);
    const p = this.plans.shift() ?? {};
    if (p.reject) throw p.reject;
    const from = p.ignoreRange ? 0 : offset;
    const size = p.noSize ? undefined : (p.size ?? this.data.length);
    return { stream: this.stream(from, p, signal), offset: from, size };
  };

  private stream(from: number, p: ResponsePlan, signal: AbortSignal): Readable {
    const body = p.extra ? Buffer.concat([this.data, p.extra]) : this.data;
    const limit = Math.min(body.length, p.cutAfter !== undefined ? from + p.cutAfter : p.endAfter !== undefined ? from + p.endAfter : body.length);
    let pos = from;
    let waiting = false;
    const r = new Readable({ highWaterMark: 64 * 1024, read: () => !waiting && pump() });
    const pump = (): void => {
      if (r.destroyed) return;
      if (pos >= limit) {
        if (p.cutAfter === undefined) {
          r.push(null);
        } else if (r.readableLength > 0) {
          // Cut only once the consumer took every byte sent, so the resume offset is exact.
          setImmediate(pump);
        } else {
          r.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
        }
        return;
      }
      if (p.holdAt !== undefined && pos === p.holdAt && !this.released) {
        waiting = true;
        this.reachedHold();
        void this.gate.then(() => {
          waiting = false;
          pump();
        });
        return;
      }
      let end = Math.min(limit, pos + 64 * 1024);
      if (p.holdAt !== undefined && pos < p.holdAt) end = Math.min(end, p.holdAt);
      const chunk = Buffer.from(body.subarray(pos, end));
      if (p.tamperAt !== undefined && p.tamperAt >= pos && p.tamperAt < end) chunk[p.tamperAt - pos] ^= 0xff;
      this.sentBytes += chunk.length;
      pos = end;
      r.push(chunk);
    };
    signal.addEventListener('abort', () => r.destroy(new Error('aborted')), { once: true });
    return r;
  }
}
