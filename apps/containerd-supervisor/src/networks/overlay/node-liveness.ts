import type { KV, KvEntry, QueuedIterator } from 'nats';
import { followKv } from '@drydock/cluster';
import type { Logger } from '@drydock/logging';
import type { NodeLiveness } from './overlay-networks';

/**
 * Which nodes are up, from the heartbeats in the nodes bucket: a node is up while its last
 * beat was stored less than `downAfterMs` ago (the scheduler's node-down time). An entry
 * deleted or aged out of the bucket is down at once.
 */
export class KvNodeLiveness implements NodeLiveness {
  private readonly seen = new Map<string, number>();
  private up = new Set<string>();
  private readonly listeners: (() => void)[] = [];
  private watch: QueuedIterator<KvEntry> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: { downAfterMs: number; logger: Logger; now?: () => number },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  async start(nodes: KV): Promise<void> {
    if (this.watch) return;
    this.watch = await followKv(
      nodes,
      '>',
      (e) => {
        // the server's time of the beat: a dead node's last entry, replayed at start, is not taken for a fresh one
        if (e.operation === 'PUT') this.seen.set(e.key, Math.min(this.now(), e.created?.getTime() ?? this.now()));
        else this.seen.delete(e.key);
        this.evaluate();
      },
      this.opts.logger,
    );
    this.evaluate();
    // a node that stops beating goes down without any event: looked at every second
    this.timer = setInterval(() => this.evaluate(), 1000);
    this.timer.unref();
  }

  close(): void {
    this.watch?.stop();
    if (this.timer) clearInterval(this.timer);
  }

  isUp(nodeId: string): boolean {
    return this.up.has(nodeId);
  }

  onChange(cb: () => void): void {
    this.listeners.push(cb);
  }

  /** Recomputes the set; listeners hear of it only when it changed. */
  evaluate(): void {
    const now = this.now();
    const next = new Set([...this.seen].filter(([, t]) => now - t <= this.opts.downAfterMs).map(([id]) => id));
    const changed = next.size !== this.up.size || [...next].some((id) => !this.up.has(id));
    this.up = next;
    if (changed) for (const l of this.listeners) l();
  }
}
