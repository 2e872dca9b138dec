import { exprText, matchExpr, parseExprs, type Expr } from '@drydock/cluster';
import type { PlacedContainer, PlacementSpec, PublishedPort, SchedNode } from './types';

/** A filter that left no node; `message` is Swarm's text for it. */
export class FilterRejected extends Error {}

/** One of classic Swarm's filters (scheduler/filter): keeps the nodes the container may run on. */
export interface Filter {
  readonly name: string;
  /** The accepted subset; throws FilterRejected when none is left, or a parse error. */
  filter(spec: PlacementSpec, nodes: SchedNode[], soft: boolean): SchedNode[];
  /** The conditions this filter checks, as Swarm listed them in "Unable to find a node..." (throws on a parse error). */
  conditions(spec: PlacementSpec): string[];
}

/** Swarm's texts for a cluster with no fitting node. */
export const NO_HEALTHY_NODE = 'No healthy node available in the cluster';
export const NO_FREE_SLOTS = 'No node with enough open slots available in the cluster';

/** Nodes whose heartbeat is fresh and that are not drained. */
export const healthFilter: Filter = {
  name: 'health',
  filter(_spec, nodes) {
    const ok = nodes.filter((n) => n.healthy);
    if (ok.length === 0) throw new FilterRejected(NO_HEALTHY_NODE);
    return ok;
  },
  conditions: () => [],
};

/** An address that binds every interface ("", 0.0.0.0, ::): it clashes with any binding of its port. */
export const bindsAll = (ip: string) => ip === '' || ip === '0.0.0.0' || ip === '::' || /^[0:]+$/.test(ip) || /^0+(\.0+){3}$/.test(ip);

/** Whether a published binding clashes with a host port one of the containers holds. */
export function portInUse(containers: PlacedContainer[], want: PublishedPort): boolean {
  if (want.hostPort === '') return false;
  // Pending (reserved, not yet created) containers count as Swarm counted them (its issue 2499).
  return containers.some((c) => c.ports.some((b) => b.hostPort !== '' && b.hostPort === want.hostPort && (b.hostIp === want.hostIp || bindsAll(want.hostIp) || bindsAll(b.hostIp))));
}

/**
 * A published host port must be free on the node (Swarm compared host ports only, protocol
 * aside); with --network host the exposed ports must not be exposed by another host-network container.
 */
export const portFilter: Filter = {
  name: 'port',
  filter(spec, nodes) {
    if (spec.networkMode === 'host') {
      for (const port of spec.exposedPorts) {
        const left = nodes.filter((n) => !n.containers.some((c) => c.hostNetwork && (c.exposedPorts ?? []).includes(port)));
        if (left.length === 0) throw new FilterRejected(`unable to find a node with port ${port} available in the Host mode`);
        nodes = left;
      }
      return nodes;
    }
    for (const binding of spec.ports) {
      const left = nodes.filter((n) => !portInUse(n.containers, binding));
      if (left.length === 0) throw new FilterRejected(`unable to find a node with port ${binding.hostPort} available`);
      nodes = left;
    }
    return nodes;
  },
  conditions(spec) {
    if (spec.networkMode === 'host') return spec.exposedPorts.map((p) => `port ${p} (Host mode)`);
    return spec.ports.map((b) => `port ${b.hostPort} (Bridge mode)`);
  },
};

/** A node labelled containerslots=N takes at most N containers (an unparsable label is no limit). */
export const slotsFilter: Filter = {
  name: 'containerslots',
  filter(_spec, nodes) {
    const ok = nodes.filter((n) => {
      const text = n.labels.containerslots;
      if (text === undefined || !/^[+-]?\d+$/.test(text)) return true;
      return n.containerCount < Number(text);
    });
    if (ok.length === 0) throw new FilterRejected(NO_FREE_SLOTS);
    return ok;
  },
  conditions: () => ['available container slots'],
};

