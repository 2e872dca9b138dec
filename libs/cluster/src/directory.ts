/** A host port a container publishes (Docker's PortBinding, with its container port and protocol). */
export interface PublishedPort {
  /** "80/tcp" */
  containerPort: string;
  /** "" or an address; "" and 0.0.0.0/:: bind every interface. */
  hostIp: string;
  /** "" when Docker picks the port (then it blocks nothing until known). */
  hostPort: string;
}

/** What the scheduler knows of one container on a node (an entry of the container directory). */
export interface PlacedContainer {
  /** Full container id once the container exists; the request id stands in before. */
  id?: string;
  /** Name without the leading "/". */
  name?: string;
  image?: string;
  labels?: Record<string, string>;
  /** -m, bytes (0: none). */
  memoryBytes: number;
  /** --cpus in nano-CPUs (0: none). */
  nanoCpus: number;
  ports: PublishedPort[];
  /** --network host: its exposed ports are taken on the host. */
  hostNetwork?: boolean;
  exposedPorts?: string[];
  /** The Place request that reserved it, if any. */
  requestId?: string;
  /** `reschedule:on-node-failure` was asked (env or label): re-create it elsewhere when its node is lost. */
  reschedule?: 'on-node-failure';
  /** Its node was lost and the container is to be created again there (apps/scheduler/src/cluster/rescheduler.ts). */
  rescheduledTo?: RescheduledTo;
  /** This entry is the replacement of another node's entry. */
  rescheduledFrom?: RescheduledFrom;
  /**
   * Opted-in containers only (written by their supervisor, copied to a replacement's
   * reservation): the create request that makes the container again
   * (supervisorV1.CreateContainerRequest as JSON, its config as resolved at create), so a
   * replacement can be made after the node that knew it is gone.
   */
  create?: unknown;
  /** Opted-in containers only: whether it was running when last written (a replacement is then started). */
  running?: boolean;
}

/** Where a lost node's container is created again (on its entry in the lost node's record). */
export interface RescheduledTo {
  nodeId: string;
  nodeName: string;
  /** The Place request that reserved the replacement: the new node's record holds it under this key. */
  requestId: string;
  /** ms since the epoch. */
  time: number;
}

/** On the replacement's entry: which entry of which node it replaces. */
export interface RescheduledFrom {
  nodeId: string;
  key: string;
}

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
 * Creating it there (from `create`), and removing the stale copy when the lost node returns, is
 * the supervisors' (apps/containerd-supervisor/src/cluster/reschedule-agent.ts).
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

/**
 * `name.<base64url(name)>` in the directory bucket -> NameClaim: a container name taken in
 * the cluster. Created once (create fails if it exists), so two nodes never give one name;
 * deleted by its holder's node at the revision read (rm, rename, a create that failed).
 * The name is encoded because container names may hold dots, which KV keys split on.
 */
export const nameKey = (name: string) => `name.${Buffer.from(name, 'utf8').toString('base64url')}`;
export const NAME_KEYS = 'name.>';

export interface NameClaim {
  name: string;
  /** The full id of the container holding it. */
  id: string;
  nodeId: string;
  /** ms since the epoch. */
  time: number;
}

/**
 * The label that carries a placed container's Place request id (classic Swarm's per-container
 * `com.docker.swarm.id`): the node's supervisor replaces the reservation keyed by it with the
 * container's own entry.
 */
export const SWARM_ID_LABEL = 'com.docker.swarm.id';
