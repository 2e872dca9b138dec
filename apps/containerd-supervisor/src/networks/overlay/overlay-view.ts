import { formatIp } from '../cidr';
import type { OverlayTable } from './overlay-rules';
import type { LeaseOwner, OverlayChange, OverlayEndpoint, OverlayLease, OverlayNetworkRecord } from './overlay-types';

/**
 * What an overlay store holds in memory (networks, endpoints, leases) and the listeners
 * told of each change. Both stores feed it: the KV store from its watch and its own writes,
 * the file store from its files and its writes.
 */
export class OverlayView {
  private nets = new Map<string, OverlayNetworkRecord>();
  private readonly eps = new Map<string, Map<string, OverlayEndpoint>>();
  /** networkId -> address -> holder (undefined: taken by someone this view has not read yet). */
  private readonly leases = new Map<string, Map<number, LeaseOwner | undefined>>();
  private readonly listeners: ((c: OverlayChange) => void)[] = [];

  onChange(cb: (c: OverlayChange) => void): void {
    this.listeners.push(cb);
  }

  networks(): OverlayNetworkRecord[] {
    return [...this.nets.values()];
  }

  network(id: string): OverlayNetworkRecord | undefined {
    return this.nets.get(id);
  }

  table(): OverlayTable {
    return Object.fromEntries(this.nets);
  }

  /** Replaces the networks, telling the listeners of each one that changed. */
  setTable(table: OverlayTable): void {
    const old = this.nets;
    this.nets = new Map(Object.entries(table));
    for (const id of new Set([...old.keys(), ...this.nets.keys()])) {
      const network = this.nets.get(id);
      if (JSON.stringify(old.get(id)) !== JSON.stringify(network)) this.emit({ kind: 'network', network, id });
    }
  }

  endpoints(networkId?: string): OverlayEndpoint[] {
    if (networkId !== undefined) return [...(this.eps.get(networkId)?.values() ?? [])];
    return [...this.eps.values()].flatMap((m) => [...m.values()]);
  }

  setEndpoint(networkId: string, endpointId: string, endpoint: OverlayEndpoint | undefined): void {
    const m = this.eps.get(networkId) ?? new Map<string, OverlayEndpoint>();
    const old = m.get(endpointId);
    if (endpoint) m.set(endpointId, endpoint);
    else m.delete(endpointId);
    if (m.size) this.eps.set(networkId, m);
    else this.eps.delete(networkId);
    if (JSON.stringify(old) !== JSON.stringify(endpoint)) this.emit({ kind: 'endpoint', endpoint, networkId, endpointId });
  }

  /** Addresses held on a network as far as this view knows. */
  held(networkId: string): Iterable<number> {
    return this.leases.get(networkId)?.keys() ?? [];
  }

  holder(networkId: string, ip: number): LeaseOwner | undefined {
    return this.leases.get(networkId)?.get(ip);
  }

  /** `owner` null: the address is free; undefined: taken by an owner not read yet. */
  setLease(networkId: string, ip: number, owner: LeaseOwner | undefined | null): void {
    const m = this.leases.get(networkId) ?? new Map<number, LeaseOwner | undefined>();
    if (owner === null) m.delete(ip);
    else m.set(ip, owner);
    if (m.size) this.leases.set(networkId, m);
    else this.leases.delete(networkId);
  }

  /** Replaces what is known of a network's leases (an authoritative listing). */
  setLeases(networkId: string, leases: Map<number, LeaseOwner | undefined>): void {
    if (leases.size) this.leases.set(networkId, leases);
    else this.leases.delete(networkId);
  }

  leasesOf(nodeId: string): OverlayLease[] {
    const out: OverlayLease[] = [];
    for (const [networkId, m] of this.leases) for (const [ip, owner] of m) if (owner?.nodeId === nodeId) out.push({ networkId, ip: formatIp(ip), owner });
    return out;
  }

  private emit(c: OverlayChange): void {
    for (const l of this.listeners) {
      try {
        l(c);
      } catch {
        // a listener's failure is its own; the view stays current for the others
      }
    }
  }
}

/** The reads both stores answer from their view. */
export abstract class ViewedOverlayStore {
  protected readonly view = new OverlayView();

  onChange(cb: (c: OverlayChange) => void): void {
    this.view.onChange(cb);
  }

  networks(): OverlayNetworkRecord[] {
    return this.view.networks();
  }

  endpoints(networkId?: string): OverlayEndpoint[] {
    return this.view.endpoints(networkId);
  }

  async leasesOf(nodeId: string): Promise<OverlayLease[]> {
    return this.view.leasesOf(nodeId);
  }
}
