import type { supervisorV1 } from '@drydock/proto';

/** One address pool of a network, as stored. */
export interface IpamPoolRecord {
  subnet: string;
  gateway: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
  /** Picked from the default pools (not given by the user): --ip is refused there, as dockerd. */
  auto?: boolean;
}

/**
 * A network as stored. `state` is 'creating' from the moment the record is written
 * until its kernel objects (bridge, iptables rules) exist: a supervisor that finds a
 * 'creating' record at boot removes whatever of it was made, then the record.
 */
export interface NetworkRecord {
  id: string;
  name: string;
  /** "bridge", "host", "null" or "overlay" (a mirror of the cluster's record, overlay/overlay-types.ts). */
  driver: string;
  createdNs: string;
  internal: boolean;
  attachable: boolean;
  enableIpv6: boolean;
  ipamDriver: string;
  ipamOptions: Record<string, string>;
  pools: IpamPoolRecord[];
  options: Record<string, string>;
  labels: Record<string, string>;
  /** Host bridge interface (bridge driver only). */
  bridge?: string;
  /** bridge, host, none: made by the supervisor, never removed. */
  builtin: boolean;
  /** enable_icc option: containers on the network may talk to each other. */
  icc: boolean;
  /** 'removing': an overlay network whose remove is checking that no node holds an address on it. */
  state: 'creating' | 'ready' | 'removing';
  /** Overlay networks: the VXLAN network identifier. */
  vni?: number;
}

/** One container's endpoint on one network in its current run. */
export interface EndpointRecord {
  networkId: string;
  endpointId: string;
  ifname: string;
  /** Address without prefix; the lease this endpoint holds. */
  ip: string;
  prefix: number;
  gateway: string;
  mac: string;
  aliases: string[];
  /** This endpoint gives the run its default route (and carries its published ports). */
  defaultRoute: boolean;
  /** Published ports programmed on this endpoint. */
  ports: PortRecord[];
  /** The CNI result of the chain's ADD (prevResult for DEL). */
  cniResult?: unknown;
  /** 'adding' until the CNI ADD finished: a boot that finds it tears the endpoint down. */
  state: 'adding' | 'ready';
}

export interface PortRecord {
  /** "80/tcp" */
  containerPort: string;
  proto: 'tcp' | 'udp' | 'sctp';
  /** "" for all addresses. */
  hostIp: string;
  hostPort: number;
}

/**
 * What the network area keeps per container: the networks it is attached to
 * (its settings, edited by connect/disconnect even while it is stopped) and, while
 * it runs, the run's endpoints. Written atomically before any kernel object of the run
 * is made, so the leases and ports it holds are known after a crash.
 */
export interface ContainerNetRecord {
  containerId: string;
  /** networkId -> how the container joins it, in join order. */
  attachments: { networkId: string; config: supervisorV1.EndpointConfig }[];
  run?: {
    pid: number;
    sandboxId: string;
    /** Next interface index: names are not reused after a disconnect within a run (as dockerd). */
    nextIf: number;
    endpoints: EndpointRecord[];
  };
}
