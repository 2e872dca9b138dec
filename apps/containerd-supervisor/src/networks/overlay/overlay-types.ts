import type { NetworkRecord } from '../network-record';

/**
 * Overlay networks (driver "overlay"): one L2 segment per network spanning the nodes,
 * carried by a VXLAN device per network and node (VNI per network, UDP 4789, no
 * learning, no multicast), bridged with the node's containers. Every remote endpoint
 * is programmed from the cluster state: a neighbour entry IP -> MAC (the VXLAN device
 * answers ARP itself, `proxy`) and an FDB entry MAC -> the owning node's VTEP address.
 * Each node's bridge carries the network's gateway address, so a container leaves
 * through its own node (masquerade unless --internal).
 */

/** An overlay network as stored: a NetworkRecord with driver "overlay" and its VNI. */
export interface OverlayNetworkRecord extends Omit<NetworkRecord, 'driver' | 'state'> {
  driver: 'overlay';
  vni: number;
  /** 'removing' while a remove checks that no endpoint is left (attach refuses it). */
  state: 'creating' | 'ready' | 'removing';
  /**
   * With 'removing': when the mark was written (ms since the epoch). It also identifies the mark:
   * a remover deletes, or undoes, only the mark it saw, so a mark that was recovered meanwhile
   * (see OverlayStore.recoverRemoving) and made again is not taken for its own.
   */
  removingSince?: number;
  /** Node that created it (its id). */
  creatorNode: string;
}

/** One container endpoint on an overlay network, as every node sees it. */
export interface OverlayEndpoint {
  networkId: string;
  endpointId: string;
  containerId: string;
  /** Container name without the leading '/'. */
  containerName: string;
  /** The container's hostname when it differs from its short id (an alias in DNS, as dockerd's). */
  hostname?: string;
  /** Network-scoped aliases (the short id included, as dockerd adds it). */
  aliases: string[];
  ip: string;
  prefix: number;
  mac: string;
  nodeId: string;
  nodeName: string;
  /** Underlay address of the owning node's VXLAN device. */
  vtep: string;
}

/** Who holds an address: written with the lease, so a boot sweep finds its own orphans. */
export interface LeaseOwner {
  nodeId: string;
  containerId: string;
  endpointId: string;
}

export interface OverlayLease {
  networkId: string;
  ip: string;
  owner: LeaseOwner;
}

export interface CreateOverlayInput {
  /** The record to store (id, name, options, labels, internal, attachable...); pools empty = pick one. */
  record: Omit<OverlayNetworkRecord, 'vni' | 'state' | 'pools'> & { pools: NetworkRecord['pools'] };
  /** Wanted VNI (dockerd's com.docker.network.driver.overlay.vxlanid_list); 0: the lowest free from 4096. */
  vni: number;
  /**
   * VNIs an automatic pick skips: those VXLAN devices that are not ours hold on UDP 4789 on the
   * creating node (the kernel allows one device per VNI and port in a namespace). A wanted VNI
   * is not checked against them: the kernel's refusal says which device holds it.
   */
  avoidVnis?: number[];
  /** Subnets this node's local networks and routes use: an overlay may overlap none of them. */
  localSubnets: string[];
  /** Candidate pools ("cidr[:size]") when no subnet is given. */
  pools: string[];
}

export type OverlayChange =
  | { kind: 'network'; network: OverlayNetworkRecord | undefined; id: string }
  | { kind: 'endpoint'; endpoint: OverlayEndpoint | undefined; networkId: string; endpointId: string };

/**
 * Where overlay networks, their address leases and endpoints live: NATS KV for a
 * node of a cluster, the node's state directory for a node alone. Every write is
 * atomic; names, subnets, VNIs and addresses are taken with revision-checked writes so
 * two nodes acting at the same instant never both get one.
 */
export interface OverlayStore {
  /** Loads the current state and starts following changes (resolves once loaded). */
  start(): Promise<void>;
  close(): void;
  /** Called after the caches changed (a watch event, or a write of ours). */
  onChange(cb: (c: OverlayChange) => void): void;

  /** Cached networks (every state). */
  networks(): OverlayNetworkRecord[];
  /**
   * Adds a ready network in one atomic write: AlreadyExistsError "network with name X already exists"
   * (among overlays; the caller checks local names), PermissionDeniedError "Pool overlaps with other
   * one on this address space" for a subnet overlapping another overlay, another node's local subnets
   * or `localSubnets`, InvalidArgumentError for a VNI in use or out of 1..16777215, NotFoundError
   * "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the
   * network" when no pool is free.
   */
  createNetwork(input: CreateOverlayInput): Promise<OverlayNetworkRecord>;
  /**
   * Marks it removing, checks that no lease is held on any node (PermissionDeniedError "error while
   * removing network: network NAME id ID has active endpoints", the mark undone), then deletes it.
   */
  removeNetwork(id: string): Promise<void>;
  /**
   * Settles the networks left 'removing' for `staleMs` or longer (a remover that crashed between
   * its mark and its delete; leases are refused meanwhile): back to 'ready' when any node holds a
   * lease on it, else deleted, each as a remove would (writes checked against the mark seen, so
   * nodes doing it at once, and a remove running meanwhile, agree).
   */
  recoverRemoving(staleMs: number): Promise<{ reverted: string[]; removed: string[] }>;

  /**
   * Takes an address cluster-wide: the requested one (PermissionDeniedError "Address already in use"
   * when held; InvalidArgumentError when outside the subnet) or the lowest free one of the ip-range
   * (InternalError "no available IPv4 addresses on this network's address pools: NAME (ID)"). The
   * network must be 'ready' after the lease is taken (NotFoundError "network ID not found" otherwise,
   * the lease given back).
   */
  lease(networkId: string, requested: string, owner: LeaseOwner): Promise<{ ip: string; prefix: number; gateway: string }>;
  /** Gives an address back (only if `endpointId` still holds it). */
  release(networkId: string, ip: string, endpointId: string): Promise<void>;
  /** Leases held by a node (the boot sweep gives back those no endpoint of that node holds). */
  leasesOf(nodeId: string): Promise<OverlayLease[]>;

  publish(ep: OverlayEndpoint): Promise<void>;
  withdraw(networkId: string, endpointId: string): Promise<void>;
  /** Cached endpoints, of one network or all. */
  endpoints(networkId?: string): OverlayEndpoint[];

  /** This node's local (bridge) subnets, for other nodes' overlap checks. */
  publishLocalSubnets(nodeId: string, subnets: string[]): Promise<void>;
}
