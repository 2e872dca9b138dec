import { UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { KeyedLock } from '../../containers/keyed-lock';
import { parseCidr } from '../cidr';
import type { HostNet } from '../host-net';
import type { NetworkRecord } from '../network-record';
import { REMOVING_STALE_MS } from './overlay-rules';
import type { LeaseOwner, OverlayEndpoint, OverlayNetworkRecord, OverlayStore } from './overlay-types';

/** The kernel side the overlay needs (overlay/vxlan.ts). */
export interface OverlayKernel {
  ensure(o: { netId: string; vni: number; bridge: string; local: string }): Promise<unknown>;
  remove(netId: string): Promise<void>;
  devices(): Promise<{ name: string; netId: string; vni: number }[]>;
  /** VNIs VXLAN devices that are not ours hold on port 4789 (an automatic pick skips them). */
  foreignVnis(): Promise<number[]>;
  sync(netId: string, peers: { ip: string; mac: string; vtep: string }[]): Promise<unknown>;
}

/** Which nodes are up (heartbeats): a node that is down has its endpoints left out everywhere. */
export interface NodeLiveness {
  isUp(nodeId: string): boolean;
  onChange(cb: () => void): void;
}

export interface OverlayNetworksOptions {
  nodeId: string;
  nodeName: string;
  /** This node's underlay address: the VXLAN devices' local end, published with every endpoint. */
  vtep: string;
  /** Overlay bridges are "<prefix><id>" within 15 characters. */
  bridgePrefix: string;
  /** Candidate subnets of overlay networks made without one. */
  pools: string[];
  /** A 'removing' mark this old is a crashed remover's, settled at start and then as often. Default REMOVING_STALE_MS. */
  removingStaleMs?: number;
}

/**
 * A node's part of the overlay networks: the kernel objects of every network the store
 * holds (a bridge with the gateway address, its rules, the VXLAN device), and the peer
 * entries of the other nodes' endpoints, kept equal to the store's state as it changes.
 * The records are mirrored into the node's network records (the caller's `mirror`), so the
 * node knows its overlay networks, their endpoints and DNS names while NATS is away.
 */
export class OverlayNetworks {
  private readonly log: Logger;
  private started = false;
  private current: OverlayStore | undefined;
  private readonly pending = new Set<string>();
  private flushing: Promise<void> | undefined;
  private recoverTimer?: NodeJS.Timeout;
  /**
   * Per network: a store write of ours is seen here at once (the change event) while the
   * caller (create, remove) makes or takes down the same objects; run side by side, one
   * ensure deleted the VXLAN device the other was still setting up, and one addRules
   * removed the other's rules before adding its own.
   */
  private readonly kernelLock = new KeyedLock();
  /** Called with the networks whose remote endpoints changed (embedded DNS records to rewrite). */
  onPeersChanged: (netIds: string[]) => void = () => undefined;

  constructor(
    private readonly kernel: OverlayKernel,
    private readonly host: HostNet,
    private readonly liveness: NodeLiveness | undefined,
    readonly opts: OverlayNetworksOptions,
    private readonly mirror: { put(n: NetworkRecord): Promise<void>; drop(n: NetworkRecord): Promise<void>; known(): NetworkRecord[]; hasLocalEndpoints(netId: string): boolean },
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'overlay' });
    // a node that goes down or comes back: every network's peers and names are recomputed
    this.liveness?.onChange(() => {
      for (const n of this.current?.networks() ?? []) this.schedule(n.id);
    });
  }

  /** The store is reached and this node's state checked against it (until then the mirrors serve). */
  get ready(): boolean {
    return this.started;
  }

  get store(): OverlayStore {
    if (!this.current || !this.started) throw new UnavailableError('overlay networks need the cluster store, which is not reachable yet');
    return this.current;
  }

  bridgeName(netId: string): string {
    return `${this.opts.bridgePrefix}${netId.slice(0, 15 - this.opts.bridgePrefix.length)}`;
  }

  /**
   * With the store reached (at boot for a node alone, once NATS answers in a cluster): loads it,
   * makes every network's kernel objects, drops those the store no longer has, follows changes.
   */
  async start(store: OverlayStore, localSubnets: string[]): Promise<void> {
    this.current = store;
    store.onChange((c) => {
      if (c.kind === 'network') void this.networkChanged(c.id, c.network).catch((err) => this.log.warn({ err, networkId: c.id }, 'overlay network not applied'));
      else this.schedule(c.networkId);
    });
    await store.start();
    await store.publishLocalSubnets(this.opts.nodeId, localSubnets);
    // a remove that crashed after its mark would refuse every lease on the network for good
    const staleMs = this.opts.removingStaleMs ?? REMOVING_STALE_MS;
    await this.recoverRemoving(store, staleMs);
    clearInterval(this.recoverTimer);
    this.recoverTimer = setInterval(() => void this.recoverRemoving(store, staleMs), staleMs);
    this.recoverTimer.unref();
    const live = new Set<string>();
    for (const n of store.networks()) {
      if (n.state === 'creating') continue;
      live.add(n.id);
      await this.networkChanged(n.id, n).catch((err) => this.log.warn({ err, networkId: n.id }, 'overlay network not applied'));
    }
    for (const n of this.mirror.known()) if (n.driver === 'overlay' && !live.has(n.id)) await this.networkChanged(n.id, undefined);
    for (const d of await this.kernel.devices()) if (!live.has(d.netId)) await this.kernel.remove(d.netId).catch((err) => this.log.warn({ err, device: d.name }, 'stray vxlan device not removed'));
    this.started = true;
    for (const id of live) this.schedule(id);
  }

  close(): void {
    clearInterval(this.recoverTimer);
  }

  private async recoverRemoving(store: OverlayStore, staleMs: number): Promise<void> {
    await store.recoverRemoving(staleMs).catch((err) => this.log.warn({ err }, 'overlay networks left removing not settled'));
  }

  /** VNIs this node's kernel has in use by devices not ours (CreateOverlayInput.avoidVnis). */
  foreignVnis(): Promise<number[]> {
    return this.kernel.foreignVnis();
  }

  /** The kernel objects of a network on this node, made idempotently (create, boot, a record seen). */
  ensureKernel(n: OverlayNetworkRecord | NetworkRecord): Promise<void> {
    return this.kernelLock.run(n.id, () => this.makeKernel(n));
  }

  destroyKernel(n: NetworkRecord): Promise<void> {
    return this.kernelLock.run(n.id, () => this.unmakeKernel(n));
  }

  private async makeKernel(n: OverlayNetworkRecord | NetworkRecord): Promise<void> {
    const pool = n.pools[0];
    if (!pool || !n.bridge) return;
    const subnet = parseCidr(pool.subnet)!;
    await this.host.createBridge(n.bridge, `${pool.gateway}/${subnet.prefix}`, n.id);
    await this.kernel.ensure({ netId: n.id, vni: (n as OverlayNetworkRecord).vni, bridge: n.bridge, local: this.opts.vtep });
    await this.host.addRules({ id: n.id, bridge: n.bridge, subnet: pool.subnet, internal: n.internal, icc: n.icc });
  }

  private async unmakeKernel(n: NetworkRecord): Promise<void> {
    await this.kernel.remove(n.id).catch((err) => this.log.warn({ err, networkId: n.id }, 'vxlan device not removed'));
    await this.host.removeRules(n.id);
    if (n.bridge) {
      const b = (await this.host.bridges()).find((x) => x.name === n.bridge);
      if (b && b.alias === `drydock-net:${n.id}`) await this.host.deleteBridge(n.bridge);
    }
  }

  private networkChanged(id: string, n: OverlayNetworkRecord | undefined): Promise<void> {
    return this.kernelLock.run(id, () => this.applyNetwork(id, n));
  }

  private async applyNetwork(id: string, n: OverlayNetworkRecord | undefined): Promise<void> {
    if (n && n.state !== 'creating') {
      const known = this.mirror.known().find((x) => x.id === id);
      if (!known || known.state !== 'ready') {
        const rec = { ...n, state: 'ready' as const };
        await this.mirror.put(rec);
        await this.makeKernel(rec);
      }
      this.schedule(id);
      return;
    }
    if (n) return;
    const known = this.mirror.known().find((x) => x.id === id);
    if (!known) return;
    // removed in the store (refused there while any node held an address on it)
    if (this.mirror.hasLocalEndpoints(id)) return void this.log.warn({ networkId: id }, 'an overlay network was removed while this node had endpoints on it');
    await this.unmakeKernel(known);
    await this.mirror.drop(known);
  }

  /** Peer entries of the network rewritten soon; changes arriving together are applied in one pass. */
  private schedule(netId: string): void {
    this.pending.add(netId);
    if (!this.started || this.flushing) return;
    this.flushing = (async () => {
      await new Promise((r) => setImmediate(r));
      while (this.pending.size) {
        const ids = [...this.pending];
        this.pending.clear();
        for (const id of ids) await this.syncPeers(id).catch((err) => this.log.warn({ err, networkId: id }, 'overlay peers not programmed'));
        this.onPeersChanged(ids);
      }
    })().finally(() => {
      this.flushing = undefined;
      // a change that arrived between the last pass and this line would wait for the next one
      const left = this.pending.values().next();
      if (!left.done) this.schedule(left.value);
    });
  }

  private async syncPeers(netId: string): Promise<void> {
    const n = this.current?.networks().find((x) => x.id === netId);
    if (!n || n.state === 'creating') return;
    const peers = this.liveEndpoints(netId)
      .filter((e) => e.nodeId !== this.opts.nodeId)
      .map((e) => ({ ip: e.ip, mac: e.mac, vtep: e.vtep }));
    await this.kernelLock.run(netId, () => this.kernel.sync(netId, peers));
  }

  /** The network's endpoints on nodes that are up (this node's included). */
  liveEndpoints(netId: string): OverlayEndpoint[] {
    if (!this.current) return [];
    return this.current.endpoints(netId).filter((e) => e.nodeId === this.opts.nodeId || !this.liveness || this.liveness.isUp(e.nodeId));
  }

  /** Resolves once the pending peer entries are programmed (tests, benches). */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  lease(netId: string, requested: string, owner: Omit<LeaseOwner, 'nodeId'>): Promise<{ ip: string; prefix: number; gateway: string }> {
    return this.store.lease(netId, requested, { ...owner, nodeId: this.opts.nodeId });
  }

  /** Gives back the leases and endpoints of this node that no local endpoint holds (after a crash). */
  async sweep(held: { networkId: string; endpointId: string; ip: string }[]): Promise<void> {
    const keep = new Set(held.map((h) => h.endpointId));
    for (const l of await this.store.leasesOf(this.opts.nodeId)) {
      if (keep.has(l.owner.endpointId)) continue;
      this.log.warn({ networkId: l.networkId, ip: l.ip }, 'giving back an overlay address no endpoint holds');
      await this.store.release(l.networkId, l.ip, l.owner.endpointId);
    }
    for (const e of this.store.endpoints()) {
      if (e.nodeId === this.opts.nodeId && !keep.has(e.endpointId)) await this.store.withdraw(e.networkId, e.endpointId);
    }
  }
}
