import type { KV, NatsConnection } from 'nats';
import type { Logger } from '@drydock/logging';
import type { supervisorV1 } from '@drydock/proto';
import { DIRECTORY_BUCKET, emptyRecord, getJson, mutateJson, NAME_KEYS, nodeKey, reschedulesOnNodeFailure, SWARM_ID_LABEL, unchanged, type NameClaim, type NodeRecord, type PlacedContainer } from '@drydock/cluster';
import { supervisorV1 as pb } from '@drydock/proto';
import type { ContainerEvents, NameRegistry } from '../containers/ports';

/** Events after which a container's directory entry changes. */
const CHANGES = new Set(['create', 'destroy', 'rename', 'update']);
/** And for containers that opted in to rescheduling, whose entry says whether they run. */
const RUN_CHANGES = new Set(['start', 'die']);

export interface DirectorySyncOptions {
  nodeId: string;
  nodeName: string;
  /** This node's containers now (ids) and one of them inspected (undefined once gone). */
  ids: () => string[];
  inspect: (id: string) => supervisorV1.ContainerInfo | undefined;
  names: NameRegistry;
  logger: Logger;
  /** A full reconcile this often (also after every failure). Default 30 s. */
  intervalMs?: number;
}

/** A container's entry in the directory (libs/cluster directory.ts PlacedContainer). */
export function directoryEntry(c: supervisorV1.ContainerInfo): PlacedContainer {
  const hc = c.hostConfig ?? {};
  const labels = c.config?.labels ?? {};
  const hostNetwork = hc.networkMode === 'host';
  return {
    id: c.id,
    name: c.name,
    image: c.config?.image || undefined,
    labels,
    memoryBytes: Number(hc.memory ?? 0),
    nanoCpus: Number(hc.nanoCpus ?? 0),
    ports: Object.entries(hc.portBindings ?? {}).flatMap(([containerPort, l]) => (l.bindings ?? []).map((b) => ({ containerPort, hostIp: b.hostIp ?? '', hostPort: b.hostPort ?? '' }))),
    hostNetwork: hostNetwork || undefined,
    exposedPorts: hostNetwork ? c.config?.exposedPorts ?? [] : undefined,
    requestId: labels[SWARM_ID_LABEL] || undefined,
    ...(reschedulesOnNodeFailure(labels) ? rescheduleFields(c) : {}),
  };
}

/**
 * What a replacement needs, in KV before the node can be lost: the create request (the
 * config as resolved at create: image, cmd, env, labels; the host config) and whether it runs.
 * Its Place request id is not carried over: the replacement gets its own.
 */
function rescheduleFields(c: supervisorV1.ContainerInfo): Partial<PlacedContainer> {
  const labels = { ...(c.config?.labels ?? {}) };
  delete labels[SWARM_ID_LABEL];
  // a hostname create made up (the short id) is the new container's own to make up
  const hostname = c.config?.hostname === c.id?.slice(0, 12) ? '' : c.config?.hostname;
  const create: supervisorV1.CreateContainerRequest = { name: c.name, config: { ...(c.config ?? {}), hostname, labels }, hostConfig: c.hostConfig };
  return { reschedule: 'on-node-failure', create: pb.CreateContainerRequest.toJSON(create), running: !!c.state?.running };
}

/** The scheduler's marks on an entry, kept when the supervisor writes the entry again. */
function keepMarks(next: PlacedContainer, cur: PlacedContainer | undefined): PlacedContainer {
  if (!cur?.rescheduledTo && !cur?.rescheduledFrom) return next;
  return { ...next, rescheduledTo: cur.rescheduledTo, rescheduledFrom: cur.rescheduledFrom };
}

/**
 * Keeps this node's part of the container directory (`node.<nodeId>`: its containers, keyed
 * by id) equal to what the node has. The supervisor is the one writer of its containers'
 * entries, whoever created them: each change is written after it happened (the events of
 * create, rename, update and destroy), and a full reconcile runs when NATS is reached and
 * every intervalMs, so containers made while NATS was away (or by a crashed process) are
 * entered, entries of gone containers leave, and names this node holds for gone containers
 * are released. Reservations the scheduler made by request id stay until the container that
 * carries that id (label com.docker.swarm.id) replaces them.
 */
export class DirectorySync implements ContainerEvents {
  private kv?: KV;
  private readonly dirty = new Set<string>();
  private full = false;
  private running?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private failing = false;
  private closed = false;
  private reconciles = 0;
  private readonly log: Logger;
  private readonly intervalMs: number;

  constructor(private readonly opts: DirectorySyncOptions) {
    this.log = opts.logger.child({ component: 'directory-sync' });
    this.intervalMs = opts.intervalMs ?? 30000;
  }

  /** Starts writing into the bucket: a full reconcile first. */
  attach(kv: KV): void {
    this.kv = kv;
    this.full = true;
    this.kick();
    this.timer = setInterval(() => {
      this.full = true;
      this.kick();
    }, this.intervalMs);
    this.timer.unref();
  }

