import type { PlacementSpec, SchedNode } from './types';

/** Swarm's ErrNoResourcesAvailable text. */
export const NO_RESOURCES = 'no resources available to schedule container';

export type StrategyName = 'spread' | 'binpack' | 'random';

/** Orders the filtered nodes, best first; throws NoResources when none can take the reservation. */
export interface Strategy {
  readonly name: StrategyName;
  rankAndSort(spec: PlacementSpec, nodes: SchedNode[]): SchedNode[];
}

export class NoResources extends Error {
  constructor() {
    super(NO_RESOURCES);
  }
}

export interface WeighOptions {
  /** Swarm's swarm.overcommit cluster option in percent (default 5, from 0.05): totals grow by it. */
  overcommitPercent: number;
}

const NANO = 1_000_000_000;

/** Memory and CPU totals as Swarm's engine reported them: plus the overcommit, in integer steps. */
export function nodeTotals(n: SchedNode, o: WeighOptions): { memoryBytes: number; nanoCpus: number } {
  const mem = Math.floor(n.memoryBytes);
  const cpus = Math.floor(n.cpus);
  return { memoryBytes: mem + Math.floor((mem * o.overcommitPercent) / 100), nanoCpus: (cpus + Math.floor((cpus * o.overcommitPercent) / 100)) * NANO };
}

/** What the containers on the node reserve (-m and --cpus). */
export function nodeUsage(n: SchedNode): { memoryBytes: number; nanoCpus: number } {
  let memoryBytes = 0;
  let nanoCpus = 0;
  for (const c of n.containers) {
    memoryBytes += c.memoryBytes;
    nanoCpus += c.nanoCpus;
  }
  return { memoryBytes, nanoCpus };
}

interface Weighted {
  node: SchedNode;
  weight: number;
  index: number;
}

/**
 * Swarm's weighNodes (strategy/weighted_node.go): a node smaller than the request is skipped;
 * cpu and memory scores are (used + requested) * 100 / total, 100 when nothing is requested,
 * and a node scoring over 100 on either is skipped; weight = cpu + memory + factor * health.
 */
export function weighNodes(spec: PlacementSpec, nodes: SchedNode[], healthFactor: number, o: WeighOptions): Weighted[] {
  const out: Weighted[] = [];
  nodes.forEach((node, index) => {
    const total = nodeTotals(node, o);
    if (total.memoryBytes < spec.memoryBytes || total.nanoCpus < spec.nanoCpus) return;
    const used = nodeUsage(node);
    const cpuScore = spec.nanoCpus > 0 ? Math.floor(((used.nanoCpus + spec.nanoCpus) * 100) / total.nanoCpus) : 100;
    const memScore = spec.memoryBytes > 0 ? Math.floor(((used.memoryBytes + spec.memoryBytes) * 100) / total.memoryBytes) : 100;
    if (cpuScore <= 100 && memScore <= 100) out.push({ node, weight: cpuScore + memScore + healthFactor * (node.healthy ? 100 : 0), index });
  });
  if (out.length === 0) throw new NoResources();
  return out;
}

/** Fewest reserved first; equal weights go to the node with fewer containers (Swarm's spread, the default). */
export class SpreadStrategy implements Strategy {
  readonly name = 'spread';
  constructor(private readonly o: WeighOptions) {}
  rankAndSort(spec: PlacementSpec, nodes: SchedNode[]): SchedNode[] {
    // -10: health [0, 100] outweighs cpu + memory (each [0, 100])
    const w = weighNodes(spec, nodes, -10, this.o);
    w.sort((a, b) => a.weight - b.weight || a.node.containerCount - b.node.containerCount || a.index - b.index);
    return w.map((x) => x.node);
  }
}

/** Most reserved first; equal weights go to the node with more containers (Swarm's binpack). */
export class BinpackStrategy implements Strategy {
  readonly name = 'binpack';
  constructor(private readonly o: WeighOptions) {}
  rankAndSort(spec: PlacementSpec, nodes: SchedNode[]): SchedNode[] {
    const w = weighNodes(spec, nodes, 10, this.o);
    w.sort((a, b) => b.weight - a.weight || b.node.containerCount - a.node.containerCount || a.index - b.index);
    return w.map((x) => x.node);
  }
}

/**
 * A shuffle of the filtered nodes, as Swarm's random. Unlike Swarm's, it still skips nodes
 * that cannot take the reservation: a reservation never overcommits a node.
 */
export class RandomStrategy implements Strategy {
  readonly name = 'random';
  constructor(
    private readonly o: WeighOptions,
    private readonly random: () => number = Math.random,
  ) {}
  rankAndSort(spec: PlacementSpec, nodes: SchedNode[]): SchedNode[] {
    const out = weighNodes(spec, nodes, 0, this.o).map((w) => w.node);
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

export function createStrategy(name: StrategyName, o: WeighOptions, random?: () => number): Strategy {
  if (name === 'binpack') return new BinpackStrategy(o);
  if (name === 'random') return new RandomStrategy(o, random);
  return new SpreadStrategy(o);
}

/** Whether the node still has room for the reservation (the check a commit repeats on fresh data). */
export function fits(spec: PlacementSpec, node: SchedNode, o: WeighOptions): boolean {
  try {
    weighNodes(spec, [node], 0, o);
    return true;
  } catch {
    return false;
  }
}
