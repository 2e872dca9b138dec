import type { KV } from 'nats';

/** The directory calls placement makes (claims and node records). */
export type DirectoryKv = Pick<KV, 'create' | 'update' | 'delete' | 'get'>;

/**
 * The directory with its calls started together once per event-loop turn (setImmediate): nats.js
 * flushes its outbound buffer in a microtask after each call made on an empty buffer, so calls
 * made by separate gRPC requests went out as one socket write each, and those loopback writes were
 * an eighth of the scheduler's CPU under load. Started in the order they were made; each call is
 * still its own revision-checked request with its own answer.
 */
export class CoalescedKv implements DirectoryKv {
  private queue: Array<() => void> = [];

  constructor(private readonly kv: KV) {}

  create(...a: Parameters<KV['create']>): ReturnType<KV['create']> {
    return this.later(() => this.kv.create(...a));
  }

  update(...a: Parameters<KV['update']>): ReturnType<KV['update']> {
    return this.later(() => this.kv.update(...a));
  }

  delete(...a: Parameters<KV['delete']>): ReturnType<KV['delete']> {
    return this.later(() => this.kv.delete(...a));
  }

  get(...a: Parameters<KV['get']>): ReturnType<KV['get']> {
    return this.later(() => this.kv.get(...a));
  }

  private later<T>(call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        try {
          call().then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const q = this.queue;
    this.queue = [];
    for (const start of q) start();
  }
}
