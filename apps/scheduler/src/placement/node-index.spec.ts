import { NodeIndex } from './node-index';
import { selectNodes } from './select';
import { createStrategy, type StrategyName } from './strategies';
import { GiB, spec } from './testing';
import type { PlacedContainer, PlacementSpec, SchedNode } from './types';

/** mulberry32, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DOWN_AFTER = 8000;
const NOW = 1_000_000;

interface World {
  index: NodeIndex;
  nodes: SchedNode[];
  names: string[];
  containerNames: string[];
  ids: string[];
}

/** A random cluster, fed to an index and built independently as the SchedNode list selectNodes reads. */
function world(r: () => number): World {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const index = new NodeIndex({ downAfterMs: DOWN_AFTER, overcommitPercent: 5, now: () => NOW });
  const count = 1 + Math.floor(r() * 12);
  const nodes: SchedNode[] = [];
  const containerNames: string[] = [];
  const ids: string[] = [];
  let serial = 0;
  for (let n = 0; n < count; n++) {
    // ids not in insertion order: the tie-break is by id
    const id = `${Math.floor(r() * 1e6).toString(16).padStart(5, '0')}-${n}`;
    const name = `node${n}`;
    const labels: Record<string, string> = { storagedriver: 'overlay2', region: pick(['us-east', 'us-west', 'eu-west']) };
    if (r() < 0.5) labels.disk = pick(['ssd', 'hdd']);
    if (r() < 0.2) labels.containerslots = pick(['1', '2', '3', 'x']);
    const beat = r() < 0.9;
    const seen = r() < 0.8 ? NOW - 1000 : NOW - 9000;
    const drained = r() < 0.1;
    const cpus = pick([0, 1, 2, 4]);
    const memoryBytes = pick([0, 1, 2, 4]) * GiB;
    const reported = Math.floor(r() * 3);
    const committed: Record<string, PlacedContainer> = {};
    const held: PlacedContainer[] = [];
    const k = Math.floor(r() * 5);
    for (let j = 0; j < k; j++) {
      const requestId = `req${serial++}x`;
      const c: PlacedContainer = {
        requestId,
        id: r() < 0.5 ? `${Math.floor(r() * 1e8).toString(16).padStart(8, 'a')}cafe${j}` : undefined,
        name: r() < 0.8 ? `c${serial}` : undefined,
        image: r() < 0.8 ? pick(['nginx:1.25', 'redis:7', 'reg:5000/a/b:1', 'nginx@sha256:abc']) : undefined,
        labels: r() < 0.4 ? { tier: pick(['web', 'db']) } : {},
        memoryBytes: pick([0, 0, 256 * 1024 * 1024, GiB]),
        nanoCpus: pick([0, 0, 5e8, 1e9]),
        ports: r() < 0.4 ? [{ containerPort: '80/tcp', hostIp: pick(['', '127.0.0.1', '10.0.0.1']), hostPort: pick(['80', '8080', '']) }] : [],
        hostNetwork: r() < 0.15 || undefined,
      };
      if (c.hostNetwork) c.exposedPorts = [pick(['80/tcp', '53/udp'])];
      if (c.name) containerNames.push(c.name);
      if (c.id) ids.push(c.id);
      ids.push(requestId);
      if (r() < 0.7) committed[requestId] = c;
      else held.push(c);
    }
    // some held reservations already committed (the moment between a commit and its unhold)
    const dup = Object.values(committed).find(() => r() < 0.2);
    if (beat) index.upsertNode(id, { name, labels, cpus, memoryBytes, reportedContainers: reported, supervisorAddress: `${name}:1` }, seen);
    index.setRecord(id, drained, committed);
    for (const h of held) index.hold(id, h as PlacedContainer & { requestId: string });
    if (dup) index.hold(id, { ...dup, requestId: dup.requestId! });
    if (!beat && Object.keys(committed).length === 0 && !drained) continue; // not listed (as NodeView.list)
    const containers = [...Object.values(committed), ...held];
    nodes.push({
      id,
      name: beat ? name : id,
      labels: beat ? labels : {},
      healthy: beat && NOW - seen <= DOWN_AFTER && !drained,
      cpus: beat ? cpus : 0,
      memoryBytes: beat ? memoryBytes : 0,
      containers,
      containerCount: Math.max(Object.keys(committed).length, beat ? reported : 0) + held.length,
      images: [],
      supervisorAddress: `${name}:1`,
    });
  }
  nodes.sort((a, b) => (a.id < b.id ? -1 : 1));
  return { index, nodes, names: nodes.map((n) => n.name), containerNames, ids };
}

