import { errorCode, InvalidArgumentError, UnavailableError } from '@drydock/errors';
import type { ClusterNodes, ContainerLocator, NodeSummary, SupervisorClient } from '../backend/supervisor-client';
import type { ClusterNode } from './cluster-view';

/** The part of ClusterView the locator reads (a fake in unit tests). */
export interface ClusterDirectory {
  nodes(): ClusterNode[];
  node(id: string): ClusterNode | undefined;
  find(ref: string): { nodeId: string; entry: { id?: string } }[];
}

export interface ClusterLocatorOptions {
  local: SupervisorClient;
  /** The cluster view once NATS is reached (undefined before: only the live probe is used). */
  view: () => ClusterDirectory | undefined;
  /** The local node's id (its supervisor's GetNodeInfo). */
  localNodeId: () => Promise<string>;
  /** A client for a remote node's supervisor address. */
  connect: (address: string) => SupervisorClient;
  /** Deadline of one probe call to a node. */
  probeTimeoutMs: number;
}

type Probe = (sc: SupervisorClient) => Promise<unknown>;

/**
 * "Where does this container live" across a cluster: the directory (each node's containers,
 * written by its supervisor) answers for ids, names and prefixes; what it does not know yet
 * (a container created a moment ago, NATS away) and exec ids are asked of every live node.
 * A container on a node that is down is an error at once, never a call that hangs. One
 * client per node address, reused.
 */
export class ClusterLocator implements ContainerLocator, ClusterNodes {
  private readonly clients = new Map<string, SupervisorClient>();
  /** exec id -> node address, from earlier probes (bounded). */
  private readonly execs = new Map<string, string>();
  readonly cluster: ClusterNodes = this;

  constructor(private readonly opts: ClusterLocatorOptions) {}

  local(): SupervisorClient {
    return this.opts.local;
  }

  all(): SupervisorClient[] {
    return [this.opts.local, ...this.remotes()];
  }

  nodes(): NodeSummary[] {
    return this.opts.view()?.nodes() ?? [];
  }

  async nodeOf(sc: SupervisorClient): Promise<NodeSummary | undefined> {
    const view = this.opts.view();
    if (!view) return undefined;
    if (sc === this.opts.local) return view.node((await this.localId()) ?? '');
    return view.nodes().find((n) => n.address === sc.address);
  }

  async forContainer(ref: string): Promise<SupervisorClient> {
    const view = this.opts.view();
    const hits = view?.find(ref) ?? [];
    const nodeIds = [...new Set(hits.map((h) => h.nodeId))];
    const ask: Probe = (sc) => sc.call(sc.containers, sc.containers.inspectContainer, { id: ref }, this.opts.probeTimeoutMs);
    // several nodes: a prefix of ids on two nodes, or a name whose entry on its old node is not gone yet; the
    // nodes say which (across nodes an ambiguity is ours to report, in dockerd's words; on one, its supervisor's)
    if (nodeIds.length > 1) return this.probe(ref, ask, await Promise.all(nodeIds.map((id) => this.clientOf(view!, id, ref).catch(() => undefined))));
    if (nodeIds.length === 1) return this.clientOf(view!, nodeIds[0], ref);
    return this.probe(ref, ask);
  }

  async forExec(id: string): Promise<SupervisorClient> {
    const known = this.execs.get(id);
    if (known) {
      const view = this.opts.view();
      const node = view?.nodes().find((n) => n.address === known);
      if (!node || node.healthy) return this.client(known);
    }
    const sc = await this.probe(id, (s) => s.call(s.exec, s.exec.inspectExec, { id }, this.opts.probeTimeoutMs));
    if (sc !== this.opts.local) {
      if (this.execs.size >= 1000) this.execs.delete(this.execs.keys().next().value!);
      this.execs.set(id, sc.address);
    }
    return sc;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private async clientOf(view: ClusterDirectory, nodeId: string, ref: string): Promise<SupervisorClient> {
    if (nodeId === (await this.localId())) return this.opts.local;
    const node = view.node(nodeId);
    if (!node?.healthy || !node.address) {
      const since = node?.lastSeen ? `; last heartbeat ${Math.round((Date.now() - node.lastSeen) / 1000)} s ago` : '';
      throw new UnavailableError(`container ${ref} is on node ${node?.name ?? nodeId}, which is down${since}`);
    }
    return this.client(node.address);
  }

  /** Live remote nodes' clients (the local node excluded, whatever address it beats with). */
  private remotes(): SupervisorClient[] {
    const view = this.opts.view();
    if (!view) return [];
    const localId = this.knownLocalId;
    if (!localId) void this.localId();
    return view
      .nodes()
      .filter((n) => n.healthy && n.address && n.id !== localId && n.address !== this.opts.local.address)
      .map((n) => this.client(n.address));
  }

  private knownLocalId?: string;

  /** The local node's id, asked once (again after a failure). */
  async localId(): Promise<string | undefined> {
    this.knownLocalId ??= await this.opts.localNodeId().catch(() => undefined);
    return this.knownLocalId;
  }

  /**
   * Asks every live node; the one that has it answers (any answer but NotFound counts: a
   * node's own ambiguous prefix is reported by its call). None: the local node, whose
   * call then says "No such ..." as dockerd does.
   */
  private async probe(ref: string, ask: Probe, among?: (SupervisorClient | undefined)[]): Promise<SupervisorClient> {
    await this.localId();
    const candidates = among ? among.filter((c): c is SupervisorClient => !!c) : this.all();
    const results = await Promise.allSettled(candidates.map((sc) => ask(sc)));
    const found = candidates.filter((_, i) => {
      const r = results[i];
      return r.status === 'fulfilled' || !['NOT_FOUND', 'UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(errorCode(r.reason) ?? '');
    });
    if (found.length > 1) throw new InvalidArgumentError(`Multiple IDs found with provided prefix: ${ref}`);
    return found[0] ?? this.opts.local;
  }

  /** The one client of a node's supervisor address. */
  clientFor(address: string): SupervisorClient {
    return this.client(address);
  }

  private client(address: string): SupervisorClient {
    let c = this.clients.get(address);
    if (!c) this.clients.set(address, (c = this.opts.connect(address)));
    return c;
  }
}
