import { randomBytes } from 'node:crypto';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { KV } from 'nats';
import { errorCode, fromGrpcError, InternalError, UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { schedulerV1, type supervisorV1 } from '@drydock/proto';
import { extractPlacement, mutateJson, nodeKey, parseExprs, SWARM_ID_LABEL, unchanged, type NodeRecord } from '@drydock/cluster';
import { PLUGIN_CALL_TIMEOUT_MS, type SupervisorClient } from '../backend/supervisor-client';

/** Where a create goes, with the request as that node must get it. */
export interface CreateTarget {
  sc: SupervisorClient;
  request: supervisorV1.CreateContainerRequest;
  /** Gives back what was reserved for a create that then failed. */
  failed(): Promise<void>;
}

/**
 * Creates on the target. A placed node that lacks the image pulls it (through its
 * registry-proxy, the cluster's one upstream fetch) and the create is tried once more: the
 * CLI's own pull after a "No such image" would go to the node it talks to, not there.
 * Whatever fails gives the reservation back.
 */
export async function createOn(t: CreateTarget, local: SupervisorClient): Promise<supervisorV1.CreateContainerResponse> {
  // a volume plugin's Create may take its full deadline
  const create = () => t.sc.call(t.sc.containers, t.sc.containers.createContainer, t.request, PLUGIN_CALL_TIMEOUT_MS);
  try {
    try {
      return await create();
    } catch (err) {
      if (t.sc === local || errorCode(err) !== 'NOT_FOUND' || !/^No such image/.test((err as Error).message) || !t.request.config?.image) throw err;
      await pullOn(t.sc, t.request.config.image);
      return await create();
    }
  } catch (err) {
    await t.failed();
    throw err;
  }
}

/** A pull on a node's supervisor, its progress read to the end. */
async function pullOn(sc: SupervisorClient, ref: string): Promise<void> {
  const call = sc.images.pullImage({ ref: /[:@]/.test(ref.split('/').pop() ?? '') ? ref : `${ref}:latest`, platform: '', registryAuth: '', allTags: false }, new Metadata());
  try {
    // a failed pull ends the stream with its error
    for await (const _ of call as AsyncIterable<supervisorV1.ImageProgress>) void _;
  } catch (err) {
    throw fromGrpcError(err);
  }
}

/** How the create route chooses its node; absent on a single node (always the local one). */
export interface CreatePlacement {
  target(req: supervisorV1.CreateContainerRequest): Promise<CreateTarget>;
}

/** The scheduler's Place as the gateway calls it (a fake in unit tests). */
export type PlaceFn = (req: schedulerV1.PlaceRequest, timeoutMs: number) => Promise<schedulerV1.PlaceResponse>;

export interface SchedulerPlacementOptions {
  local: SupervisorClient;
  localNodeId: () => Promise<string | undefined>;
  place: PlaceFn;
  /** A client for a node's supervisor address (the locator's, so one per node). */
  connect: (address: string) => SupervisorClient;
  /** The directory bucket (to give back the reservation of a create that failed). */
  directory: () => KV | undefined;
  /** Whether this gateway's view has the node down (false: up or unknown). */
  nodeDown?: (nodeId: string) => boolean;
  /** How long Place is retried while the scheduler is unavailable (restarting). */
  retryForMs: number;
  callTimeoutMs: number;
  logger: Logger;
}

/**
 * The roadmap's rule in a cluster: a create stays on this node unless it asks for placement
 * (classic Swarm's `-e constraint:`/`affinity:`/`reschedule:`/`whitelist:` or the
 * com.docker.swarm.* labels); only then is the scheduler asked. Each create has one request
 * id, reused by every retry, so a scheduler killed mid-Place never places it twice (the
 * scheduler completes a claim it finds for that id). The expressions leave the env as Swarm
 * removed them, and the request id rides on the container as Swarm's com.docker.swarm.id.
 */
export class SchedulerPlacement implements CreatePlacement {
  private readonly log: Logger;

  constructor(private readonly opts: SchedulerPlacementOptions) {
    this.log = opts.logger.child({ component: 'placement' });
  }

  async target(req: supervisorV1.CreateContainerRequest): Promise<CreateTarget> {
    const config = req.config ?? {};
    const hc = req.hostConfig ?? {};
    // malformed labels, policies and expressions are the client's: 400 before anything is reserved
    const ask = extractPlacement(config.env ?? [], config.labels ?? {});
    if (!ask.placementAsked && ask.whitelists.length === 0 && ask.reschedulePolicies.length === 0) return { sc: this.opts.local, request: req, failed: async () => undefined };
    parseExprs(ask.constraints);
    parseExprs(ask.affinities);
    parseExprs(ask.whitelists);
    const requestId = randomBytes(16).toString('hex');
    const placed = await this.placeWithRetry({
      requestId,
      name: req.name ?? '',
      image: config.image ?? '',
      env: config.env ?? [],
      labels: config.labels ?? {},
      memoryBytes: hc.memory ?? '0',
      nanoCpus: hc.nanoCpus ?? '0',
      portBindings: Object.entries(hc.portBindings ?? {}).flatMap(([containerPort, l]) => (l.bindings ?? []).map((b) => ({ containerPort, hostIp: b.hostIp ?? '', hostPort: b.hostPort ?? '' }))),
      networkMode: hc.networkMode ?? '',
      exposedPorts: config.exposedPorts ?? [],
      links: hc.links ?? [],
      volumesFrom: hc.volumesFrom ?? [],
    });
    const nodeId = placed.nodeId ?? '';
    const local = nodeId === (await this.opts.localNodeId());
    // a scheduler whose view lags may still place on a node this gateway has seen go down: a create
    // there would wait out its whole deadline, so fail at once (the request id makes a retry safe)
    if (!local && this.opts.nodeDown?.(nodeId)) {
      await this.release(nodeId, requestId);
      throw new UnavailableError(`the container was placed on node ${placed.nodeName || nodeId}, which is down; retry`);
    }
    const sc = local ? this.opts.local : this.opts.connect(placed.supervisorAddress ?? '');
    this.log.debug({ requestId, nodeId, node: placed.nodeName }, 'placed');
    return {
      sc,
      request: { ...req, config: { ...config, env: placed.env ?? [], labels: { ...(placed.labels ?? {}), [SWARM_ID_LABEL]: requestId } } },
      failed: () => this.release(nodeId, requestId),
    };
  }

  private async placeWithRetry(req: schedulerV1.PlaceRequest): Promise<schedulerV1.PlaceResponse> {
    const deadline = Date.now() + this.opts.retryForMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.opts.place(req, this.opts.callTimeoutMs);
      } catch (err) {
        const code = errorCode(err);
        // no node fits: classic Swarm answered its create errors with 500 (a conflict with 409)
        if (code === 'FAILED_PRECONDITION') throw new InternalError((err as Error).message, { cause: err });
        if ((code !== 'UNAVAILABLE' && code !== 'DEADLINE_EXCEEDED') || Date.now() >= deadline) throw err;
        if (attempt === 0) this.log.warn({ err, requestId: req.requestId }, 'scheduler unavailable; retrying the placement');
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  }

  /** The reservation Place made, given back (the supervisor never saw a container for it). */
  private async release(nodeId: string, requestId: string): Promise<void> {
    const kv = this.opts.directory();
    if (!kv || !nodeId) return;
    await mutateJson<NodeRecord>(kv, nodeKey(nodeId), (cur) => {
      if (!cur?.containers[requestId] || cur.containers[requestId].id) return unchanged;
      const containers = { ...cur.containers };
      delete containers[requestId];
      return { ...cur, containers, updatedAt: Date.now() };
    }).catch((err) => this.log.warn({ err, requestId, nodeId }, 'reservation of a failed create not given back'));
  }
}

/** Place over gRPC against one scheduler address, as a PlaceFn; the deadline covers one attempt. */
export function grpcPlace(address: string): { place: PlaceFn; close: () => void } {
  const client = new schedulerV1.SchedulerClient(address, credentials.createInsecure(), { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 });
  return {
    place: (req, timeoutMs) =>
      new Promise((resolve, reject) => {
        client.place(req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err: ServiceError | null, res: schedulerV1.PlaceResponse) => (err ? reject(fromGrpcError(err)) : resolve(res)));
      }),
    close: () => client.close(),
  };
}
