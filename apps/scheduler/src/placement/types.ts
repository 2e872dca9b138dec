import type { PlacedContainer, PublishedPort } from '@drydock/cluster';

export type { PlacedContainer, PublishedPort, RescheduledFrom, RescheduledTo } from '@drydock/cluster';

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