/** Swarm's Containers.Get: exact or short id, request id, then a unique name, then a unique id prefix. */
export function findContainer(containers: PlacedContainer[], ref: string): PlacedContainer | undefined {
  if (!ref) return undefined;
  const exact = containers.find((c) => c.id !== undefined && (c.id === ref || c.id.slice(0, 12) === ref));
  if (exact) return exact;
  const byRequest = containers.find((c) => c.requestId !== undefined && (c.requestId === ref || c.requestId.slice(0, 12) === ref));
  if (byRequest) return byRequest;
  const named = containers.filter((c) => c.name !== undefined && (c.name === ref || `/${c.name}` === ref));
  if (named.length === 1) return named[0];
  if (named.length > 1) return undefined;
  const prefixed = containers.filter((c) => (c.id?.startsWith(ref) ?? false) || (c.requestId?.startsWith(ref) ?? false));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

function dependencies(spec: PlacementSpec): { refs: string[]; texts: string[] } {
  const refs = [...spec.volumesFrom.map((v) => v.split(':')[0]), ...spec.links.map((l) => l.split(':')[0])];
  const texts = [...spec.volumesFrom.map((v) => `--volumes-from=${v}`), ...spec.links.map((l) => `--link=${l}`)];
  if (spec.networkMode.startsWith('container:')) {
    refs.push(spec.networkMode.slice('container:'.length));
    texts.push(`--net=${spec.networkMode}`);
  }
  return { refs, texts };
}

/** --volumes-from, --link and --network container: put the container beside what it depends on. */
export const dependencyFilter: Filter = {
  name: 'dependency',
  filter(spec, nodes) {
    if (nodes.length === 0) return nodes;
    const { refs, texts } = dependencies(spec);
    const ok = nodes.filter((n) => refs.every((r) => findContainer(n.containers, r) !== undefined));
    if (ok.length === 0) throw new FilterRejected(`Unable to find a node fulfilling all dependencies: ${texts.join(' ')}`);
    return ok;
  },
  conditions: (spec) => dependencies(spec).texts,
};

/** "nginx:1.25" -> "nginx", "reg:5000/a" stays, digests are cut at "@" (Swarm's ParseRepositoryTag). */
export function repository(ref: string): string {
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(0, at);
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref;
}

function affinityValues(e: Expr, n: SchedNode): string[] {
  switch (e.key) {
    case 'container':
      return n.containers.flatMap((c) => (c.name ? [c.id ?? c.requestId ?? '', c.name] : []));
    case 'image': {
      const refs = [...n.images, ...n.containers.flatMap((c) => (c.image ? [c.image] : []))];
      return refs.flatMap((r) => [r, repository(r)]);
    }
    default:
      return n.containers.map((c) => c.labels?.[e.key] ?? '');
  }
}

/** Expression filters: each expression in turn narrows the nodes; soft ones only in the first pass. */
function exprFilter(name: string, what: string, exprsOf: (s: PlacementSpec) => string[], values: (e: Expr, n: SchedNode) => string[], listed: (e: Expr) => string): Filter {
  return {
    name,
    filter(spec, nodes, soft) {
      for (const e of parseExprs(exprsOf(spec))) {
        if (!soft && e.soft) continue;
        const left = nodes.filter((n) => matchExpr(e, values(e, n)));
        if (left.length === 0) throw new FilterRejected(`unable to find a node that satisfies the ${what} ${exprText(e)}`);
        nodes = left;
      }
      return nodes;
    },
    conditions: (spec) => parseExprs(exprsOf(spec)).map(listed),
  };
}

const withSoft = (e: Expr) => `${exprText(e)} (soft=${e.soft})`;

/** affinity:container==, affinity:image==, or a container label on the node. */
export const affinityFilter = exprFilter('affinity', 'affinity', (s) => s.affinities, affinityValues, withSoft);

/** constraint:node== (id or name), or a node label (operator labels and the standard ones). */
export const constraintFilter = exprFilter(
  'constraint',
  'constraint',
  (s) => s.constraints,
  (e, n) => (e.key === 'node' ? [n.id, n.name] : [n.labels[e.key] ?? '']),
  exprText,
);

/** Swarm's internal whitelist (`node==a|b`): only the named nodes, by name. */
export const whitelistFilter: Filter = {
  name: 'whitelist',
  filter(spec, nodes, soft) {
    for (const e of parseExprs(spec.whitelists)) {
      if (!soft && e.soft) continue;
      const names = e.value.split('|');
      const left = nodes.filter((n) => names.includes(n.name));
      if (left.length === 0) throw new FilterRejected(`unable to find a node that satisfies the whitelist ${exprText(e)}`);
      nodes = left;
    }
    return nodes;
  },
  conditions: (spec) => parseExprs(spec.whitelists).map(withSoft),
};

/** Swarm's default filter chain, in its order (filter.go). */
export const DEFAULT_FILTERS: readonly Filter[] = [healthFilter, portFilter, slotsFilter, dependencyFilter, affinityFilter, constraintFilter, whitelistFilter];

/**
 * Runs the filters in order (Swarm's ApplyFilters). A rejection by health is returned as is;
 * any other failure (no node left, or a bad expression) becomes Swarm's
 * "Unable to find a node that satisfies the following conditions" followed by the
 * conditions of every filter up to the failing one.
 */
export function applyFilters(filters: readonly Filter[], spec: PlacementSpec, nodes: SchedNode[], soft: boolean): SchedNode[] {
  let candidates = nodes;
  for (const f of filters) {
    try {
      candidates = f.filter(spec, candidates, soft);
    } catch (err) {
      if (f.name === 'health') throw err;
      throw new FilterRejected(`Unable to find a node that satisfies the following conditions ${listConditions(filters, spec, f.name)}`, { cause: err });
    }
  }
  return candidates;
}

function listConditions(filters: readonly Filter[], spec: PlacementSpec, last: string): string {
  let all = '';
  for (const f of filters) {
    let list: string[];
    try {
      list = f.conditions(spec);
    } catch (err) {
      return `${all}\nerror from ${f.name} filter: ${(err as Error).message}`;
    }
    if (list.length > 0) all += `\n[${list.join(' ')}]`;
    if (f.name === last) return all;
  }
  return all;
}
