import type { KV, KvEntry, QueuedIterator } from 'nats';
import type { Logger } from '@drydock/logging';
import { decodeJson, followKv, type NodeRecord, type PlacedContainer } from '@drydock/cluster';
import type { NodeSummary } from '../backend/supervisor-client';

/** What the gateway reads of a heartbeat (apps/containerd-supervisor/src/node/heartbeat.ts NodeHeartbeat). */
export interface Beat {
  nodeId: string;
  name: string;
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  cpus: number;
  memoryBytes: number;
  containers?: { total?: number; running?: number; paused?: number; stopped?: number };
  supervisorAddress: string;
  time: number;
}

/** One node as the gateway shows it (classic Swarm's engine): the routes' NodeSummary. */
export type ClusterNode = NodeSummary;

/** A container of the directory with the node holding it. */
export interface DirectoryHit {
  nodeId: string;
  entry: PlacedContainer;
}

export interface ClusterViewOptions {
  nodes: KV;
  directory: KV;
  logger: Logger;
  /** A node with no beat for this long is down. */
  downAfterMs: number;
  now?: () => number;
}

/**
 * The cluster as a gateway sees it: the heartbeats (nodes, their supervisors' addresses) and
 * the container directory (which node holds which container id and name), both followed with
 * KV watches. Read-only: the supervisors write their containers, the scheduler its placements.
 */
export class ClusterView {
  private readonly beats = new Map<string, { beat: Beat; seen: number }>();
  private readonly records = new Map<string, NodeRecord>();
  private readonly watches: QueuedIterator<KvEntry>[] = [];
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: ClusterViewOptions) {
    this.log = opts.logger.child({ component: 'cluster-view' });
    this.now = opts.now ?? Date.now;
  }

  /** Resolves once both buckets' current values are in. */
  async start(): Promise<void> {
    await Promise.all([this.follow(this.opts.nodes, '>', (e) => this.onBeat(e)), this.follow(this.opts.directory, 'node.>', (e) => this.onRecord(e))]);
  }

  private async follow(kv: KV, key: string, apply: (e: KvEntry) => void): Promise<void> {
    this.watches.push(await followKv(kv, key, apply, this.log));
  }

  onBeat(e: KvEntry): void {
    if (e.operation !== 'PUT') {
      this.beats.delete(e.key);
      return;
    }
    const beat = decodeJson<Beat>(e);
    if (!beat || typeof beat.nodeId !== 'string') return;
    this.beats.set(e.key, { beat, seen: Math.min(this.now(), e.created.getTime()) });
  }

  onRecord(e: KvEntry): void {
    const id = e.key.slice('node.'.length);
    const record = e.operation === 'PUT' ? decodeJson<NodeRecord>(e) : undefined;
    if (record) this.records.set(id, record);
    else this.records.delete(id);
  }

  /** Every node known from a beat or from directory entries, by name. */
  nodes(): ClusterNode[] {
    const ids = new Set([...this.beats.keys(), ...[...this.records.entries()].filter(([, r]) => Object.keys(r.containers).length > 0).map(([id]) => id)]);
    return [...ids].map((id) => this.node(id)!).sort((a, b) => a.name.localeCompare(b.name));
  }

  node(id: string): ClusterNode | undefined {
    const b = this.beats.get(id);
    const rec = this.records.get(id);
    if (!b && !rec) return undefined;
    const address = b?.beat.supervisorAddress ?? '';
    const entries = Object.values(rec?.containers ?? {});
    const c = b?.beat.containers;
    return {
      id,
      name: b?.beat.name ?? rec?.name ?? id,
      address,
      ip: address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'),
      labels: { ...(b?.beat.engineLabels ?? {}), ...(b?.beat.labels ?? {}) },
      cpus: b?.beat.cpus ?? 0,
      memoryBytes: b?.beat.memoryBytes ?? 0,
      healthy: !!b && this.now() - b.seen <= this.opts.downAfterMs,
      lastSeen: b?.seen ?? 0,
      counts: { total: c?.total ?? entries.filter((x) => x.id).length, running: c?.running ?? 0, paused: c?.paused ?? 0, stopped: c?.stopped ?? 0 },
      reservedNanoCpus: entries.reduce((s, x) => s + (x.nanoCpus || 0), 0),
      reservedMemoryBytes: entries.reduce((s, x) => s + (x.memoryBytes || 0), 0),
    };
  }

  /**
   * Containers of the directory matching a reference as dockerd resolves one: the full id,
   * else the name, else an id prefix (several: ambiguous). Names skip entries rescheduled away.
   */
  find(ref: string): DirectoryHit[] {
    const name = ref.replace(/^\//, '');
    const all: DirectoryHit[] = [];
    for (const [nodeId, rec] of this.records) for (const entry of Object.values(rec.containers)) if (entry.id) all.push({ nodeId, entry });
    const byId = all.filter((h) => h.entry.id === ref);
    if (byId.length > 0) return byId;
    // a lost node's container rescheduled elsewhere keeps its entry until the node returns: the name is its replacement's
    const byName = all.filter((h) => h.entry.name === name && !h.entry.rescheduledTo);
    if (byName.length > 0) return byName;
    if (!/^[0-9a-f]+$/.test(ref)) return [];
    return all.filter((h) => h.entry.id!.startsWith(ref));
  }

  close(): void {
    for (const w of this.watches.splice(0)) w.stop();
  }
}