function randomSpec(r: () => number, w: World): PlacementSpec {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const some = <T>(make: () => T, p: number, max = 2): T[] => Array.from({ length: r() < p ? 1 + Math.floor(r() * max) : 0 }, make);
  const cname = () => (w.containerNames.length && r() < 0.8 ? pick(w.containerNames) : 'nosuch');
  const constraints = some(
    () =>
      pick([
        () => `node==${pick(w.names)}`,
        () => `node==${pick(w.nodes).id}`,
        () => `node!=${pick(w.names)}`,
        () => `node==node*`,
        () => `region==${pick(['us-east', 'us-*', 'eu-west', '/^us/', '~us-west', 'mars', '~mars'])}`,
        () => `region!=${pick(['us-east', 'us-*', '~eu-west'])}`,
        () => `disk==${pick(['ssd', 'hdd', '~ssd', '*'])}`,
        () => `disk!=ssd`,
        () => `storagedriver==overlay*`,
        () => `bad=syntax`,
      ])(),
    0.6,
  );
  const affinities = some(
    () =>
      pick([
        () => `container==${cname()}`,
        () => `container!=${cname()}`,
        () => `container==~${cname()}`,
        () => `container==c1*`,
        () => `container==${w.ids.length ? pick(w.ids) : 'x'}`,
        () => `image==${pick(['nginx', 'nginx:1.25', 'redis*', '~postgres', 'reg:5000/a/b', '/^re/'])}`,
        () => `image!=nginx`,
        () => `tier==${pick(['web', 'db', '~web'])}`,
        () => `tier!=db`,
      ])(),
    0.4,
  );
  const whitelists = some(() => `node==${pick(w.names)}|${pick(w.names)}`, 0.1, 1);
  const depRef = () => pick([cname(), w.ids.length ? pick(w.ids) : 'zz', w.ids.length ? pick(w.ids).slice(0, 5) : 'zz', w.ids.length ? pick(w.ids).slice(0, 2) : 'z', `/${cname()}`]);
  const host = r() < 0.1;
  return spec({
    constraints,
    affinities,
    whitelists,
    memoryBytes: pick([0, 0, 128 * 1024 * 1024, GiB, 3 * GiB]),
    nanoCpus: pick([0, 0, 5e8, 1e9, 3e9]),
    ports: some(() => ({ containerPort: '80/tcp', hostIp: pick(['', '127.0.0.1', '10.0.0.2']), hostPort: pick(['80', '8080', '9090', '']) }), 0.3),
    networkMode: host ? 'host' : r() < 0.05 ? `container:${depRef()}` : '',
    exposedPorts: host ? [pick(['80/tcp', '53/udp', '443/tcp'])] : [],
    links: some(() => `${depRef()}:alias`, 0.1, 1),
    volumesFrom: some(() => `${depRef()}:ro`, 0.05, 1),
  });
}

function expected(s: PlacementSpec, nodes: SchedNode[], name: StrategyName): SchedNode[] | undefined {
  try {
    return selectNodes(s, nodes, createStrategy(name, { overcommitPercent: 5 }));
  } catch {
    return undefined;
  }
}

describe('NodeIndex.choose', () => {
  it('picks the node selectNodes ranks first, on random clusters and requests (spread, binpack)', () => {
    let compared = 0;
    let placed = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const r = prng(seed);
      const w = world(r);
      for (let q = 0; q < 25; q++) {
        const s = randomSpec(r, w);
        for (const name of ['spread', 'binpack'] as const) {
          const want = expected(s, w.nodes, name)?.[0]?.id;
          const got = w.index.choose(s, name);
          if (got !== want) throw new Error(`seed ${seed} query ${q} ${name}: index chose ${got}, selectNodes ${want}\nspec ${JSON.stringify(s)}`);
          compared++;
          if (want) placed++;
        }
      }
    }
    // the random cases must exercise both outcomes
    expect(compared).toBe(400 * 25 * 2);
    expect(placed).toBeGreaterThan(compared / 5);
    expect(placed).toBeLessThan(compared);
  });

  it('chooses a fitting node at random (random)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = prng(seed);
      const w = world(r);
      for (let q = 0; q < 10; q++) {
        const s = randomSpec(r, w);
        const fitting = expected(s, w.nodes, 'random')?.map((n) => n.id);
        const got = w.index.choose(s, 'random');
        if (fitting === undefined) expect(got).toBeUndefined();
        else expect(fitting).toContain(got);
      }
    }
  });

  it('follows records, holds and heartbeats as they change', () => {
    const index = new NodeIndex({ downAfterMs: DOWN_AFTER, overcommitPercent: 0, now: () => NOW });
    const shape = (name: string) => ({ name, labels: {}, cpus: 1, memoryBytes: GiB, reportedContainers: 0, supervisorAddress: '' });
    index.upsertNode('a', shape('a'), NOW);
    index.upsertNode('b', shape('b'), NOW);
    const half = { memoryBytes: GiB / 2, nanoCpus: 0, ports: [] };
    const s = spec({ memoryBytes: GiB / 2 });
    expect(index.choose(s, 'spread')).toBe('a');
    index.hold('a', { ...half, requestId: 'r1' });
    expect(index.choose(s, 'spread')).toBe('b');
    // committed: counted once, whether the hold is still there or not
    const c1 = { ...half, requestId: 'r1' };
    index.setRecord('a', false, { r1: c1 });
    index.hold('b', { ...half, requestId: 'r2' });
    expect(index.choose(s, 'binpack')).toBe('a');
    index.unhold('a', 'r1');
    index.setRecord('a', false, { r1: c1, r3: { ...half, requestId: 'r3' } });
    expect(index.choose(s, 'spread')).toBe('b');
    // a full node and a drained one: nothing fits
    index.hold('b', { ...half, requestId: 'r4' });
    expect(index.choose(s, 'spread')).toBeUndefined();
    index.setRecord('a', false, { r1: c1 });
    expect(index.choose(s, 'spread')).toBe('a');
    index.setRecord('a', true, { r1: c1 });
    expect(index.choose(s, 'spread')).toBeUndefined();
    // labels change: cached constraint results follow
    index.upsertNode('b', { ...shape('b'), labels: { zone: 'x' } }, NOW);
    index.unhold('b', 'r4');
    expect(index.choose(spec({ constraints: ['zone==x'] }), 'spread')).toBe('b');
    index.upsertNode('b', { ...shape('b'), labels: { zone: 'y' } }, NOW);
    expect(index.choose(spec({ constraints: ['zone==x'] }), 'spread')).toBeUndefined();
    // a stale beat is down
    index.upsertNode('b', shape('b'), NOW - DOWN_AFTER - 1);
    expect(index.choose(spec(), 'spread')).toBeUndefined();
  });
});
