import { existsSync } from 'node:fs';
import { join } from 'node:path';
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
  /** After the collection: malloc_trim(0) (loadMallocTrim), so what the collection freed outside V8 leaves too. */
  trim?: () => void;
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
 * glibc's malloc_trim(0) from dist/native/malloc-trim.node (libs/runtime/native/malloc-trim.c says why), or
 * undefined where the add-on was not built (an image without it): the collector then only collects.
 */
export function loadMallocTrim(addonPath: string): (() => void) | undefined {
  if (!existsSync(addonPath)) return undefined;
  const m = { exports: {} as { trim?: () => boolean } };
  process.dlopen(m as unknown as NodeJS.Module, addonPath);
  const trim = m.exports.trim;
  return trim ? () => void trim() : undefined;
}

/**
 * V8's low-memory collection from dist/native/v8-idle.node (libs/runtime/native/v8-idle.cc says why), or
 * undefined where the add-on was not built or was built for another Node: the collector then uses fullGc.
 */
export function loadLowMemory(addonPath: string): (() => void) | undefined {
  if (!existsSync(addonPath)) return undefined;
  const m = { exports: {} as { lowMemory?: () => void } };
  try {
    process.dlopen(m as unknown as NodeJS.Module, addonPath);
  } catch {
    // NODE_MODULE_VERSION differs: a bundle copied next to another node
    return undefined;
  }
  return m.exports.lowMemory;
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
  private readonly o: Required<Omit<IdleCollectorOptions, 'onCollect' | 'trim'>> & Pick<IdleCollectorOptions, 'onCollect' | 'trim'>;

  constructor(opts: IdleCollectorOptions = {}) {
    this.o = {
      intervalMs: opts.intervalMs ?? 2000,
      growthBytes: opts.growthBytes ?? 4 * 1024 * 1024,
      quietUtilization: opts.quietUtilization ?? 0.02,
      gc: opts.gc ?? fullGc(),
      rss: opts.rss ?? (() => process.memoryUsage.rss()),
      onCollect: opts.onCollect,
      trim: opts.trim,
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
    this.o.trim?.();
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

/**
 * The collector every service runs, logging each collection at debug: V8's low-memory collection then
 * malloc_trim where the add-ons were built. They sit in dist/native next to dist/apps/<app>/main.js, where
 * __dirname points once bundled.
 */
export function startServiceIdleCollector(log: { debug(obj: object, msg: string): void }, nativeDir = join(__dirname, '../../native')): IdleCollector {
  return new IdleCollector({
    gc: loadLowMemory(join(nativeDir, 'v8-idle.node')),
    trim: loadMallocTrim(join(nativeDir, 'malloc-trim.node')),
    onCollect: (c) => log.debug({ ...c, ...process.memoryUsage() }, 'idle collection'),
  }).start();
}
