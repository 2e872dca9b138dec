import type { KV } from 'nats';
import { errorCode } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { supervisorV1 } from '@drydock/proto';
import { getJson, nodeKey, reschedulesOnNodeFailure, SWARM_ID_LABEL, type NodeRecord, type PlacedContainer } from '@drydock/cluster';

/** The container verbs the agent uses (the ContainerManager's). */
export interface RescheduleContainers {
  ids(): string[];
  inspect(id: string): supervisorV1.ContainerInfo | undefined;
  create(req: supervisorV1.CreateContainerRequest): Promise<{ id: string }>;
  start(id: string): Promise<boolean>;
  remove(id: string, opts: { force: boolean }): Promise<void>;
  /** Pulls an image through the node's registry-proxy (a replacement's node may lack it). */
  pull(ref: string): Promise<void>;
}

/** The name registry's hand-over (kv-names.ts). */
export interface NameSuccession {
  succeed(name: string, from: { id: string; nodeId: string }): () => void;
}

export interface RescheduleAgentOptions {
  nodeId: string;
  directory: () => KV | undefined;
  containers: RescheduleContainers;
  names: NameSuccession;
  logger: Logger;
  /** How often this node's record is read. Default 1 s. */
  intervalMs?: number;
}

/**
 * This node's part of classic Swarm's rescheduling (cluster/watchdog.go), driven by its own
 * record in the directory, where the scheduler's decisions land (apps/scheduler
 * cluster/rescheduler.ts):
 * - a reservation with `rescheduledFrom` and no container yet is a lost node's container to
 *   make here: created from the create request kept in KV (the reservation's copy, else the
 *   lost entry's), taking its name over at the name claim's revision, labelled with the
 *   reservation's request id (so the directory sync replaces the reservation, and a crash
 *   after the create finds the container instead of making a second), started if it ran;
 * - a container of this node whose entry carries `rescheduledTo` was made again elsewhere
 *   while this node was lost: it is removed (killed if running), and `restartGate` keeps a
 *   restart policy from starting it first, at boot or after an exit.
 * One scheduler decision, one reservation on one node: two schedulers never cause two creates.
 */
export class RescheduleAgent {
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private closed = false;
  /** Failures already logged, by reservation or container (logged once, retried every tick). */
  private readonly reported = new Set<string>();

  constructor(private readonly opts: RescheduleAgentOptions) {
    this.log = opts.logger.child({ component: 'reschedule-agent' });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
    void this.tick();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  /** One pass over this node's record; concurrent calls share the pass under way. */
  tick(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * The restart gate (container-context.ts): a container that opted in is restarted by its
   * policy only once this node's record is read and does not say it was rescheduled away.
   * Until the directory answers it waits (never two running copies); others pass at once.
   */
  readonly restartGate = async (id: string, labels: Record<string, string>): Promise<boolean> => {
    if (!reschedulesOnNodeFailure(labels)) return true;
    for (let attempt = 0; !this.closed; attempt++) {
      const kv = this.opts.directory();
      try {
        if (kv) {
          const entry = (await getJson<NodeRecord>(kv, nodeKey(this.opts.nodeId)))?.value.containers[id];
          if (entry?.rescheduledTo) this.log.warn({ containerId: id, to: entry.rescheduledTo.nodeName }, 'not restarting a container rescheduled to another node');
          return !entry?.rescheduledTo;
        }
      } catch (err) {
        if (attempt % 10 === 0) this.log.warn({ err, containerId: id }, 'restart waits for the container directory');
      }
      if (attempt === 0 && !kv) this.log.info({ containerId: id }, 'restart waits for the container directory');
      await new Promise((r) => setTimeout(r, 1000));
    }
    return false;
  };

  private async pass(): Promise<void> {
    const kv = this.opts.directory();
    if (!kv || this.closed) return;
    let record: NodeRecord | undefined;
    try {
      record = (await getJson<NodeRecord>(kv, nodeKey(this.opts.nodeId)))?.value;
    } catch (err) {
      this.once('read', () => this.log.warn({ err }, 'node record not read; retrying'));
      return;
    }
    this.reported.delete('read');
    for (const [key, e] of Object.entries(record?.containers ?? {})) {
      if (this.closed) return;
      if (e.rescheduledTo && e.id) await this.removeStale(e.id, e);
      else if (e.rescheduledFrom && !e.id) await this.replace(kv, key, e);
    }
  }

  private async removeStale(id: string, e: PlacedContainer): Promise<void> {
    if (!this.opts.containers.inspect(id)) return;
    try {
      this.log.warn({ containerId: id, name: e.name, to: e.rescheduledTo!.nodeName }, 'removing the stale copy of a container rescheduled while this node was lost');
      await this.opts.containers.remove(id, { force: true });
    } catch (err) {
      this.once(id, () => this.log.error({ err, containerId: id }, 'stale copy of a rescheduled container not removed; retrying'));
    }
  }

  private async replace(kv: KV, requestId: string, e: PlacedContainer): Promise<void> {
    const from = e.rescheduledFrom!;
    try {
      let { create, running } = e;
      if (create === undefined) {
        const old = (await getJson<NodeRecord>(kv, nodeKey(from.nodeId)))?.value.containers[from.key];
        ({ create, running } = old ?? {});
      }
      // made already (a crash after the create, or a write of the directory still to come): only a start may be owed
      const made = this.opts.containers.ids().find((id) => this.opts.containers.inspect(id)?.config?.labels?.[SWARM_ID_LABEL] === requestId);
      if (made) {
        if (running && this.opts.containers.inspect(made)?.state?.status === 'created') await this.opts.containers.start(made);
        return;
      }
      if (create === undefined) {
        this.once(requestId, () => this.log.error({ requestId, from: from.nodeId, key: from.key }, 'rescheduled container has no create request in the directory; cannot make it'));
        return;
      }
      const req = supervisorV1.CreateContainerRequest.fromJSON(create);
      const name = e.name || req.name || '';
      req.name = name;
      req.config = { ...(req.config ?? {}), labels: { ...(req.config?.labels ?? {}), [SWARM_ID_LABEL]: requestId } };
      const undo = name ? this.opts.names.succeed(name, { id: from.key, nodeId: from.nodeId }) : () => undefined;
      let id: string;
      try {
        try {
          ({ id } = await this.opts.containers.create(req));
        } catch (err) {
          // as the gateway does for a placed create: the node lacks the image, pulls it, tries once more
          if (errorCode(err) !== 'NOT_FOUND' || !/^No such image/.test((err as Error).message) || !req.config?.image) throw err;
          await this.opts.containers.pull(req.config.image);
          ({ id } = await this.opts.containers.create(req));
        }
      } finally {
        undo();
      }
      if (running) await this.opts.containers.start(id);
      this.reported.delete(requestId);
      this.log.info({ containerId: id, name, requestId, from: from.nodeId, started: !!running }, 'rescheduled container created');
    } catch (err) {
      this.once(requestId, () => this.log.error({ err, requestId, name: e.name, from: from.nodeId }, 'rescheduled container not created; retrying'));
    }
  }

  private once(key: string, report: () => void): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    report();
  }
}
