import { matchExpr, parseExprs, type Expr } from '@drydock/cluster';
import { bindsAll, findContainer, portInUse, repository } from './filters';
import { nodeTotals, type StrategyName, type WeighOptions } from './strategies';
import type { PlacedContainer, PlacementSpec, SchedNode } from './types';

/** What a heartbeat says about a node (the index's static part). */
export interface IndexedNodeInfo {
  name: string;
  /** Operator labels merged over the standard ones. */
  labels: Record<string, string>;
  cpus: number;
  memoryBytes: number;
  /** The node's own container count (its heartbeat's total). */
  reportedContainers: number;
  supervisorAddress: string;
}

export interface NodeIndexOptions extends WeighOptions {
  /** A node is healthy while its last beat is at most this old (and it is not drained). */
  downAfterMs: number;
  now?: () => number;
  random?: () => number;
}

/**
 * Which slots give an index value, and how many of their containers: most values (a name, an
 * id) belong to one container, kept as one number (count * SLOT_SPACE + slot) rather than a Map
 * per value, which at 100,000 containers was most of the heap the collector walked.
 */
type SlotCounts = number | Map<number, number>;
const SLOT_SPACE = 2 ** 24;

interface Slot {
  id: string;
  info?: IndexedNodeInfo;
  /** When its last beat was seen; -Infinity when never (a node known from the directory only). */
  seen: number;
  drained: boolean;
  /** The directory's containers, by record key. */
  committed: Map<string, PlacedContainer>;
  /** This scheduler's reservations not yet committed, by request id (counted unless committed). */
  held: Map<string, PlacedContainer>;
  usedMem: number;
  usedCpu: number;
  heldEffective: number;
  totMem: number;
  totCpu: number;
  /** containerslots, Infinity when absent or unparsable. */
  slotLimit: number;
}

/** One constraint's nodes: only the listed slots, or a bitmap over every slot (with its members, when known). */
type Narrowing = { only: number[] } | { bits: Uint8Array; members?: Int32Array } | { test: (slot: number) => boolean };

const LITERAL = /^[A-Za-z0-9_:@-]*$/;

function inc(map: Map<string, SlotCounts>, key: string, slot: number, d: number): void {
  const cur = map.get(key);
  if (cur === undefined) {
    if (d > 0) map.set(key, d * SLOT_SPACE + slot);
    return;
  }
  if (typeof cur === 'number') {
    const s0 = cur % SLOT_SPACE;
    const c0 = Math.floor(cur / SLOT_SPACE);
    if (s0 === slot) {
      if (c0 + d > 0) map.set(key, (c0 + d) * SLOT_SPACE + slot);
      else map.delete(key);
    } else if (d > 0) map.set(key, new Map([[s0, c0], [slot, d]]));
    return;
  }
  const v = (cur.get(slot) ?? 0) + d;
  if (v > 0) cur.set(slot, v);
  else {
    cur.delete(slot);
    if (cur.size === 0) map.delete(key);
  }
}

/** The slots of an index value. */
function slotsOf(v: SlotCounts | undefined): Iterable<number> {
  if (v === undefined) return [];
  return typeof v === 'number' ? [v % SLOT_SPACE] : v.keys();
}

/**
 * The cluster indexed for placement at thousands of nodes: the same filters and ranking as
 * selectNodes (classic Swarm's, every node weighed), answered from per-node aggregates kept up
 * to date as heartbeats, directory records and this scheduler's held reservations change,
 * instead of rebuilding and filtering every node's container list per request. Constraints on
 * node labels are evaluated once per distinct label value and cached until a node's labels
 * change; container and image affinities, dependencies and host ports are looked up in indexes
 * of the containers. choose() returns the node selectNodes would rank first (spread, binpack)
 * or a uniformly random fitting node (random), or undefined when none fits, so that the caller
 * runs selectNodes for Swarm's error text. node-index.spec.ts checks the equivalence.
 */
