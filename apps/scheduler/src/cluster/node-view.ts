import type { KV, KvEntry, QueuedIterator } from 'nats';
import type { Logger } from '@drydock/logging';
import type { SchedNode } from '../placement/types';
import { decodeJson } from '@drydock/cluster';
import type { NodeRecord } from '@drydock/cluster';

/** What the scheduler reads of a heartbeat (apps/containerd-supervisor/src/node/heartbeat.ts NodeHeartbeat). */
export interface HeartbeatView {
  nodeId: string;
  name: string;
  labels?: Record<string, string>;
  /** Swarm's standard node labels (storagedriver, kernelversion, operatingsystem, ostype), when sent. */
  engineLabels?: Record<string, string>;
  cpus: number;
  memoryBytes: number;
  containers?: { total?: number };
  /** Image ids and references on the node (affinity:image==), when sent. */
  images?: string[];
  supervisorAddress: string;
  time: number;
}

export type NodeStatus = 'ready' | 'down';

/** A node as ListNodes shows it. */
export interface NodeInfo {
  node: SchedNode;
  status: NodeStatus;
  drained: boolean;
  /** When this scheduler last heard the node (ms since the epoch); 0 if never. */
  lastSeen: number;
}

export interface NodeViewOptions {
  nodes: KV;
  directory: KV;
  logger: Logger;
  /** A node with no heartbeat for this long is down. */
  downAfterMs: number;
  now?: () => number;
}

/**
 * The cluster as this scheduler sees it: heartbeats and the container directory, followed
 * with KV watches (the current values first, then every change). A node is down once its
 * beats stop for downAfterMs, also when its entry has aged out of the nodes bucket (it is
 * remembered: its containers are still in the directory); a node that deregistered (its key
 * deleted) is forgotten unless the directory still holds containers on it.
 */
export class NodeView {
  private readonly beats = new Map<string, { hb: HeartbeatView; seen: number }>();
  private readonly records = new Map<string, { record: NodeRecord; revision: number }>();
  private readonly watches: QueuedIterator<KvEntry>[] = [];
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: NodeViewOptions) {
    this.log = opts.logger.child({ component: 'node-view' });
    this.now = opts.now ?? Date.now;
  }

  /** Starts both watches; resolves once the current values of both buckets are in. */
  async start(): Promise<void> {
    await Promise.all([this.follow(this.opts.nodes, '>', (e) => this.onBeat(e)), this.follow(this.opts.directory, 'node.>', (e) => this.onRecord(e))]);
  }

  private async follow(kv: KV, key: string, apply: (e: KvEntry) => void): Promise<void> {
    let ready!: () => void;
    const initialized = new Promise<void>((r) => (ready = r));
    const w = await kv.watch({ key, initializedFn: () => ready() });
    this.watches.push(w);
    void (async () => {
      try {
        for await (const e of w) apply(e);
      } catch (err) {
        this.log.error({ err, key }, 'watch failed');
      }
    })();
    await initialized;
  }

  private onBeat(e: KvEntry): void {
    if (e.operation !== 'PUT') {
      this.beats.delete(e.key);
      return;
    }
    const hb = decodeJson<HeartbeatView>(e);
    if (!hb || typeof hb.nodeId !== 'string') return;
    // A value read at start may be old: it counts from when the server stored it, never from the future.
    this.beats.set(e.key, { hb, seen: Math.min(this.now(), e.created.getTime()) });
  }

  private onRecord(e: KvEntry): void {
    const id = e.key.slice('node.'.length);
    const record = e.operation === 'PUT' ? decodeJson<NodeRecord>(e) : undefined;
    if (!record) this.records.delete(id);
    else this.records.set(id, { record, revision: e.revision });
  }

  /** Takes in a record this scheduler just read or wrote, unless the watch already has a newer one. */
  noteRecord(record: NodeRecord, revision: number): void {
    const cur = this.records.get(record.nodeId);
    if (!cur || cur.revision < revision) this.records.set(record.nodeId, { record, revision });
  }

  /** Every known node with its state now. */
  list(): NodeInfo[] {
    const ids = new Set([...this.beats.keys(), ...[...this.records.entries()].filter(([, r]) => Object.keys(r.record.containers).length > 0 || r.record.drained).map(([id]) => id)]);
    return [...ids].sort().map((id) => this.info(id, this.records.get(id)?.record));
  }

  /** One node, with a given (fresh) directory record in place of the watched one. */
  info(id: string, record?: NodeRecord): NodeInfo {
    const beat = this.beats.get(id);
    const hb = beat?.hb;
    const rec = record ?? this.records.get(id)?.record;
    const drained = rec?.drained ?? false;
    const status: NodeStatus = beat && this.now() - beat.seen <= this.opts.downAfterMs ? 'ready' : 'down';
    const containers = Object.values(rec?.containers ?? {});
    const node: SchedNode = {
      id,
      name: hb?.name ?? rec?.name ?? id,
      labels: { ...(hb?.engineLabels ?? {}), ...(hb?.labels ?? {}) },
      healthy: status === 'ready' && !drained,
      cpus: hb?.cpus ?? 0,
      memoryBytes: hb?.memoryBytes ?? 0,
      containers,
      // the node's own count lags placements just made; the directory's misses containers made without the scheduler
      containerCount: Math.max(containers.length, hb?.containers?.total ?? 0),
      images: hb?.images ?? [],
      supervisorAddress: hb?.supervisorAddress ?? '',
    };
    return { node, status, drained, lastSeen: beat?.seen ?? 0 };
  }

  /** A node by id, or by name when exactly one node has it. */
  resolve(ref: string): string | undefined {
    if (this.beats.has(ref) || this.records.has(ref)) return ref;
    const named = this.list().filter((n) => n.node.name === ref);
    return named.length === 1 ? named[0].node.id : undefined;
  }

  close(): void {
    for (const w of this.watches.splice(0)) w.stop();
  }
}
