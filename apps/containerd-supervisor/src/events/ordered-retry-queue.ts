import type { Logger } from '@drydock/logging';

export interface OrderedRetryQueueOptions<T> {
  /**
   * Delivers one item; resolves once it is durably accepted. Rejections are retried
   * with the SAME item, so `send` must be idempotent (JetStream: a msgID header).
   */
  send: (item: T) => Promise<void>;
  logger: Logger;
  /** Waiting items kept at most; beyond it the oldest waiting item is dropped. */
  maxItems: number;
  /** First back-off after a failure, doubled per consecutive failure up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
  /** Called after a failed send, before the back-off (e.g. to re-create a stream). */
  onFailure?: (err: unknown) => void;
}

/**
 * A FIFO that delivers items strictly one at a time and in order, retrying the head
 * until it succeeds. `push` never blocks and never throws: the callers are container
 * operations that must not wait for NATS. One in flight at a time keeps order without
 * reasoning about partial failures of a pipelined window; local JetStream acks take
 * well under a millisecond, far above the event rate of a node.
 */
export class OrderedRetryQueue<T> {
  // Array with a moving head: O(1) amortised shift, compacted when half is garbage.
  private items: T[] = [];
  private head = 0;
  private inflight: T | undefined;
  private closing = false;
  private stopped = false;
  private wake?: () => void;
  private wakeSleep?: () => void;
  private idleWaiters: Array<() => void> = [];
  private readonly worker: Promise<void>;
  private failing = false;
  private failures = 0;
  private droppedSinceWarn = 0;
  private droppedTotal = 0;

  constructor(private readonly opts: OrderedRetryQueueOptions<T>) {
    if (opts.maxItems < 1) throw new RangeError('maxItems must be at least 1');
    this.worker = this.run();
  }

  /** Items waiting or in flight. */
  get size(): number {
    return this.items.length - this.head + (this.inflight === undefined ? 0 : 1);
  }

  /** Items dropped because the queue was full, since construction. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Enqueues an item; returns false (and drops it) once the queue is closing. */
  push(item: T): boolean {
    if (this.closing) {
      this.opts.logger.warn('event dropped: sink closing');
      return false;
    }
    if (this.items.length - this.head >= this.opts.maxItems) {
      // Drop the oldest *waiting* item; the one in flight may already be stored.
      this.head++;
      this.droppedTotal++;
      if (this.droppedSinceWarn++ === 0) {
        this.opts.logger.warn({ maxItems: this.opts.maxItems }, 'event queue full, dropping oldest events');
      }
      this.compact();
    }
    this.items.push(item);
    this.wake?.();
    return true;
  }

  /** Resolves true once nothing waits or is in flight, false after timeoutMs. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    let resolveIdle!: () => void;
    const idle = new Promise<boolean>((resolve) => {
      resolveIdle = () => resolve(true);
      this.idleWaiters.push(resolveIdle);
    });
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
      this.idleWaiters = this.idleWaiters.filter((w) => w !== resolveIdle);
    }
  }

  /**
   * Stops accepting items, delivers what it can within timeoutMs, then stops the
   * worker. Resolves with the number of items left undelivered. Idempotent.
   */
  async close(timeoutMs: number): Promise<number> {
    if (!this.closing) {
      this.closing = true;
      await this.drain(timeoutMs);
      this.stopped = true;
      this.wake?.();
      this.wakeSleep?.();
    }
    // A send in flight at the deadline is abandoned (not awaited past its own timeout).
    await Promise.race([this.worker, new Promise((r) => setTimeout(r, 50).unref())]);
    return this.size;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.inflight === undefined) {
        if (this.head === this.items.length) {
          this.items = [];
          this.head = 0;
          for (const w of this.idleWaiters.splice(0)) w();
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
          continue;
        }
        this.inflight = this.items[this.head];
        this.items[this.head] = undefined as unknown as T; // let it be collected
        this.head++;
        this.compact();
      }
      try {
        await this.opts.send(this.inflight as T);
        this.inflight = undefined;
        if (this.failing || this.droppedSinceWarn > 0) {
          this.opts.logger.info({ failedAttempts: this.failures, dropped: this.droppedSinceWarn, queued: this.size }, 'event publishing recovered');
        }
        this.failing = false;
        this.failures = 0;
        this.droppedSinceWarn = 0;
      } catch (err) {
        if (this.stopped) break;
        this.failures++;
        if (!this.failing) {
          this.failing = true;
          this.opts.logger.warn({ err, queued: this.size }, 'event publishing failed, retrying');
        }
        this.opts.onFailure?.(err);
        const delay = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(this.failures - 1, 20));
        await this.sleep(delay);
      }
    }
  }

  /** A back-off sleep that close() cuts short (push() does not: the head still fails). */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeSleep = undefined;
        resolve();
      }, ms);
      this.wakeSleep = () => {
        clearTimeout(timer);
        this.wakeSleep = undefined;
        resolve();
      };
    });
  }
}
