export interface BackoffOptions {
  /** Delay after the first failure. */
  initialMs: number;
  /** Ceiling of the delay. */
  maxMs: number;
  /** A run that lasted this long counts as healthy: the next failure starts over at initialMs. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 10000, resetAfterMs: 30000 };

/** The delay before restart number `failures` (1-based): initialMs doubling up to maxMs. */
export function backoffDelayMs(failures: number, o: Pick<BackoffOptions, 'initialMs' | 'maxMs'> = DEFAULT_BACKOFF): number {
  if (failures < 1) return 0;
  // 2 ** n overflows to Infinity for huge n, which Math.min handles.
  return Math.min(o.maxMs, o.initialMs * 2 ** (failures - 1));
}

/** Counts consecutive short-lived runs of one process and yields its restart delays. */
export class Backoff {
  private failures = 0;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The delay before the next start, given how long the run that just ended lasted. */
  next(uptimeMs: number): number {
    if (uptimeMs >= this.opts.resetAfterMs) this.failures = 0;
    this.failures++;
    return backoffDelayMs(this.failures, this.opts);
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
