import { InvalidArgumentError, NotFoundError, UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { CLAIM_FRESH_MS, claimKey, encodeJson, extractPlacement, getJson, isRevisionConflict, isTransientKvError, REQUEST_ID, type NodeRecord, type PlacementClaim } from '@drydock/cluster';
import type { NodeIndex } from '../placement/node-index';
import { selectNodes } from '../placement/select';
import type { Strategy } from '../placement/strategies';
import type { PlacedContainer, PlacementSpec, PublishedPort } from '../placement/types';
import type { DirectoryKv } from './coalesced-kv';
import type { NodeInfo, NodeView } from './node-view';
import type { RecordWriter } from './record-writer';
import { decideReservation, type Reserved } from './reservation';

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
  directory: DirectoryKv;
  view: NodeView;
  index: NodeIndex;
  writer: RecordWriter;
  strategy: Strategy;
  logger: Logger;
  /** Decisions before giving up (each lost race or moved claim decides again). */
  maxAttempts?: number;
}

/** A claim as this scheduler last saw it, and when (monotonic ms): see CLAIM_FRESH_MS. */
interface Claim {
  nodeId: string;
  revision: number;
  seenAt: number;
}

type Held = PlacedContainer & { requestId: string };

/**
 * Places containers with optimistic concurrency (Nomad's way, on KV revisions): decide on the
 * watched view (NodeIndex), claim the request for that node (`req.<id>`, created once), then
 * reserve on the node's record at the revision the decision read (RecordWriter). The common
 * case is two KV writes and no read.
 *
 * Why one request never lands on two nodes, whoever handles it and however often:
 * - a reservation for request X is added to node N's record only on a claim X -> N, and only
 *   if N's record has no fence for X at that claim's revision or later;
 * - the claim leaves N (moved or withdrawn, when N no longer fits X) only after N's record
 *   got a fence for X at the claim's revision, written at a revision without X.
 * So if X is added to N, every move away from N comes after it and finds X there (its fence
 *   write fails on the revision and the re-read shows X: the mover completes on N instead), and
 *   if the claim has moved, every later attempt on N finds the fence. Fences are dropped after
 *   FENCE_KEEP_MS; an attempt acts on a claim only within CLAIM_FRESH_MS of reading it, and a
 *   mover moves only within CLAIM_FRESH_MS of its fence, so no attempt outlives its fence.
 * A node is never overcommitted because each reservation is checked against the record content
 * at exactly the revision it replaces.
 */
export class Placer {
  private readonly log: Logger;
  private readonly maxAttempts: number;

  constructor(private readonly opts: PlacerOptions) {
    this.log = opts.logger.child({ component: 'placer' });
    this.maxAttempts = opts.maxAttempts ?? 50;
  }

  /** `extra` adds fields to the directory entry (the rescheduler's `rescheduledFrom`). */
  async place(input: PlaceInput, extra?: Partial<PlacedContainer>): Promise<Placement> {
    try {
      return await this.placeOnce(input, extra);
    } catch (err) {
      // JetStream between leaders (a NATS server lost): the caller retries with the same request id,
      // which completes the claim this attempt may have left
      if (isTransientKvError(err)) throw new UnavailableError('the container directory has no leader (a NATS server was lost); retry', { cause: err });
      throw err;
    }
  }

