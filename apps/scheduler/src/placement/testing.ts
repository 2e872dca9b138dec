import type { PlacedContainer, PlacementSpec, SchedNode } from './types';

/** Builders for the placement specs (not shipped: only specs import this). */
export const GiB = 1024 * 1024 * 1024;

export function spec(over: Partial<PlacementSpec> = {}): PlacementSpec {
  return { constraints: [], affinities: [], whitelists: [], memoryBytes: 0, nanoCpus: 0, ports: [], networkMode: '', exposedPorts: [], links: [], volumesFrom: [], labels: {}, ...over };
}

export function node(id: string, over: Partial<SchedNode> = {}): SchedNode {
  const n: SchedNode = { id, name: id, labels: {}, healthy: true, cpus: 0, memoryBytes: 0, containers: [], containerCount: 0, images: [], supervisorAddress: `${id}:1`, ...over };
  n.containerCount = Math.max(n.containerCount, n.containers.length);
  return n;
}

/** Swarm's node.AddContainer for the strategy specs. */
export function add(n: SchedNode, c: Partial<PlacedContainer> = {}): void {
  n.containers.push({ memoryBytes: 0, nanoCpus: 0, ports: [], ...c });
  n.containerCount = n.containers.length;
}
