import { BinpackStrategy, NO_RESOURCES, nodeTotals, RandomStrategy, SpreadStrategy, type Strategy } from './strategies';
import { add, GiB, node, spec } from './testing';
import type { SchedNode } from './types';

// Swarm's strategy tests build nodes with createNode(id, memoryGiB, cpus): memory grown by 5 % and truncated to whole GiB.
const o = { overcommitPercent: 0 };
const swarmNode = (id: string, memGiB: number, cpus: number) => node(id, { memoryBytes: Math.trunc(memGiB + memGiB * 0.05) * GiB, cpus });
const req = (memGiB: number, cpus: number) => spec({ memoryBytes: memGiB * GiB, nanoCpus: cpus * 1e9 });
const top = (s: Strategy, r: ReturnType<typeof req>, nodes: SchedNode[]) => s.rankAndSort(r, nodes)[0];
const place = (s: Strategy, r: ReturnType<typeof req>, nodes: SchedNode[]) => {
  const n = top(s, r, nodes);
  add(n, { memoryBytes: r.memoryBytes, nanoCpus: r.nanoCpus });
  return n;
};

describe('spread (Swarm spread_test.go)', () => {
  const s = new SpreadStrategy(o);
  it('splits evenly over nodes of different size when nothing is reserved', () => {
    const nodes = [swarmNode('node-0', 64, 21), swarmNode('node-1', 128, 42)];
    for (let i = 0; i < 60; i++) place(s, req(0, 0), nodes);
    expect(nodes.map((n) => n.containers.length)).toEqual([30, 30]);
  });
  it('splits by the CPU share reserved', () => {
    const nodes = [swarmNode('node-0', 64, 21), swarmNode('node-1', 128, 42)];
    for (let i = 0; i < 60; i++) place(s, req(0, 1), nodes);
    expect(nodes.map((n) => n.containers.length)).toEqual([20, 40]);
  });
  it('breaks equal weights towards fewer containers', () => {
    const nodes = [swarmNode('node-0', 4, 0), swarmNode('node-1', 4, 0)];
    add(nodes[0], { memoryBytes: 2 * GiB });
    add(nodes[1], { memoryBytes: GiB });
    add(nodes[1], { memoryBytes: GiB });
    expect(place(s, req(1, 0), nodes).id).toBe('node-0');
  });
  it('places apart, then refuses when full', () => {
    const nodes = Array.from({ length: 100 }, (_, i) => swarmNode(`node-${i}`, 1, 1));
    for (let i = 0; i < 100; i++) place(s, req(0, 1), nodes);
    expect(() => s.rankAndSort(req(0, 1), nodes)).toThrow(NO_RESOURCES);
    for (let i = 0; i < 100; i++) place(s, req(1, 0), nodes);
    expect(() => s.rankAndSort(req(1, 0), nodes)).toThrow(NO_RESOURCES);
    expect(nodes.every((n) => n.containers.length === 2)).toBe(true);
  });
  it('takes up to the overcommitted total and no more', () => {
    const nodes = [swarmNode('node-1', 100, 1)];
    for (const gib of [90, 100, 105]) expect(top(s, req(gib, 0), nodes)).toBe(nodes[0]);
    expect(() => s.rankAndSort(req(106, 0), nodes)).toThrow(NO_RESOURCES);
  });
  it('complex placement: the 1G goes beside the 2G', () => {
    const nodes = [swarmNode('node-0', 4, 4), swarmNode('node-1', 4, 4)];
    const n1 = place(s, req(2, 0), nodes);
    const n2 = place(s, req(3, 0), nodes);
    expect(n1).not.toBe(n2);
    expect(place(s, req(1, 0), nodes)).toBe(n1);
  });
});

describe('binpack (Swarm binpack_test.go)', () => {
  const s = new BinpackStrategy(o);
  it('breaks equal weights towards more containers', () => {
    const nodes = [swarmNode('node-0', 4, 0), swarmNode('node-1', 4, 0)];
    add(nodes[0], { memoryBytes: 2 * GiB });
    add(nodes[1], { memoryBytes: GiB });
    add(nodes[1], { memoryBytes: GiB });
    expect(place(s, req(1, 0), nodes).id).toBe('node-1');
  });
  it('the demo', () => {
    const nodes = [0, 1, 2].map((i) => swarmNode(`node-${i}`, 2, 4));
    expect(() => s.rankAndSort(req(10, 0), nodes)).toThrow(NO_RESOURCES);
    const n1 = place(s, req(1, 0), nodes);
    expect(place(s, req(1, 0), nodes)).toBe(n1);
    const n2 = place(s, req(2, 0), nodes);
    expect(n2).not.toBe(n1);
    const n3 = place(s, req(1, 0), nodes);
    expect([n1, n2]).not.toContain(n3);
    expect(place(s, req(1, 0), nodes)).toBe(n3);
    expect(() => s.rankAndSort(req(1, 0), nodes)).toThrow(NO_RESOURCES);
    n2.containers = [];
    n2.containerCount = 0;
    expect(place(s, req(1, 0), nodes)).toBe(n2);
  });
  it('complex placement: the 1G goes beside the 3G', () => {
    const nodes = [swarmNode('node-0', 4, 4), swarmNode('node-1', 4, 4)];
    const n1 = place(s, req(2, 0), nodes);
    const n2 = place(s, req(3, 0), nodes);
    expect(n1).not.toBe(n2);
    expect(place(s, req(1, 0), nodes)).toBe(n2);
  });
});

describe('random', () => {
  it('shuffles with the given source and still refuses what does not fit', () => {
    const nodes = [node('a', { memoryBytes: GiB }), node('b', { memoryBytes: 4 * GiB }), node('c', { memoryBytes: 4 * GiB })];
    const s = new RandomStrategy(o, () => 0);
    expect(s.rankAndSort(req(2, 0), nodes).map((n) => n.id)).toEqual(['c', 'b']);
  });
});

describe('nodeTotals', () => {
  it('adds the overcommit in whole CPUs and bytes, as the engine did', () => {
    expect(nodeTotals(node('a', { cpus: 2, memoryBytes: 1000 }), { overcommitPercent: 5 })).toEqual({ nanoCpus: 2e9, memoryBytes: 1050 });
    expect(nodeTotals(node('a', { cpus: 40, memoryBytes: 0 }), { overcommitPercent: 5 })).toEqual({ nanoCpus: 42e9, memoryBytes: 0 });
  });
});