  private async placeOnce(input: PlaceInput, extra?: Partial<PlacedContainer>): Promise<Placement> {
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
    const entry: Held = {
      ...extra,
      requestId: input.requestId,
      name: input.name || undefined,
      image: input.image || undefined,
      labels: ask.labels,
      memoryBytes: input.memoryBytes,
      nanoCpus: input.nanoCpus,
      ports: input.ports,
      hostNetwork: input.networkMode === 'host' || undefined,
      exposedPorts: input.networkMode === 'host' ? input.exposedPorts : undefined,
      reschedule: ask.rescheduleOnNodeFailure || extra?.reschedule ? 'on-node-failure' : undefined,
    };
    const done = (nodeId: string): Placement => {
      const n = this.opts.view.describe(nodeId);
      return { nodeId, nodeName: n.name, supervisorAddress: n.supervisorAddress, env: ask.env, labels: ask.labels, rescheduleOnNodeFailure: ask.rescheduleOnNodeFailure };
    };
    // Reservations decided and not yet committed count in later decisions: a burst is spread, not piled on one node.
    const heldOn = new Set<string>();
    const hold = (nodeId: string) => {
      heldOn.add(nodeId);
      this.opts.index.hold(nodeId, entry);
    };
    const unhold = (nodeId: string) => {
      heldOn.delete(nodeId);
      this.opts.index.unhold(nodeId, entry.requestId);
    };
    const kv = this.opts.directory;
    const key = claimKey(input.requestId);
    try {
      let claim: Claim | undefined;
      for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
        if (!claim) {
          let chosen: string;
          try {
            chosen = this.choose(spec);
          } catch (err) {
            // nothing fits now; a retry of a request already placed still completes its claim
            claim = await this.readClaim(key);
            if (!claim) throw err;
            continue;
          }
          hold(chosen);
          try {
            const revision = await kv.create(key, encodeJson({ requestId: input.requestId, nodeId: chosen, time: Date.now() } satisfies PlacementClaim));
            claim = { nodeId: chosen, revision, seenAt: performance.now() };
          } catch (err) {
            if (!isRevisionConflict(err)) throw err;
            // a retry, or the same request on another scheduler: complete its claim
            unhold(chosen);
            claim = await this.readClaim(key);
            continue;
          }
        }
        const c = claim;
        if (!heldOn.has(c.nodeId)) hold(c.nodeId);
        const outcome = await this.opts.writer.mutate<Reserved>(c.nodeId, (record) => this.reserve(record, c, entry, spec));
        if (outcome === 'placed' || outcome === 'present') {
          this.log.debug({ requestId: input.requestId, nodeId: c.nodeId, attempt, outcome }, 'placed');
          return done(c.nodeId);
        }
        unhold(c.nodeId);
        if (outcome === 'fenced' || outcome === 'stale') {
          claim = await this.readClaim(key);
          continue;
        }
        // no-fit: the node filled up, went down or was drained since the decision; it is fenced
        // for this claim now, so the claim may move (or be withdrawn, leaving nothing behind)
        const fencedAt = performance.now();
        let next: string;
        try {
          next = this.choose(spec);
        } catch (err) {
          if (performance.now() - fencedAt <= CLAIM_FRESH_MS) {
            await kv.delete(key, { previousSeq: c.revision }).catch((e) => this.log.debug({ err: e, requestId: input.requestId }, 'claim not withdrawn'));
          }
          throw err;
        }
        if (performance.now() - fencedAt > CLAIM_FRESH_MS) {
          claim = await this.readClaim(key);
          continue;
        }
        hold(next);
        try {
          const revision = await kv.update(key, encodeJson({ requestId: input.requestId, nodeId: next, time: Date.now() } satisfies PlacementClaim), c.revision);
          claim = { nodeId: next, revision, seenAt: performance.now() };
        } catch (err) {
          if (!isRevisionConflict(err)) throw err;
          unhold(next);
          claim = await this.readClaim(key);
        }
      }
      throw new UnavailableError(`placement of request ${input.requestId} lost ${this.maxAttempts} races in a row; retry`);
    } finally {
      for (const nodeId of heldOn) this.opts.index.unhold(nodeId, entry.requestId);
    }
  }

  private async readClaim(key: string): Promise<Claim | undefined> {
    const seenAt = performance.now();
    const c = await getJson<PlacementClaim>(this.opts.directory, key);
    return c && { nodeId: c.value.nodeId, revision: c.revision, seenAt };
  }

  /** The reservation's decision on a node's record (see the class comment for the fence rules). */
  private reserve(record: NodeRecord, claim: Claim, entry: Held, spec: PlacementSpec): { next?: NodeRecord; outcome: Reserved } {
    const info = this.opts.view.info(claim.nodeId, record);
    return decideReservation(record, entry, {
      claimRevision: claim.revision,
      sinceClaimMs: performance.now() - claim.seenAt,
      nodeName: info.node.name,
      now: Date.now(),
      fits: () => {
        try {
          selectNodes(spec, [info.node], this.opts.strategy);
          return true;
        } catch {
          return false;
        }
      },
    });
  }

  /** Sets or clears a node's drain flag (revision-checked, as every record change). */
  async drain(ref: string, drained: boolean): Promise<NodeInfo> {
    const nodeId = this.opts.view.resolve(ref);
    if (!nodeId) throw new NotFoundError(`node ${ref} not found`);
    const name = this.opts.view.info(nodeId).node.name;
    await this.opts.writer.mutate(nodeId, (record) => ({ next: { ...record, name, drained, updatedAt: Date.now() }, outcome: undefined }));
    this.log.info({ nodeId, drained }, drained ? 'node drained' : 'node active');
    return this.opts.view.info(nodeId);
  }

  /** The best node from the index; when none fits, selectNodes over the whole view says why, in Swarm's words. */
  private choose(spec: PlacementSpec): string {
    const fast = this.opts.index.choose(spec, this.opts.strategy.name);
    if (fast !== undefined) return fast;
    const nodes = this.opts.view.list().map((n) => {
      const held = this.opts.index.heldOn(n.node.id);
      if (held.length === 0) return n.node;
      return { ...n.node, containers: [...n.node.containers, ...held], containerCount: n.node.containerCount + held.length };
    });
    return selectNodes(spec, nodes, this.opts.strategy)[0].id;
  }
}
