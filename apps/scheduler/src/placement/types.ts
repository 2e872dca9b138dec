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
  /** Its node was lost and the container is to be created again there (cluster/rescheduler.ts). */
  rescheduledTo?: RescheduledTo;
  /** This entry is the replacement of another node's entry. */
  rescheduledFrom?: RescheduledFrom;
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

/** One node as the filters and strategies see it. */
export interface SchedNode {
  id: string;
  name: string;
  /** Operator labels merged over the standard ones (storagedriver, kernelversion, operatingsystem, ostype). */
  labels: Record<string, string>;
  /** Heartbeat fresh and not drained: Swarm's health indicator 100, else 0. */
  healthy: boolean;
  /** Logical CPUs and MemTotal, before overcommit. */
  cpus: number;
  memoryBytes: number;
  containers: PlacedContainer[];
  /** How many containers the node counts (its own report or the directory's, whichever is larger). */
  containerCount: number;
  /** Image references and ids present on the node, when known (image affinity). */
  images: string[];
  supervisorAddress: string;
}

/** The part of a container's configuration that placement reads. */
export interface PlacementSpec {
  name?: string;
  image?: string;
  constraints: string[];
  affinities: string[];
  whitelists: string[];
  memoryBytes: number;
  nanoCpus: number;
  ports: PublishedPort[];
  /** HostConfig.NetworkMode ("", "bridge", "host", "container:<ref>", a network name). */
  networkMode: string;
  exposedPorts: string[];
  /** HostConfig.Links ("name:alias") and VolumesFrom ("name[:ro]"). */
  links: string[];
  volumesFrom: string[];
  labels: Record<string, string>;
}
