import type { KV } from 'nats';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { extractPlacement } from '@drydock/cluster';
import { selectNodes } from '../placement/select';
import type { Strategy } from '../placement/strategies';
import type { PlacedContainer, PlacementSpec, PublishedPort } from '../placement/types';
import { claimKey, emptyRecord, nodeKey, REQUEST_ID, type NodeRecord, type PlacementClaim } from '@drydock/cluster';
import { encodeJson, getJson, isRevisionConflict, isTransientKvError } from '@drydock/cluster';
import type { NodeInfo, NodeView } from './node-view';

/** What Place is given: the part of a container's create request placement reads. */
export interface PlaceInput {
  requestId: string;
  name?: string;
  image?: string;
  env: string[];
  labels: Record<string, string>;
  memoryBytes: number;
  nanoCpus: number;
  ports: PublishedPort[];
  networkMode: string;
  exposedPorts: string[];
  links: string[];
  volumesFrom: string[];
}

export interface Placement {
  nodeId: string;
  nodeName: string;
  supervisorAddress: string;
  /** The env without placement expressions, and the labels holding them (what the container is created with). */
  env: string[];
  labels: Record<string, string>;
  rescheduleOnNodeFailure: boolean;
}

export interface PlacerOptions {
  directory: KV;
  view: NodeView;
  strategy: Strategy;
  logger: Logger;
  /** Commit attempts before giving up (each lost race re-reads and decides again). */
  maxAttempts?: number;
}

/**
 * Places containers with optimistic concurrency (Nomad's way, on KV revisions): decide on the
 * watched view, then commit with revision-checked writes and decide again on fresh data when a
 * write loses. A request first claims its node (`req.<id>`, created once), then reserves on
 * that node's record. Whoever finds a claim, a retry or a second scheduler, completes it
 * (rolls forward) instead of choosing anew, so a request lands on one node only, and a node's
 * reservations are serialised by its record's revision, so it is never overcommitted.
 */
export class Placer {
  private readonly log: Logger;
  private readonly maxAttempts: number;
  /** Reservations this scheduler decided but has not seen committed: a burst of requests is spread, not piled on one node. */
  private readonly pending = new Map<string, Map<string, PlacedContainer>>();

  constructor(private readonly opts: PlacerOptions) {
    this.log = opts.logger.child({ component: 'placer' });
    this.maxAttempts = opts.maxAttempts ?? 50;
  }

  async place(input: PlaceInput): Promise<Placement> {
    try {
      return await this.placeOnce(input);
    } catch (err) {
      // JetStream between leaders (a NATS server lost): the caller retries with the same request id,
      // which completes the claim this attempt may have left
      if (isTransientKvError(err)) throw new UnavailableError('the container directory has no leader (a NATS server was lost); retry', { cause: err });
      throw err;
    } finally {
      for (const [nodeId, held] of this.pending) if (held.delete(input.requestId) && held.size === 0) this.pending.delete(nodeId);
    }
  }

  private hold(nodeId: string, entry: PlacedContainer): void {
    let held = this.pending.get(nodeId);
    if (!held) this.pending.set(nodeId, (held = new Map()));
    held.set(entry.requestId!, entry);
  }

