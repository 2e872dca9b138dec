/**
 * Docker's progress messages of pull and push (moby's progress.Progress), as
 * the domain emits them; the gRPC adapter copies them into ImageProgress and
 * the gateway renders Docker's JSON lines.
 */
export interface Progress {
  /** Short layer id (12 hex), the tag for "Pulling from", '' for whole-image lines. */
  id: string;
  status: string;
  /** Byte progress (Downloading, Extracting, Pushing). */
  current?: number;
  total?: number;
  /** Push result, once per pushed tag. */
  aux?: { tag: string; digest: string; size: number };
}

/** 12 hex of a digest: Docker's short layer id. */
export function shortLayerId(digest: string): string {
  return digest.replace(/^[a-z0-9]+:/, '').slice(0, 12);
}

/**
 * Byte progress worth sending: the first report, then at most one per `bytes`
 * or per `ms` (whichever comes first), and always the last one (current ===
 * total). Docker's progress reader throttles the same way.
 */
export class ProgressThrottle {
  private lastBytes = -1;
  private lastAt = 0;

  constructor(
    private readonly bytes = 512 * 1024,
    private readonly ms = 100,
    private readonly now: () => number = Date.now,
  ) {}

  shouldReport(current: number, total: number): boolean {
    const t = this.now();
    if (this.lastBytes < 0 || current >= total || current - this.lastBytes >= this.bytes || t - this.lastAt >= this.ms) {
      if (current === this.lastBytes) return false;
      this.lastBytes = current;
      this.lastAt = t;
      return true;
    }
    return false;
  }
}

/**
 * Many producers, one consumer: concurrent layer tasks push messages, the
 * pull's generator yields them in arrival order. close() ends the stream;
 * close(err) makes the consumer throw after the messages already queued.
 */
export class ProgressChannel<T> implements AsyncIterable<T> {
  private readonly queue: T[] = [];
  private wake?: () => void;
  private closed = false;
  private failure?: unknown;

  push(item: T): void {
    if (this.closed) return;
    this.queue.push(item);
    this.wake?.();
  }

  close(err?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = err;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      while (this.queue.length > 0) yield this.queue.shift()!;
      if (this.closed) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/** A counting semaphore: at most `n` holders; waiters are served in order. */
export class Limiter {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly n: number) {}

  /** True when acquire() would wait now (the caller shows "Waiting"). */
  get full(): boolean {
    return this.active >= this.n;
  }

  async acquire(): Promise<() => void> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiters.push(r));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }
}

/** Sleeps `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
