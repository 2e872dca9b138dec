import type { PlacedContainer } from '../placement/types';

/**
 * The KV buckets of the cluster, as the scheduler reads and writes them.
 *
 * `drydock_nodes` (written by each node's supervisor, apps/containerd-supervisor/src/node/heartbeat.ts):
 *   key `<nodeId>` -> NodeHeartbeat JSON, every 5 s; the bucket's max age (15 s) drops a silent node,
 *   a graceful stop deletes its key. The scheduler calls a node down 8 s after its last beat.
 *
 * `drydock_containers`, the container directory (no max age, one value per key):
 *   key `node.<nodeId>` -> NodeRecord JSON: the node's drain flag and every container the cluster
 *     knows on it with what it reserves. Every change is an update at the revision read, so all
 *     reservations on one node are serialised: two writers never overcommit it, and a placement
 *     decided before a drain fails its commit and is decided again.
 *   key `req.<requestId>` -> PlacementClaim JSON: which node a Place request went to. Created
 *     once (create fails if it exists), changed only at the revision read: one request is never
 *     placed on two nodes, whichever scheduler handles it or how often it is retried.
 *     A claim moves away from a node (the node no longer fits the request) only after that
 *     node's record carries a fence for the request at the claim's revision, written at a
 *     revision without the request: a scheduler still completing the old claim then finds
 *     the fence instead of adding the request there (placer.ts has the argument).
 * Later writers (the gateway when it creates a container, the supervisor for containers made
 * without the scheduler) fill `id`, `name`, `image` and the ports of entries keyed by container
 * id, with the same revision-checked update, keeping the fields they do not know (`fences`).
 *
 * Rescheduling (rescheduler.ts): an entry of a lost node with `reschedule: 'on-node-failure'`
 * gets `rescheduledTo: { nodeId, nodeName, requestId, time }` once its replacement is reserved;
 * the replacement is the entry keyed `requestId` in `node.<nodeId>`, carrying
 * `rescheduledFrom: { nodeId, key }` and the old entry's name, image, labels and resources.
 * Creating it there, and removing the stale copy when the lost node returns, is the gateway's.
 */
export const NODES_BUCKET = 'drydock_nodes';
export const DIRECTORY_BUCKET = 'drydock_containers';

export const nodeKey = (nodeId: string) => `node.${nodeId}`;
export const claimKey = (requestId: string) => `req.${requestId}`;

/** Request ids become KV key tokens: no dots, wildcards or spaces. */
export const REQUEST_ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface NodeRecord {
  nodeId: string;
  /** The node's name when the record was last written (kept for nodes whose heartbeat aged out). */
  name?: string;
  /** No new placements while set (`DrainNode`). */
  drained: boolean;
  /** By container id, or by request id until the container exists. */
  containers: Record<string, PlacedContainer>;
  /**
   * Requests whose claim moved away from this node, by request id: no reservation for them is
   * added here on a claim at or before `claimRevision`. Dropped after FENCE_KEEP_MS. Writers
   * that do not place (the gateway filling container ids) keep the field as they found it.
   */
  fences?: Record<string, Fence>;
  /** ms since the epoch. */
  updatedAt: number;
}

export interface Fence {
  /** The claim's revision that was replaced. */
  claimRevision: number;
  /** ms since the epoch, when it was written. */
  time: number;
}

/**
 * How long fences stay. A placement abandons a claim it read more than CLAIM_FRESH_MS ago
 * (it reads it again), so a fence outlives every attempt that could still act on the claim
 * it fences, with minutes to spare for clock differences between schedulers.
 */
export const FENCE_KEEP_MS = 5 * 60_000;
export const CLAIM_FRESH_MS = 30_000;

export interface PlacementClaim {
  requestId: string;
  nodeId: string;
  /** ms since the epoch. */
  time: number;
}

export function emptyRecord(nodeId: string, name?: string): NodeRecord {
  return { nodeId, name, drained: false, containers: {}, updatedAt: 0 };
}
