import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleCollectorOptions {
  /** How often the event loop's utilization and the resident size are sampled. */
  intervalMs?: number;
  /** Growth of the resident size since the last collection that makes a quiet moment worth one. */
  growthBytes?: number;
  /** Event-loop utilization (0..1) below which the last interval counts as quiet. */
  quietUtilization?: number;
  /** For tests: the collector to call and the resident size to read. */
  gc?: () => void;
  rss?: () => number;
  onCollect?: (info: { rssBefore: number; rssAfter: number; ms: number }) => void;
}

/** V8's full collector, which compacts the heap and returns free pages (the flag can be set at run time). */
export function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Runs one full garbage collection when the service goes quiet after its resident size grew. V8 sizes its
 * heap for the busiest moment and keeps it; its own memory reducer rarely runs in a process that idles
 * on timers and sockets, so a service held on to what a burst of requests made (tens of MB) for good.
 * A collection costs a few ms of a quiet event loop; none is made while work is going on.
 */
export class IdleCollector {
  private timer?: NodeJS.Timeout;
  private elu = performance.eventLoopUtilization();
  private baseline = 0;
  private readonly o: Required<Omit<IdleCollectorOptions, 'onCollect'>> & Pick<IdleCollectorOptions, 'onCollect'>;

  constructor(opts: IdleCollectorOptions = {}) {
    this.o = {
      intervalMs: opts.intervalMs ?? 2000,
      growthBytes: opts.growthBytes ?? 4 * 1024 * 1024,
      quietUtilization: opts.quietUtilization ?? 0.02,
      gc: opts.gc ?? fullGc(),
      rss: opts.rss ?? (() => process.memoryUsage.rss()),
      onCollect: opts.onCollect,
    };
  }

  start(): this {
    this.baseline = this.o.rss();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One sample: collects when the last interval was quiet and the resident size grew since the last collection. */
  tick(utilization = this.sampleUtilization()): boolean {
    const rss = this.o.rss();
    if (rss < this.baseline) this.baseline = rss;
    if (utilization >= this.o.quietUtilization || rss - this.baseline < this.o.growthBytes) return false;
    const t0 = performance.now();
    this.o.gc();
    const after = this.o.rss();
    this.baseline = after;
    this.o.onCollect?.({ rssBefore: rss, rssAfter: after, ms: performance.now() - t0 });
    return true;
  }

  private sampleUtilization(): number {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, this.elu).utilization;
    this.elu = now;
    return u;
  }
}
