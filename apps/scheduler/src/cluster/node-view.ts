import type { KV, KvEntry, QueuedIterator } from 'nats';
import type { Logger } from '@drydock/logging';
import type { NodeIndex } from '../placement/node-index';
import type { SchedNode } from '../placement/types';
import { decodeJson, followKv, type NodeRecord } from '@drydock/cluster';

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
  /** Kept up to date with every beat and record, for placement. */
  index: NodeIndex;
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
  private readonly beats = new Map<string, { hb: HeartbeatView; seen: number; labels: Record<string, string> }>();
  private readonly records = new Map<string, { record: NodeRecord; revision: number }>();
  private readonly watches: QueuedIterator<KvEntry>[] = [];
  /** Nodes whose record this scheduler is writing, and the newest watched change that came meanwhile. */
  private readonly writing = new Map<string, number>();
  private readonly arrived = new Map<string, KvEntry>();
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
    this.watches.push(await followKv(kv, key, apply, this.log));
  }

  private onBeat(e: KvEntry): void {
    if (e.operation !== 'PUT') {
      this.beats.delete(e.key);
      this.opts.index.forgetBeat(e.key);
      return;
    }
    const hb = decodeJson<HeartbeatView>(e);
    if (!hb || typeof hb.nodeId !== 'string') return;
    // A value read at start may be old: it counts from when the server stored it, never from the future.
    const seen = Math.min(this.now(), e.created.getTime());
    const labels = { ...(hb.engineLabels ?? {}), ...(hb.labels ?? {}) };
    this.beats.set(e.key, { hb, seen, labels });
    this.opts.index.upsertNode(
      e.key,
      {
        name: hb.name,
        labels,
        cpus: hb.cpus,
        memoryBytes: hb.memoryBytes,
        reportedContainers: hb.containers?.total ?? 0,
        supervisorAddress: hb.supervisorAddress,
      },
      seen,
    );
  }

  private onRecord(e: KvEntry): void {
    const id = e.key.slice('node.'.length);
    // this scheduler's own writes come back through the watch: already in, not decoded again
    const cur = this.records.get(id);
    if (cur && cur.revision >= e.revision) return;
    if (this.writing.has(id)) {
      // most likely the write itself, seen before its ack: decoded only if the write's revision is not it
      const prev = this.arrived.get(id);
      if (!prev || prev.revision < e.revision) this.arrived.set(id, e);
      return;
    }
    const record = e.operation === 'PUT' ? decodeJson<NodeRecord>(e) : undefined;
    if (!record) {
      this.records.delete(id);
      this.opts.index.setRecord(id, false, {});
    } else this.apply(id, record, e.revision);
  }

  private apply(id: string, record: NodeRecord, revision: number): void {
    this.records.set(id, { record, revision });
    this.opts.index.setRecord(id, record.drained, record.containers);
  }

  /** Takes in a record this scheduler just read or wrote, unless the watch already has a newer one. */
  noteRecord(record: NodeRecord, revision: number): void {
    const cur = this.records.get(record.nodeId);
    if (!cur || cur.revision < revision) this.apply(record.nodeId, record, revision);
  }

  /** A write of the node's record is going out (RecordWriter): watched changes of it wait for its end. */
  beginWrite(nodeId: string): void {
    this.writing.set(nodeId, (this.writing.get(nodeId) ?? 0) + 1);
  }

  /** The write is done (noteRecord or refreshRecord came first): what the watch brought meanwhile and is newer applies. */
  endWrite(nodeId: string): void {
    const n = (this.writing.get(nodeId) ?? 1) - 1;
    if (n > 0) {
      this.writing.set(nodeId, n);
      return;
    }
    this.writing.delete(nodeId);
    const e = this.arrived.get(nodeId);
    this.arrived.delete(nodeId);
    if (e) this.onRecord(e);
  }

  /** Takes in a node's record as just read (undefined: absent), whatever revision the cache holds. */
  refreshRecord(nodeId: string, fresh: { record: NodeRecord; revision: number } | undefined): void {
    if (fresh) this.apply(nodeId, fresh.record, fresh.revision);
    else {
      // a change seen before the read is older than its answer
      this.arrived.delete(nodeId);
      this.records.delete(nodeId);
      this.opts.index.setRecord(nodeId, false, {});
    }
  }

  /** The record and revision this scheduler last saw of a node (the write-through cache). */
  cached(nodeId: string): { record: NodeRecord; revision: number } | undefined {
    return this.records.get(nodeId);
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
      labels: beat?.labels ?? {},
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

  /** The directory records of the nodes that are down now (no beat for downAfterMs, or none at all). */
  downRecords(): Array<{ nodeId: string; record: NodeRecord }> {
    const now = this.now();
    const out: Array<{ nodeId: string; record: NodeRecord }> = [];
    for (const [nodeId, { record }] of this.records) {
      const beat = this.beats.get(nodeId);
      if (!beat || now - beat.seen > this.opts.downAfterMs) out.push({ nodeId, record });
    }
    return out;
  }

  /** A node's name and supervisor address, without building its container list. */
  describe(id: string): { name: string; supervisorAddress: string } {
    const hb = this.beats.get(id)?.hb;
    return { name: hb?.name ?? this.records.get(id)?.record.name ?? id, supervisorAddress: hb?.supervisorAddress ?? '' };
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
