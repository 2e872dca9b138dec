import { isUnavailable } from '@drydock/errors';
import { sleep } from './progress';
import { isTransient } from './registry-errors';

export interface RetryOptions {
  /** Give up once this much time has passed since the first attempt. */
  windowMs: number;
  signal?: AbortSignal;
  /** A 502 UNAVAILABLE from the proxy (upstream unreachable) is retried too (blobs: yes; resolving a tag: no, dockerd fails at once). */
  upstreamUnavailable: boolean;
  /** Called once per second of back-off with the seconds left (Docker's "Retrying in N seconds"). */
  onWait?: (secondsLeft: number) => void;
  onRetry?: (err: unknown, attempt: number) => void;
}

/** Docker's retry countdown text (xfer's "Retrying in %d second%s"). */
export function retryingText(seconds: number): string {
  return `Retrying in ${seconds} second${seconds === 1 ? '' : 's'}`;
}

/**
 * Runs `fn` until it succeeds, fails for good, or the window closes.
 * Back-off 1, 2, 4, 8, then 10 s between attempts; a containerd UNAVAILABLE
 * (an ingest ref still locked by the stream just cut) counts as transient.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (o.signal?.aborted) throw err;
      const transient = isTransient(err, { upstreamUnavailable: o.upstreamUnavailable }) || isUnavailable(err);
      const delayS = Math.min(2 ** attempt, 10);
      if (!transient || Date.now() - started + delayS * 1000 > o.windowMs) throw err;
      o.onRetry?.(err, attempt + 1);
      for (let s = delayS; s > 0; s--) {
        o.onWait?.(s);
        await sleep(1000, o.signal);
      }
    }
  }
}