  container(action: string, c: { id: string }): void {
    if (!CHANGES.has(action) && !(RUN_CHANGES.has(action) && reschedulesOnNodeFailure(this.opts.inspect(c.id)?.config?.labels))) return;
    this.dirty.add(c.id);
    this.kick();
  }

  /** Resolves once everything noted so far is written (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private kick(): void {
    if (this.running || !this.kv || this.closed) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if ((this.dirty.size > 0 || this.full) && !this.failing) this.kick();
    });
  }

  private async drain(): Promise<void> {
    const kv = this.kv!;
    while (!this.closed && (this.full || this.dirty.size > 0)) {
      const full = this.full;
      const ids = [...this.dirty];
      this.full = false;
      this.dirty.clear();
      try {
        if (full) await this.reconcile(kv);
        else await this.write(kv, ids);
        if (this.failing) this.log.info('directory writes recovered');
        this.failing = false;
      } catch (err) {
        if (!this.failing) this.log.warn({ err }, 'directory write failed; retrying with a full reconcile');
        this.failing = true;
        this.full = true;
        setTimeout(() => {
          this.failing = false;
          this.kick();
        }, 2000).unref();
        return;
      }
    }
  }

  private record(cur: NodeRecord | undefined): NodeRecord {
    return { ...(cur ?? emptyRecord(this.opts.nodeId)), nodeId: this.opts.nodeId, name: this.opts.nodeName, containers: { ...(cur?.containers ?? {}) } };
  }

  private async write(kv: KV, ids: string[]): Promise<void> {
    await mutateJson<NodeRecord>(kv, nodeKey(this.opts.nodeId), (cur) => {
      const next = this.record(cur);
      for (const id of ids) {
        const c = this.opts.inspect(id);
        if (!c?.id) {
          delete next.containers[id];
          continue;
        }
        const entry = directoryEntry(c);
        const reservation = entry.requestId ? next.containers[entry.requestId] : undefined;
        next.containers[id] = keepMarks(entry, next.containers[id] ?? reservation);
        if (entry.requestId) delete next.containers[entry.requestId];
      }
      return finish(cur, next);
    });
  }

  private async reconcile(kv: KV): Promise<void> {
    const local = new Map<string, PlacedContainer>();
    for (const id of this.opts.ids()) {
      const c = this.opts.inspect(id);
      if (c?.id) local.set(c.id, directoryEntry(c));
    }
    const placedBy = new Set([...local.values()].map((e) => e.requestId).filter(Boolean));
    // local containers rescheduled away: their names are their replacements' now (reschedule-agent.ts removes them)
    const away = new Set<string>();
    await mutateJson<NodeRecord>(kv, nodeKey(this.opts.nodeId), (cur) => {
      away.clear();
      for (const [id, e] of Object.entries(cur?.containers ?? {})) if (e.rescheduledTo) away.add(id);
      const next = this.record(cur);
      next.containers = {};
      // reservations without a container yet (a Place whose create is under way) stay
      for (const [key, e] of Object.entries(cur?.containers ?? {})) if (!e.id && !placedBy.has(key)) next.containers[key] = e;
      for (const [id, e] of local) next.containers[id] = keepMarks(e, cur?.containers[id] ?? (e.requestId ? cur?.containers[e.requestId] : undefined));
      return finish(cur, next);
    });
    // names, on the first reconcile and every tenth (they change with the verbs that release them):
    // every local container holds its own; claims of this node for gone containers go
    if (this.reconciles++ % 10 !== 0) return;
    for (const e of local.values()) {
      if (!e.name || !e.id || away.has(e.id)) continue;
      const holder = await this.opts.names.take(e.name, e.id);
      if (holder) this.log.error({ containerId: e.id, name: e.name, holder }, 'container name is held by another container of the cluster');
    }
    const keys: string[] = [];
    for await (const k of await kv.keys(NAME_KEYS)) keys.push(k);
    for (const key of keys) {
      const claim = await getJson<NameClaim>(kv, key);
      if (claim && claim.value.nodeId === this.opts.nodeId && !local.has(claim.value.id)) await this.opts.names.release(claim.value.name, claim.value.id);
    }
  }
}

function finish(cur: NodeRecord | undefined, next: NodeRecord): NodeRecord | typeof unchanged {
  if (cur && JSON.stringify(cur.containers) === JSON.stringify(next.containers) && cur.name === next.name) return unchanged;
  return { ...next, updatedAt: Date.now() };
}

/** Opens (or creates) the directory bucket, retrying until NATS answers or `stopped()` says to give up. */
export async function openDirectory(nc: NatsConnection, replicas: number, logger: Logger, stopped: () => boolean): Promise<KV | undefined> {
  for (let attempt = 0; !stopped(); attempt++) {
    try {
      return await nc.jetstream({ timeout: 5000 }).views.kv(DIRECTORY_BUCKET, { history: 1, replicas });
    } catch (err) {
      if (attempt % 10 === 0) logger.warn({ err }, 'container directory bucket not opened; retrying');
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  return undefined;
}
