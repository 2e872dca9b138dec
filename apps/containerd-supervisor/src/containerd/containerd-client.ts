import { credentials, Metadata, type CallOptions, type Client, type ClientReadableStream, type ClientDuplexStream, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import {
  ctrContainers,
  ctrContent,
  ctrDiff,
  ctrEvents,
  ctrImages,
  ctrLeases,
  ctrNamespaces,
  ctrSnapshots,
  ctrTasks,
  ctrVersion,
} from '@drydock/proto';
import { fromGrpcError } from '@drydock/errors';

export interface ContainerdClientOptions {
  /** Path of containerd's gRPC socket. */
  address: string;
  /** containerd namespace every call runs in. */
  namespace: string;
  /** Deadline for unary calls. */
  callTimeoutMs: number;
}

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/**
 * The raw containerd gRPC clients over one channel, with the namespace header and
 * a deadline on every call, and containerd's errors mapped to the taxonomy
 * (UNAVAILABLE while containerd is down, NOT_FOUND, ALREADY_EXISTS, ...).
 */
export class ContainerdClient {
  readonly containers: ctrContainers.ContainersClient;
  readonly content: ctrContent.ContentClient;
  readonly diff: ctrDiff.DiffClient;
  readonly events: ctrEvents.EventsClient;
  readonly images: ctrImages.ImagesClient;
  readonly leases: ctrLeases.LeasesClient;
  readonly namespaces: ctrNamespaces.NamespacesClient;
  readonly snapshots: ctrSnapshots.SnapshotsClient;
  readonly tasks: ctrTasks.TasksClient;
  readonly version: ctrVersion.VersionClient;
  private readonly all: Client[];
  private closed = false;

  constructor(private readonly opts: ContainerdClientOptions) {
    const target = `unix://${opts.address}`;
    const creds = credentials.createInsecure();
    // One HTTP/2 connection for all services: grpc-js shares the subchannel when
    // targets and options are equal. Reconnect fast: containerd restarts in ~1 s.
    const channelOpts = {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      // containerd's socket has no authority; grpc-js would send the path otherwise.
      'grpc.default_authority': 'localhost',
    };
    this.containers = new ctrContainers.ContainersClient(target, creds, channelOpts);
    this.content = new ctrContent.ContentClient(target, creds, channelOpts);
    this.diff = new ctrDiff.DiffClient(target, creds, channelOpts);
    this.events = new ctrEvents.EventsClient(target, creds, channelOpts);
    this.images = new ctrImages.ImagesClient(target, creds, channelOpts);
    this.leases = new ctrLeases.LeasesClient(target, creds, channelOpts);
    this.namespaces = new ctrNamespaces.NamespacesClient(target, creds, channelOpts);
    this.snapshots = new ctrSnapshots.SnapshotsClient(target, creds, channelOpts);
    this.tasks = new ctrTasks.TasksClient(target, creds, channelOpts);
    this.version = new ctrVersion.VersionClient(target, creds, channelOpts);
    this.all = [this.containers, this.content, this.diff, this.events, this.images, this.leases, this.namespaces, this.snapshots, this.tasks, this.version];
  }

  get namespace(): string {
    return this.opts.namespace;
  }

  /** Metadata carrying the containerd namespace (required on every call). */
  metadata(extra?: Record<string, string>): Metadata {
    const md = new Metadata();
    md.set('containerd-namespace', this.opts.namespace);
    for (const [k, v] of Object.entries(extra ?? {})) md.set(k, v);
    return md;
  }

  deadline(ms = this.opts.callTimeoutMs): Date {
    return new Date(Date.now() + ms);
  }

  /**
   * Calls a unary method: `await cc.unary(cc.tasks, cc.tasks.get, { containerId })`.
   * Errors come back as taxonomy errors with the gRPC error as cause.
   */
  unary<Req, Res>(client: Client, method: Unary<Req, Res>, req: Req, opts?: { timeoutMs?: number; metadata?: Record<string, string> }): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(client, req, this.metadata(opts?.metadata), { deadline: this.deadline(opts?.timeoutMs) }, (err, res) => {
        if (err) reject(fromGrpcError(err));
        else resolve(res);
      });
    });
  }

  /** Opens a server stream with the namespace header and no deadline (caller cancels). */
  serverStream<Req, Res>(client: Client, method: (req: Req, md: Metadata, opts?: Partial<CallOptions>) => ClientReadableStream<Res>, req: Req): ClientReadableStream<Res> {
    return method.call(client, req, this.metadata(), {});
  }

  duplexStream<Req, Res>(client: Client, method: (md: Metadata, opts?: Partial<CallOptions>) => ClientDuplexStream<Req, Res>, timeoutMs?: number): ClientDuplexStream<Req, Res> {
    return method.call(client, this.metadata(), timeoutMs ? { deadline: this.deadline(timeoutMs) } : {});
  }

  clientStream<Req, Res>(
    client: Client,
    method: (md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => ClientWritableStream<Req>,
    cb: (err: Error | null, res?: Res) => void,
    timeoutMs?: number,
  ): ClientWritableStream<Req> {
    return method.call(client, this.metadata(), { deadline: this.deadline(timeoutMs) }, (err, res) => (err ? cb(fromGrpcError(err)) : cb(null, res)));
  }

  /** Resolves once the channel is connected, or rejects after timeoutMs. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.version.waitForReady(new Date(Date.now() + timeoutMs), (err) => (err ? reject(fromGrpcError(err)) : resolve()));
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.all) c.close();
  }
}
