import type { Logger } from '@drydock/logging';
import type { PlacedContainer, RescheduledTo } from '../placement/types';
import type { NodeRecord } from '@drydock/cluster';
import type { PlaceInput, Placement } from './placer';
import type { Mutation } from './record-writer';

/** What the rescheduler needs of the rest of the scheduler. */
export interface ReschedulerBackend {
  /** Node records of nodes that are down now (no heartbeat for the down delay). */
  downRecords(): Array<{ nodeId: string; record: NodeRecord }>;
  place(input: PlaceInput, extra: Partial<PlacedContainer>): Promise<Placement>;
  mutate<T>(nodeId: string, m: Mutation<T>): Promise<T>;
}

export interface ReschedulerOptions {
  backend: ReschedulerBackend;
  logger: Logger;
  intervalMs: number;
}

/**
 * The request id of an entry's replacement: the same for every scheduler, so two schedulers
 * rescheduling one container at once complete one claim (placer.ts) and agree on its node.
 * Request ids are [A-Za-z0-9_-]{1,128}: long keys are cut, keeping their end unique enough.
 */
export function replacementRequestId(nodeId: string, key: string): string {
  const base = `${key}-rs-${nodeId.replace(/[^A-Za-z0-9_-]/g, '')}`;
  return base.length <= 128 ? base : base.slice(base.length - 128);
}

/** The old entry marked with its replacement, unless it already has one (then no change). */
export function markRescheduled(key: string, to: RescheduledTo): Mutation<RescheduledTo | undefined> {
  return (record) => {
    const entry = record.containers[key];
    if (!entry) return { outcome: undefined };
    if (entry.rescheduledTo) return { outcome: entry.rescheduledTo };
    return { next: { ...record, containers: { ...record.containers, [key]: { ...entry, rescheduledTo: to } }, updatedAt: Date.now() }, outcome: to };
  };
}

/**
 * Classic Swarm's rescheduling (cluster/watchdog.go), as a decision in the directory: every
 * interval, for each node that is down, each of its entries that opted in (`reschedule:
 * on-node-failure`) and has no replacement yet gets one, placed like a new container with the
 * entry's resources and stored expressions (never on the down node: it fails the health
 * filter), then recorded on the old entry (`rescheduledTo`) with a revision-checked write.
 * Creating the container on the new node, and removing the stale copy when the lost node comes
 * back, is the gateway's part.
 */
export class Rescheduler {
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private running = false;
  private readonly inFlight = new Set<string>();

  constructor(private readonly opts: ReschedulerOptions) {
    this.log = opts.logger.child({ component: 'rescheduler' });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One pass over the down nodes; resolves when its decisions are recorded. */
  async sweep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const work: Promise<void>[] = [];
      for (const { nodeId, record } of this.opts.backend.downRecords()) {
        for (const [key, entry] of Object.entries(record.containers)) {
          const e = entry;
          if (e.reschedule !== 'on-node-failure' || e.rescheduledTo) continue;
          const id = `${nodeId}/${key}`;
          if (this.inFlight.has(id)) continue;
          this.inFlight.add(id);
          work.push(this.reschedule(nodeId, key, e).finally(() => this.inFlight.delete(id)));
        }
      }
      await Promise.all(work);
    } finally {
      this.running = false;
    }
  }

  private async reschedule(nodeId: string, key: string, e: PlacedContainer): Promise<void> {
    const requestId = replacementRequestId(nodeId, key);
    try {
      const p = await this.opts.backend.place(
        {
          requestId,
          name: e.name,
          image: e.image,
          // the expressions are in the labels, as the first placement stored them
          env: [],
          labels: e.labels ?? {},
          memoryBytes: e.memoryBytes,
          nanoCpus: e.nanoCpus,
          ports: e.ports,
          networkMode: e.hostNetwork ? 'host' : '',
          exposedPorts: e.exposedPorts ?? [],
          links: [],
          volumesFrom: [],
        },
        { rescheduledFrom: { nodeId, key }, reschedule: 'on-node-failure' },
      );
      const to = await this.opts.backend.mutate(nodeId, markRescheduled(key, { nodeId: p.nodeId, nodeName: p.nodeName, requestId, time: Date.now() }));
      this.log.info({ from: nodeId, key, to: to?.nodeId, requestId }, 'container rescheduled');
    } catch (err) {
      this.log.warn({ err, from: nodeId, key }, 'container not rescheduled; trying again');
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
