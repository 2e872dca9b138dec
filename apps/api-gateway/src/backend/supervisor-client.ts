import { credentials, Metadata, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import { supervisorV1 } from '@drydock/proto';
import { fromGrpcError, UnavailableError } from '@drydock/errors';

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/**
 * Deadline of calls that may wait on a volume plugin: its 2-minute Create or Mount deadline
 * after dockerd's 30 s of lookup retries. The supervisor ends them first, with the plugin's error.
 */
export const PLUGIN_CALL_TIMEOUT_MS = 180_000;

/**
 * gRPC clients of one node's containerd-supervisor over one channel. Unary
 * calls carry a deadline; failures come back as taxonomy errors (so routes map
 * them to HTTP in one place).
 */
export class SupervisorClient {
  readonly containers: supervisorV1.ContainersClient;
  readonly exec: supervisorV1.ExecClient;
  readonly images: supervisorV1.ImagesClient;
  readonly archives: supervisorV1.ArchivesClient;
  readonly volumes: supervisorV1.VolumesClient;
  readonly plugins: supervisorV1.PluginsClient;
  readonly networks: supervisorV1.NetworksClient;
  readonly node: supervisorV1.NodeClient;
  private closed = false;

  /** `remote`: another node's supervisor, named in the error when it cannot be reached. */
  constructor(readonly address: string, private readonly callTimeoutMs: number, private readonly remote = false) {
    const creds = credentials.createInsecure();
    const opts = {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    };
    this.containers = new supervisorV1.ContainersClient(address, creds, opts);
    this.exec = new supervisorV1.ExecClient(address, creds, opts);
    this.images = new supervisorV1.ImagesClient(address, creds, opts);
    this.archives = new supervisorV1.ArchivesClient(address, creds, opts);
    this.volumes = new supervisorV1.VolumesClient(address, creds, opts);
    this.plugins = new supervisorV1.PluginsClient(address, creds, opts);
    this.networks = new supervisorV1.NetworksClient(address, creds, opts);
    this.node = new supervisorV1.NodeClient(address, creds, opts);
  }

  /** `await sc.call(sc.containers, sc.containers.inspectContainer, { id })` */
  call<Req, Res>(client: object, method: Unary<Req, Res>, req: Req, timeoutMs = this.callTimeoutMs): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(client, req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => (err ? reject(this.error(err)) : resolve(res)));
    });
  }

  private error(err: ServiceError): Error {
    const e = fromGrpcError(err);
    if (!this.remote || e.code !== 'UNAVAILABLE') return e;
    return new UnavailableError(`the node at ${this.address} did not answer: ${e.message}`, { cause: err });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [this.containers, this.exec, this.images, this.archives, this.volumes, this.plugins, this.networks, this.node]) c.close();
  }
}

/** A node of the cluster as routes show it (classic Swarm's engine: inspect's Node, info, ps). */
export interface NodeSummary {
  id: string;
  name: string;
  /** The supervisor's host:port (Swarm's Addr) and its host (Swarm's IP). */
  address: string;
  ip: string;
  labels: Record<string, string>;
  cpus: number;
  memoryBytes: number;
  healthy: boolean;
  lastSeen: number;
  counts: { total: number; running: number; paused: number; stopped: number };
  reservedNanoCpus: number;
  reservedMemoryBytes: number;
}

/** What a cluster adds to the locator: its nodes, and which node a client talks to. */
export interface ClusterNodes {
  nodes(): NodeSummary[];
  /** The node of a client handed out by the locator (undefined when it is not known yet). */
  nodeOf(sc: SupervisorClient): Promise<NodeSummary | undefined>;
}

/**
 * "Where does this container live": the narrow interface between the routes and the
 * nodes. On one node every answer is the local supervisor; in a cluster (ClusterLocator)
 * ids, names and exec ids resolve across the nodes.
 */
export interface ContainerLocator {
  /** The supervisor owning an existing container (by id, prefix or name). */
  forContainer(ref: string): Promise<SupervisorClient>;
  /** The supervisor running an exec instance (by its id). */
  forExec(id: string): Promise<SupervisorClient>;
  /** The supervisor that creates new containers and holds images, volumes and (node-scoped) networks. */
  local(): SupervisorClient;
  /** Every live node's supervisor (for listings), the local one first. */
  all(): SupervisorClient[];
  /** Set in a cluster (DRYDOCK_CLUSTER=1) only. */
  readonly cluster?: ClusterNodes;
}

export class SingleNodeLocator implements ContainerLocator {
  constructor(private readonly supervisor: SupervisorClient) {}
  async forContainer(): Promise<SupervisorClient> {
    return this.supervisor;
  }
  async forExec(): Promise<SupervisorClient> {
    return this.supervisor;
  }
  local(): SupervisorClient {
    return this.supervisor;
  }
  all(): SupervisorClient[] {
    return [this.supervisor];
  }
}