export class NodeIndex {
  private readonly slots: Slot[] = [];
  private readonly byId = new Map<string, number>();
  private readonly byName = new Map<string, Set<number>>();
  private readonly now: () => number;
  private readonly random: () => number;
  // container indexes: value -> slot -> how many of the slot's containers give it
  private readonly ports = new Map<string, SlotCounts>();
  private readonly hostExposed = new Map<string, SlotCounts>();
  private readonly names = new Map<string, SlotCounts>();
  private readonly affinityKeys = new Map<string, SlotCounts>();
  private readonly prefixes = new Map<string, SlotCounts>();
  private readonly images = new Map<string, SlotCounts>();
  private labelEpoch = 0;
  private readonly constraintCache = new Map<string, { epoch: number; bits: Uint8Array; members: Int32Array }>();
  private rank = new Int32Array(0);
  private rankDirty = true;
  private scratch = new Uint8Array(0);
  // typed mirrors of the slots' hot fields, for the per-request loop (sync() keeps them)
  private cap = 0;
  private aliveUntil = new Float64Array(0);
  private counts = new Float64Array(0);
  private limits = new Float64Array(0);
  private usedMem = new Float64Array(0);
  private usedCpu = new Float64Array(0);
  private totMem = new Float64Array(0);
  private totCpu = new Float64Array(0);
  private stamp = new Uint32Array(0);
  private stampGen = 0;

