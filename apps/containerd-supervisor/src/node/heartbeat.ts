import { cpus as osCpus } from 'node:os';
import { JSONCodec, type KV, type NatsConnection } from 'nats';
import { DeadlineExceededError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { cpuBusyTotal, readMeminfo, readProcStat } from '../stats/proc';
import type { NodeIdentity } from './node-identity';

export const DEFAULT_NODES_BUCKET = 'drydock_nodes';
/** Keeps a beat well under NATS's 1 MB payload with any number of images. */
export const MAX_BEAT_IMAGES = 2000;

export interface ContainerCounts {
  total: number;
  running: number;
  paused: number;
  stopped: number;
}

/** The value stored under `<nodeId>` in the nodes bucket (JSON). */
export interface NodeHeartbeat {
  nodeId: string;
  name: string;
  labels: Record<string, string>;
  /**
   * Classic Swarm's standard node labels (storagedriver, kernelversion, operatingsystem, ostype), for
   * placement constraints; the scheduler puts the operator labels over them.
   */
  engineLabels?: Record<string, string>;
  /** Logical CPUs of the host. */
  cpus: number;
  /** MemTotal of the host. */
  memoryBytes: number;
  /** Busy fraction (0..1) of all CPUs since the previous beat (the average since boot for the first). */
  cpuUsage: number;
  /** MemTotal - MemAvailable. */
  memoryUsedBytes: number;
  containers: ContainerCounts;
  /**
   * The node's image ids, repo:tags and repo@digests (at most MAX_BEAT_IMAGES), for Swarm's
   * `affinity:image==`; absent when they could not be listed for this beat.
   */
  images?: string[];
  /** Where the scheduler and gateway reach this node's supervisor gRPC API (host:port). */
  supervisorAddress: string;
  /** When the beat was taken, ms since the epoch. */
  time: number;
}

export interface HeartbeatOptions {
  nc: NatsConnection;
  identity: NodeIdentity;
  supervisorAddress: string;
  /** Sent as NodeHeartbeat.engineLabels. */
  engineLabels?: Record<string, string>;
  /** Counts the node's containers (from containerd); a rejection skips that beat. */
  countContainers: () => Promise<ContainerCounts>;
  /** The node's image references (NodeHeartbeat.images); a rejection leaves them out of that beat. */
  listImages?: () => Promise<string[]>;
  logger: Logger;
  bucket?: string;
  /**
   * Bucket max age: a node that stops beating disappears after this long. Applies when
   * this node creates the bucket; an existing bucket keeps its own TTL (the scheduler
   * owns it in a cluster). Default 15000 ms; keep it well above intervalMs.
   */
  ttlMs?: number;
  /** Default 5000 ms. */
  intervalMs?: number;
  /** JetStream replicas when this node creates the bucket (3 on a three-server cluster). Default 1. */
  replicas?: number;
  /** Deadline for one KV write. Default 3000 ms. */
  timeoutMs?: number;
  /** For tests: where /proc/stat and /proc/meminfo are read. */
  procRoot?: string;
}

/**
 * Puts this node's liveness and load into a NATS KV bucket every intervalMs, under
 * key = nodeId. Liveness is the bucket's max age: a crashed node stops writing and its
 * entry ages out; a graceful stop deletes the key at once. A beat that cannot be taken
 * (NATS down, containerd down) is skipped and logged once per outage; an outage longer
 * than the TTL therefore removes the node, which is what a scheduler should see.
 */
export class Heartbeat {
  private readonly logger: Logger;
  private readonly bucket: string;
  private readonly ttlMs: number;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly codec = JSONCodec<NodeHeartbeat>();
  private kv?: KV;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private started = false;
  private stopped?: Promise<void>;
  private prevCpu?: { busy: number; total: number };
  private failing = false;

  constructor(private readonly opts: HeartbeatOptions) {
    this.logger = opts.logger.child({ component: 'heartbeat', nodeId: opts.identity.nodeId });
    this.bucket = opts.bucket ?? DEFAULT_NODES_BUCKET;
    this.ttlMs = opts.ttlMs ?? 15000;
    this.intervalMs = opts.intervalMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  /** Starts beating; the first beat is sent at once. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.tick();
  }

  /** Takes and writes one beat now; throws on failure (the periodic loop logs instead). */
  async beatOnce(): Promise<NodeHeartbeat> {
    const hb = await this.snapshot();
    const kv = await this.openBucket();
    await withDeadline(kv.put(this.opts.identity.nodeId, this.codec.encode(hb)), this.timeoutMs, 'heartbeat put');
    return hb;
  }

  /**
   * Stops beating. With deregister (the default) the key is deleted so the node leaves
   * the registry at once; without it the entry ages out like a crashed node's. Idempotent.
   */
  stop(opts: { deregister?: boolean } = {}): Promise<void> {
    this.stopped ??= (async () => {
      clearTimeout(this.timer);
      await this.running?.catch(() => undefined);
      if (opts.deregister === false || !this.started) return;
      try {
        const kv = await this.openBucket();
        await withDeadline(kv.delete(this.opts.identity.nodeId), this.timeoutMs, 'heartbeat delete');
        this.logger.info('node deregistered');
      } catch (err) {
        this.logger.warn({ err }, 'node deregistration failed; the entry will age out');
      }
    })();
    return this.stopped;
  }

  close(): Promise<void> {
    return this.stop();
  }

  private tick(): void {
    this.running = this.beatOnce().then(
      () => {
        if (this.failing) this.logger.info('heartbeat recovered');
        this.failing = false;
      },
      (err) => {
        if (!this.failing) this.logger.warn({ err }, 'heartbeat failed');
        this.failing = true;
      },
    );
    void this.running.then(() => {
      if (this.stopped) return;
      this.timer = setTimeout(() => this.tick(), this.intervalMs);
      this.timer.unref();
    });
  }

  private async openBucket(): Promise<KV> {
    // Bound the whole open: a disconnected client would otherwise wait on its request timeouts.
    if (this.kv) return this.kv;
    const kv = await withDeadline(
      this.opts.nc.jetstream({ timeout: this.timeoutMs }).views.kv(this.bucket, { ttl: this.ttlMs, history: 1, replicas: this.opts.replicas ?? 1 }),
      this.timeoutMs,
      'nodes bucket open',
    );
    const ttl = (await withDeadline(kv.status(), this.timeoutMs, 'nodes bucket status')).ttl;
    if (ttl !== this.ttlMs) this.logger.warn({ bucket: this.bucket, bucketTtlMs: ttl, ttlMs: this.ttlMs }, 'nodes bucket exists with another ttl; keeping it');
    this.kv = kv;
    return kv;
  }

  private async snapshot(): Promise<NodeHeartbeat> {
    const [stat, mem, containers, images] = await Promise.all([
      readProcStat(this.opts.procRoot),
      readMeminfo(this.opts.procRoot),
      this.opts.countContainers(),
      this.opts.listImages?.().then(
        (refs) => refs.slice(0, MAX_BEAT_IMAGES),
        () => undefined,
      ),
    ]);
    const cpu = cpuBusyTotal(stat);
    const prev = this.prevCpu;
    this.prevCpu = cpu;
    const dTotal = prev ? cpu.total - prev.total : cpu.total;
    const dBusy = prev ? cpu.busy - prev.busy : cpu.busy;
    const cpuUsage = dTotal > 0 ? Math.min(1, Math.max(0, dBusy / dTotal)) : 0;
    const memTotal = mem.MemTotal ?? 0;
    // MemAvailable exists since Linux 3.14; fall back to MemFree on older kernels.
    const memAvailable = mem.MemAvailable ?? mem.MemFree ?? 0;
    return {
      nodeId: this.opts.identity.nodeId,
      name: this.opts.identity.name,
      labels: this.opts.identity.labels,
      engineLabels: this.opts.engineLabels,
      cpus: osCpus().length || stat.onlineCpus,
      memoryBytes: memTotal,
      cpuUsage,
      memoryUsedBytes: Math.max(0, memTotal - memAvailable),
      containers,
      ...(images ? { images } : {}),
      supervisorAddress: this.opts.supervisorAddress,
      time: Date.now(),
    };
  }
}

async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineExceededError(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