  private async placeOnce(input: PlaceInput): Promise<Placement> {
    if (!REQUEST_ID.test(input.requestId)) throw new InvalidArgumentError(`invalid request id ${JSON.stringify(input.requestId)}: expected 1 to 128 of [A-Za-z0-9_-]`);
    const ask = extractPlacement(input.env, input.labels);
    const spec: PlacementSpec = {
      name: input.name,
      image: input.image,
      constraints: ask.constraints,
      affinities: ask.affinities,
      whitelists: ask.whitelists,
      memoryBytes: input.memoryBytes,
      nanoCpus: input.nanoCpus,
      ports: input.ports,
      networkMode: input.networkMode,
      exposedPorts: input.exposedPorts,
      links: input.links,
      volumesFrom: input.volumesFrom,
      labels: ask.labels,
    };
    const entry: PlacedContainer = {
      requestId: input.requestId,
      name: input.name || undefined,
      image: input.image || undefined,
      labels: ask.labels,
      memoryBytes: input.memoryBytes,
      nanoCpus: input.nanoCpus,
      ports: input.ports,
      hostNetwork: input.networkMode === 'host' || undefined,
      exposedPorts: input.networkMode === 'host' ? input.exposedPorts : undefined,
    };
    const done = (n: NodeInfo): Placement => ({
      nodeId: n.node.id,
      nodeName: n.node.name,
      supervisorAddress: n.node.supervisorAddress,
      env: ask.env,
      labels: ask.labels,
      rescheduleOnNodeFailure: ask.rescheduleOnNodeFailure,
    });
    const kv = this.opts.directory;
    const key = claimKey(input.requestId);
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const claim = await getJson<PlacementClaim>(kv, key);
      if (!claim) {
        const chosen = this.choose(spec, this.opts.view.list());
        this.hold(chosen, entry);
        try {
          await kv.create(key, encodeJson({ requestId: input.requestId, nodeId: chosen, time: Date.now() } satisfies PlacementClaim));
        } catch (err) {
          if (!isRevisionConflict(err)) throw err;
        }
        continue; // completed below, by this scheduler or whichever finds the claim
      }
      const nodeId = claim.value.nodeId;
      const fresh = await getJson<NodeRecord>(kv, nodeKey(nodeId));
      const record = fresh?.value ?? emptyRecord(nodeId);
      const info = this.opts.view.info(nodeId, record);
      if (record.containers[input.requestId]) return done(info);
      let fitsThere = true;
      try {
        selectNodes(spec, [info.node], this.opts.strategy);
      } catch {
        fitsThere = false;
      }
      if (!fitsThere) {
        // The claimed node filled up (or went down, or was drained) before the reservation: choose again, or give up cleanly.
        const others = this.opts.view.list().map((n) => (n.node.id === nodeId ? info : n));
        let next: string;
        try {
          next = this.choose(spec, others);
        } catch (err) {
          await kv.delete(key, { previousSeq: claim.revision }).catch((e) => this.log.debug({ err: e, requestId: input.requestId }, 'claim not withdrawn'));
          throw err;
        }
        await kv.update(key, encodeJson({ ...claim.value, nodeId: next, time: Date.now() }), claim.revision).catch((err) => {
          if (!isRevisionConflict(err)) throw err;
        });
        continue;
      }
      const updated: NodeRecord = { ...record, nodeId, name: info.node.name, containers: { ...record.containers, [input.requestId]: entry }, updatedAt: Date.now() };
      try {
        const revision = fresh ? await kv.update(nodeKey(nodeId), encodeJson(updated), fresh.revision) : await kv.create(nodeKey(nodeId), encodeJson(updated));
        this.opts.view.noteRecord(updated, revision);
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
        continue;
      }
      // A second scheduler may have moved the claim meanwhile: only the claimed node keeps the reservation.
      const now = await getJson<PlacementClaim>(kv, key);
      if (now?.value.nodeId === nodeId) {
        this.log.debug({ requestId: input.requestId, nodeId, attempt }, 'placed');
        return done(this.opts.view.info(nodeId, updated));
      }
      await this.release(nodeId, input.requestId);
    }
    throw new UnavailableError(`placement of request ${input.requestId} lost ${this.maxAttempts} races in a row; retry`);
  }

  /** Sets or clears a node's drain flag (revision-checked, as every record change). */
  async drain(ref: string, drained: boolean): Promise<NodeInfo> {
    const nodeId = this.opts.view.resolve(ref);
    if (!nodeId) throw new NotFoundError(`node ${ref} not found`);
    const kv = this.opts.directory;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const fresh = await getJson<NodeRecord>(kv, nodeKey(nodeId));
      const name = this.opts.view.info(nodeId).node.name;
      const updated: NodeRecord = { ...(fresh?.value ?? emptyRecord(nodeId)), name, drained, updatedAt: Date.now() };
      try {
        const revision = fresh ? await kv.update(nodeKey(nodeId), encodeJson(updated), fresh.revision) : await kv.create(nodeKey(nodeId), encodeJson(updated));
        this.opts.view.noteRecord(updated, revision);
        this.log.info({ nodeId, drained }, drained ? 'node drained' : 'node active');
        return this.opts.view.info(nodeId, updated);
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
      }
    }
    throw new UnavailableError(`drain of node ${ref} lost ${this.maxAttempts} races in a row; retry`);
  }

  private choose(spec: PlacementSpec, nodes: NodeInfo[]): string {
    const withHeld = nodes.map((n) => {
      const held = [...(this.pending.get(n.node.id)?.values() ?? [])].filter((c) => !n.node.containers.some((x) => x.requestId === c.requestId));
      if (held.length === 0) return n.node;
      return { ...n.node, containers: [...n.node.containers, ...held], containerCount: n.node.containerCount + held.length };
    });
    return selectNodes(spec, withHeld, this.opts.strategy)[0].id;
  }

  private async release(nodeId: string, requestId: string): Promise<void> {
    const kv = this.opts.directory;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const fresh = await getJson<NodeRecord>(kv, nodeKey(nodeId));
      if (!fresh?.value.containers[requestId]) return;
      const containers = { ...fresh.value.containers };
      delete containers[requestId];
      try {
        await kv.update(nodeKey(nodeId), encodeJson({ ...fresh.value, containers, updatedAt: Date.now() }), fresh.revision);
        return;
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
      }
    }
  }
}