  constructor(private readonly opts: NodeIndexOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  private slot(id: string): Slot {
    let i = this.byId.get(id);
    if (i === undefined) {
      i = this.slots.length;
      this.slots.push({ id, seen: -Infinity, drained: false, committed: new Map(), held: new Map(), usedMem: 0, usedCpu: 0, heldEffective: 0, totMem: 0, totCpu: 0, slotLimit: Infinity });
      this.byId.set(id, i);
      this.rankDirty = true;
      this.labelEpoch++;
      if (i >= this.cap) this.grow(Math.max(64, this.cap * 2));
      this.sync(i);
    }
    return this.slots[i];
  }

  private grow(cap: number): void {
    const g = <A extends Float64Array | Uint32Array>(a: A, make: (n: number) => A): A => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.aliveUntil = g(this.aliveUntil, (n) => new Float64Array(n));
    this.counts = g(this.counts, (n) => new Float64Array(n));
    this.limits = g(this.limits, (n) => new Float64Array(n));
    this.usedMem = g(this.usedMem, (n) => new Float64Array(n));
    this.usedCpu = g(this.usedCpu, (n) => new Float64Array(n));
    this.totMem = g(this.totMem, (n) => new Float64Array(n));
    this.totCpu = g(this.totCpu, (n) => new Float64Array(n));
    this.stamp = g(this.stamp, (n) => new Uint32Array(n));
    this.cap = cap;
  }

  private sync(i: number): void {
    const s = this.slots[i];
    this.aliveUntil[i] = s.info !== undefined && !s.drained ? s.seen + this.opts.downAfterMs : -Infinity;
    this.counts[i] = this.count(s);
    this.limits[i] = s.slotLimit;
    this.usedMem[i] = s.usedMem;
    this.usedCpu[i] = s.usedCpu;
    this.totMem[i] = s.totMem;
    this.totCpu[i] = s.totCpu;
  }

  /** A heartbeat: the node's shape and when it was seen. */
  upsertNode(id: string, info: IndexedNodeInfo, seen: number): void {
    const s = this.slot(id);
    const i = this.byId.get(id)!;
    const old = s.info;
    if (!old || old.name !== info.name || JSON.stringify(old.labels) !== JSON.stringify(info.labels)) {
      if (old) this.byName.get(old.name)?.delete(i);
      let set = this.byName.get(info.name);
      if (!set) this.byName.set(info.name, (set = new Set()));
      set.add(i);
      this.labelEpoch++;
    }
    s.info = info;
    s.seen = seen;
    const t = nodeTotals({ cpus: info.cpus, memoryBytes: info.memoryBytes } as SchedNode, this.opts);
    s.totMem = t.memoryBytes;
    s.totCpu = t.nanoCpus;
    const text = info.labels.containerslots;
    s.slotLimit = text === undefined || !/^[+-]?\d+$/.test(text) ? Infinity : Number(text);
    this.sync(i);
  }

  /** The node deregistered (its heartbeat key deleted). */
  forgetBeat(id: string): void {
    const i = this.byId.get(id);
    if (i === undefined) return;
    const s = this.slots[i];
    if (s.info) this.byName.get(s.info.name)?.delete(i);
    s.info = undefined;
    s.seen = -Infinity;
    this.labelEpoch++;
    this.sync(i);
  }

  /** The node's directory record: its drain flag and committed containers, by record key. */
  setRecord(id: string, drained: boolean, containers: Record<string, PlacedContainer>): void {
    const s = this.slot(id);
    const i = this.byId.get(id)!;
    s.drained = drained;
    const next = containers;
    // leaving: committed entries gone or replaced
    for (const [k, c] of s.committed) {
      if (next[k] === c) continue;
      s.committed.delete(k);
      this.account(i, s, c, -1);
      const h = s.held.get(k);
      if (h) this.accountHeld(i, s, h, +1);
    }
    for (const k of Object.keys(next)) {
      const c = next[k];
      if (s.committed.get(k) === c) continue;
      const h = s.held.get(k);
      if (h) this.accountHeld(i, s, h, -1);
      s.committed.set(k, c);
      this.account(i, s, c, +1);
    }
    this.sync(i);
  }

  /** A reservation this scheduler decided and has not committed yet. */
  hold(id: string, c: PlacedContainer & { requestId: string }): void {
    const s = this.slot(id);
    const i = this.byId.get(id)!;
    const prev = s.held.get(c.requestId);
    if (prev && !s.committed.has(c.requestId)) this.accountHeld(i, s, prev, -1);
    s.held.set(c.requestId, c);
    if (!s.committed.has(c.requestId)) this.accountHeld(i, s, c, +1);
    this.sync(i);
  }

  unhold(id: string, requestId: string): void {
    const i = this.byId.get(id);
    if (i === undefined) return;
    const s = this.slots[i];
    const h = s.held.get(requestId);
    if (!h) return;
    s.held.delete(requestId);
    if (!s.committed.has(requestId)) this.accountHeld(i, s, h, -1);
    this.sync(i);
  }

  /** The held reservations on a node that its record does not hold yet. */
  heldOn(id: string): PlacedContainer[] {
    const i = this.byId.get(id);
    if (i === undefined) return [];
    const s = this.slots[i];
    return [...s.held].filter(([k]) => !s.committed.has(k)).map(([, c]) => c);
  }

  private accountHeld(i: number, s: Slot, c: PlacedContainer, d: 1 | -1): void {
    s.heldEffective += d;
    this.account(i, s, c, d);
  }

  private account(i: number, s: Slot, c: PlacedContainer, d: 1 | -1): void {
    s.usedMem += d * c.memoryBytes;
    s.usedCpu += d * c.nanoCpus;
    for (const b of c.ports) if (b.hostPort !== '') inc(this.ports, b.hostPort, i, d);
    if (c.hostNetwork) for (const p of c.exposedPorts ?? []) inc(this.hostExposed, p, i, d);
    if (c.name) {
      inc(this.names, c.name, i, d);
      inc(this.affinityKeys, c.name, i, d);
      inc(this.affinityKeys, c.id ?? c.requestId ?? '', i, d);
    }
    if (c.id) inc(this.prefixes, c.id.slice(0, 4), i, d);
    if (c.requestId) inc(this.prefixes, c.requestId.slice(0, 4), i, d);
    if (c.image) {
      inc(this.images, c.image, i, d);
      inc(this.images, repository(c.image), i, d);
    }
  }

  private containersOf(s: Slot): PlacedContainer[] {
    const out = [...s.committed.values()];
    for (const [k, c] of s.held) if (!s.committed.has(k)) out.push(c);
    return out;
  }

  private count(s: Slot): number {
    return Math.max(s.committed.size, s.info?.reportedContainers ?? 0) + s.heldEffective;
  }

  private healthy(s: Slot, now: number): boolean {
    return s.info !== undefined && !s.drained && now - s.seen <= this.opts.downAfterMs;
  }

  /** The node as the filters see it, held reservations included. */
  node(id: string): SchedNode | undefined {
    const i = this.byId.get(id);
    if (i === undefined) return undefined;
    const s = this.slots[i];
    return {
      id,
      name: s.info?.name ?? id,
      labels: s.info?.labels ?? {},
      healthy: this.healthy(s, this.now()),
      cpus: s.info?.cpus ?? 0,
      memoryBytes: s.info?.memoryBytes ?? 0,
      containers: this.containersOf(s),
      containerCount: this.count(s),
      images: [],
      supervisorAddress: s.info?.supervisorAddress ?? '',
    };
  }

  private ranks(): Int32Array {
    if (this.rankDirty) {
      const order = this.slots.map((s, i) => [s.id, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.rank = new Int32Array(this.slots.length);
      order.forEach(([, i], r) => (this.rank[i] = r));
      this.rankDirty = false;
    }
    return this.rank;
  }

  /**
   * The node selectNodes would put first, or undefined when no node fits (or an expression
   * does not parse): the caller then runs selectNodes for the error.
   */
  choose(spec: PlacementSpec, strategy: StrategyName): string | undefined {
    let exprs: { constraints: Expr[]; affinities: Expr[]; whitelists: Expr[] };
    try {
      exprs = { constraints: parseExprs(spec.constraints), affinities: parseExprs(spec.affinities), whitelists: parseExprs(spec.whitelists) };
    } catch {
      return undefined;
    }
    const first = this.pass(spec, exprs, strategy, true);
    if (first !== undefined) return first;
    const hasSoft = [...exprs.constraints, ...exprs.affinities, ...exprs.whitelists].some((e) => e.soft);
    return hasSoft ? this.pass(spec, exprs, strategy, false) : undefined;
  }

  private pass(spec: PlacementSpec, exprs: { constraints: Expr[]; affinities: Expr[]; whitelists: Expr[] }, strategy: StrategyName, soft: boolean): string | undefined {
    const narrowings: Narrowing[] = [];
    const use = (e: Expr) => soft || !e.soft;
    for (const e of exprs.constraints) if (use(e)) narrowings.push(this.constraint(e));
    for (const e of exprs.affinities) if (use(e)) narrowings.push(this.affinity(e));
    for (const e of exprs.whitelists) {
      if (!use(e)) continue;
      const only: number[] = [];
      for (const name of e.value.split('|')) for (const i of this.byName.get(name) ?? []) only.push(i);
      narrowings.push({ only });
    }
    for (const n of this.dependencies(spec)) narrowings.push(n);
    const excluded = this.portConflicts(spec);

    const onlys: number[][] = [];
    let bits: Uint8Array[] = [];
    const tests: Array<(i: number) => boolean> = [];
    // the label constraint with the fewest nodes: its members are walked instead of every slot
    let narrowest: { bits: Uint8Array; members: Int32Array } | undefined;
    for (const x of narrowings) {
      if ('only' in x) onlys.push(x.only);
      else if ('bits' in x) {
        bits.push(x.bits);
        if (x.members && (!narrowest || x.members.length < narrowest.members.length)) narrowest = { bits: x.bits, members: x.members };
      } else tests.push(x.test);
    }
    // walk the smallest list of candidates; the others become membership tests
    onlys.sort((a, b) => a.length - b.length);
    const n = this.slots.length;
    let cand: number[] | undefined;
    for (const list of onlys) {
      if (!cand) cand = this.dedupe(list);
      else bits.push(this.bitmap(list));
    }
    if (this.scratch.length < n) this.scratch = new Uint8Array(Math.max(64, n * 2));
    let walk: Int32Array | null = cand === undefined ? null : Int32Array.from(cand);
    if (walk === null && narrowest) {
      walk = narrowest.members;
      const walked = narrowest.bits;
      bits = bits.filter((b) => b !== walked);
    }
    const best = this.scan(walk, walk === null ? n : walk.length, bits, tests, excluded ?? this.scratch, spec.memoryBytes, spec.nanoCpus, strategy === 'spread' ? 0 : strategy === 'binpack' ? 1 : 2);
    if (excluded) excluded.fill(0);
    return best < 0 ? undefined : this.slots[best].id;
  }

  /** The hot loop, kept small and monomorphic for the JIT: the best fitting slot, or -1. */
  private scan(cand: Int32Array | null, m: number, bits: Uint8Array[], tests: Array<(i: number) => boolean>, excluded: Uint8Array, mem: number, cpu: number, mode: number): number {
    const now = this.now();
    const rank = this.ranks();
    const aliveUntil = this.aliveUntil;
    const counts = this.counts;
    const limits = this.limits;
    const usedMem = this.usedMem;
    const usedCpu = this.usedCpu;
    const totMem = this.totMem;
    const totCpu = this.totCpu;
    const nb = bits.length;
    const nt = tests.length;
    let best = -1;
    let bestW = 0;
    let bestCount = 0;
    let fitting = 0;
    for (let j = 0; j < m; j++) {
      const i = cand === null ? j : cand[j];
      if (aliveUntil[i] < now || excluded[i] === 1) continue;
      const count = counts[i];
      if (count >= limits[i]) continue;
      let ok = true;
      for (let b = 0; b < nb && ok; b++) ok = bits[b][i] === 1;
      for (let t = 0; t < nt && ok; t++) ok = tests[t](i);
      if (!ok) continue;
      const tm = totMem[i];
      const tc = totCpu[i];
      if (tm < mem || tc < cpu) continue;
      const cpuScore = cpu > 0 ? Math.floor(((usedCpu[i] + cpu) * 100) / tc) : 100;
      const memScore = mem > 0 ? Math.floor(((usedMem[i] + mem) * 100) / tm) : 100;
      if (cpuScore > 100 || memScore > 100) continue;
      const w = cpuScore + memScore;
      if (mode === 0) {
        if (best < 0 || w < bestW || (w === bestW && (count < bestCount || (count === bestCount && rank[i] < rank[best])))) {
          best = i;
          bestW = w;
          bestCount = count;
        }
      } else if (mode === 1) {
        if (best < 0 || w > bestW || (w === bestW && (count > bestCount || (count === bestCount && rank[i] < rank[best])))) {
          best = i;
          bestW = w;
          bestCount = count;
        }
      } else {
        // reservoir sampling: every fitting node equally likely, as a shuffle's first
        fitting++;
        if (this.random() * fitting < 1) best = i;
      }
    }
    return best;
  }

  private nextStamp(): number {
    if (++this.stampGen === 0xffffffff) {
      this.stamp.fill(0);
      this.stampGen = 1;
    }
    return this.stampGen;
  }

  private dedupe(list: number[]): number[] {
    const g = this.nextStamp();
    const out: number[] = [];
    for (const i of list) {
      if (this.stamp[i] === g) continue;
      this.stamp[i] = g;
      out.push(i);
    }
    return out;
  }

  private bitmap(list: Iterable<number>): Uint8Array {
    const bits = new Uint8Array(this.slots.length);
    for (const i of list) bits[i] = 1;
    return bits;
  }

  /** constraint:node== (id or name) or a node label; one evaluation per distinct value, cached until labels change. */
  private constraint(e: Expr): Narrowing {
    if (e.key === 'node' && e.operator === '==' && LITERAL.test(e.value)) {
      const only = [...(this.byName.get(e.value) ?? [])];
      const i = this.byId.get(e.value);
      if (i !== undefined && this.slots[i].info) only.push(i);
      return { only };
    }
    const key = `${e.key}\u0000${e.operator}\u0000${e.value}`;
    const hit = this.constraintCache.get(key);
    if (hit && hit.epoch === this.labelEpoch && hit.bits.length === this.slots.length) return { bits: hit.bits, members: hit.members };
    const bits = new Uint8Array(this.slots.length);
    const memo = new Map<string, boolean>();
    this.slots.forEach((s, i) => {
      if (e.key === 'node') {
        bits[i] = matchExpr(e, [s.id, s.info?.name ?? s.id]) ? 1 : 0;
        return;
      }
      const v = s.info?.labels[e.key] ?? '';
      let m = memo.get(v);
      if (m === undefined) memo.set(v, (m = matchExpr(e, [v])));
      bits[i] = m ? 1 : 0;
    });
    let n = 0;
    for (let i = 0; i < bits.length; i++) n += bits[i];
    const members = new Int32Array(n);
    for (let i = 0, j = 0; i < bits.length; i++) if (bits[i] === 1) members[j++] = i;
    if (this.constraintCache.size > 512) this.constraintCache.clear();
    this.constraintCache.set(key, { epoch: this.labelEpoch, bits, members });
    return { bits, members };
  }

  /** affinity:container== / image== from the container indexes; a container-label affinity node by node. */
  private affinity(e: Expr): Narrowing {
    const index = e.key === 'container' ? this.affinityKeys : e.key === 'image' ? this.images : undefined;
    if (!index) {
      return {
        test: (i) => {
          const values = this.containersOf(this.slots[i]).map((c) => c.labels?.[e.key] ?? '');
          return matchExpr(e, values);
        },
      };
    }
    // slots with at least one value matching the pattern (operator aside)
    const pattern: Expr = { ...e, operator: '==' };
    const matching = new Uint8Array(this.slots.length);
    if (e.key === 'container' && LITERAL.test(e.value)) {
      const slots = index.get(e.value);
      if (e.operator === '==') return { only: [...slotsOf(slots)] };
      for (const i of slotsOf(slots)) matching[i] = 1;
    } else {
      for (const [v, slots] of index) if (matchExpr(pattern, [v])) for (const i of slotsOf(slots)) matching[i] = 1;
    }
    if (e.operator === '!=') for (let i = 0; i < matching.length; i++) matching[i] ^= 1;
    return { bits: matching };
  }

  /** --volumes-from, --link, --network container:: the nodes holding each, found through names and id prefixes. */
  private dependencies(spec: PlacementSpec): Narrowing[] {
    const refs = [...spec.volumesFrom.map((v) => v.split(':')[0]), ...spec.links.map((l) => l.split(':')[0])];
    if (spec.networkMode.startsWith('container:')) refs.push(spec.networkMode.slice('container:'.length));
    return refs.map((ref) => {
      if (ref.length < 4) return { test: (i: number) => findContainer(this.containersOf(this.slots[i]), ref) !== undefined };
      const maybe = new Set<number>();
      for (const k of [ref, ref.replace(/^\//, '')]) for (const i of slotsOf(this.names.get(k))) maybe.add(i);
      for (const i of slotsOf(this.prefixes.get(ref.slice(0, 4)))) maybe.add(i);
      return { only: [...maybe].filter((i) => findContainer(this.containersOf(this.slots[i]), ref) !== undefined) };
    });
  }

  /** The nodes a published host port (or, with --network host, an exposed port) is taken on; undefined when none asked. */
  private portConflicts(spec: PlacementSpec): Uint8Array | undefined {
    const hostMode = spec.networkMode === 'host';
    const wanted = hostMode ? spec.exposedPorts : spec.ports.filter((b) => b.hostPort !== '');
    if (wanted.length === 0) return undefined;
    if (this.scratch.length < this.slots.length) this.scratch = new Uint8Array(this.slots.length * 2);
    const out = this.scratch;
    if (hostMode) {
      for (const p of spec.exposedPorts) for (const i of slotsOf(this.hostExposed.get(p))) out[i] = 1;
    } else {
      for (const b of spec.ports) {
        if (b.hostPort === '') continue;
        // every interface: any holder of the port clashes, no need to look at its containers
        const all = bindsAll(b.hostIp);
        for (const i of slotsOf(this.ports.get(b.hostPort))) if (!out[i] && (all || portInUse(this.containersOf(this.slots[i]), b))) out[i] = 1;
      }
    }
    return out;
  }
}

