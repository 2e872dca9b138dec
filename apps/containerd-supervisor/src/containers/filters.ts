import { InvalidArgumentError } from '@drydock/errors';

/** The fields `docker ps --filter` looks at. */
export interface FilterableContainer {
  id: string;
  name: string;
  image: string;
  imageId: string;
  labels: Record<string, string>;
  status: string;
  exitCode: number;
  createdNs: bigint;
  mountSources: string[];
  mountDestinations: string[];
  volumeNames: string[];
  /** The networks in its NetworkSettings.Networks (kept while stopped, as dockerd). */
  networks?: { name: string; id: string }[];
  /** Its NetworkSettings ports (a running container's only): publicPort 0 for an exposed, unpublished one. */
  ports?: { privatePort: number; publicPort: number; type: string }[];
}

/** What the network area tells `ps` of a container (its networks and ports). */
export type NetFilterView = (containerId: string, running: boolean) => Pick<FilterableContainer, 'networks' | 'ports'>;

export interface Filter {
  key: string;
  values: string[];
}

const statuses = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);
const keys = new Set(['id', 'name', 'label', 'exited', 'status', 'ancestor', 'before', 'since', 'volume', 'network', 'health', 'isolation', 'is-task', 'publish', 'expose']);

/**
 * Builds a predicate with dockerd's `ps` filter semantics: values of one key are
 * OR-ed, keys are AND-ed. `lookup` resolves before/since references.
 */
export function containerFilter(filters: Filter[], lookup: (ref: string) => FilterableContainer): (c: FilterableContainer) => boolean {
  const checks: ((c: FilterableContainer) => boolean)[] = [];
  for (const { key, values } of filters) {
    if (!keys.has(key)) throw new InvalidArgumentError(`Invalid filter '${key}'`);
    if (values.length === 0) continue;
    switch (key) {
      case 'id':
        checks.push((c) => values.some((v) => c.id.startsWith(v)));
        break;
      case 'name': {
        const res = values.map((v) => safeRegex(v, key));
        checks.push((c) => res.some((r) => r.test(c.name) || r.test('/' + c.name)));
        break;
      }
      case 'label':
        checks.push((c) => values.every((v) => matchLabel(c.labels, v)));
        break;
      case 'exited': {
        const codes = values.map((v) => {
          if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`Invalid filter 'exited=${v}'`);
          return Number(v);
        });
        checks.push((c) => c.status === 'exited' && codes.includes(c.exitCode));
        break;
      }
      case 'status':
        for (const v of values) if (!statuses.has(v)) throw new InvalidArgumentError(`Invalid filter 'status=${v}'`);
        checks.push((c) => values.includes(c.status));
        break;
      case 'ancestor':
        checks.push((c) => values.some((v) => matchAncestor(c, v)));
        break;
      case 'before': {
        const refs = values.map(lookup);
        checks.push((c) => refs.every((r) => c.createdNs < r.createdNs));
        break;
      }
      case 'since': {
        const refs = values.map(lookup);
        checks.push((c) => refs.every((r) => c.createdNs > r.createdNs));
        break;
      }
      case 'volume':
        checks.push((c) => values.some((v) => c.mountSources.includes(v) || c.mountDestinations.includes(v) || c.volumeNames.includes(v)));
        break;
      case 'network':
        // daemon/list.go: a network name in Networks, or a prefix of one's id ("" matches any)
        checks.push((c) => values.some((v) => (c.networks ?? []).some((n) => n.name === v || n.id.startsWith(v))));
        break;
      case 'publish':
      case 'expose':
        // handled together below: a container passes if any port matches either set
        break;
      case 'health':
        // No health checks exist on this node yet: nothing matches.
        checks.push(() => false);
        break;
      case 'isolation':
        checks.push(() => values.includes('default'));
        break;
      case 'is-task':
        checks.push(() => values.includes('false'));
        break;
    }
  }
  const publish = portSet(filters, 'publish');
  const expose = portSet(filters, 'expose');
  if (publish.size || expose.size) {
    checks.push((c) => (c.ports ?? []).some((p) => publish.has(`${p.publicPort}/${p.type}`) || expose.has(`${p.privatePort}/${p.type}`)));
  }
  return (c) => checks.every((f) => f(c));
}

/**
 * daemon/list.go portOp: `port[/proto]` or `start-end[/proto]` (tcp by default) as a set of
 * "port/proto". dockerd's errors here are plain ones: 500.
 */
function portSet(filters: Filter[], key: 'publish' | 'expose'): Set<string> {
  const out = new Set<string>();
  for (const f of filters) {
    if (f.key !== key) continue;
    for (const value of f.values) {
      if (value.includes(':')) throw new InvalidArgumentError(`filter for '${key}' should not contain ':': ${value}`);
      const { proto, port } = splitProtoPort(value);
      const [start, end] = parsePortRange(port, (e) => new InvalidArgumentError(`error while looking up for ${key} ${value}: ${e}`));
      for (let i = start; i <= end; i++) out.add(`${i}/${proto}`);
    }
  }
  return out;
}

/** nat.SplitProtoPort. */
function splitProtoPort(raw: string): { proto: string; port: string } {
  const parts = raw.split('/');
  if (raw.length === 0 || parts[0].length === 0) return { proto: '', port: '' };
  if (parts.length === 1 || parts[1].length === 0) return { proto: 'tcp', port: parts[0] };
  return { proto: parts[1], port: parts[0] };
}

/** nat.ParsePortRange with Go's strconv.ParseUint(s, 10, 16) texts. */
function parsePortRange(ports: string, fail: (text: string) => Error): [number, number] {
  if (ports === '') throw fail('Empty string specified for ports.');
  const uint16 = (s: string): number => {
    if (!/^\d+$/.test(s)) throw fail(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
    const n = Number(s);
    if (n > 65535) throw fail(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
    return n;
  };
  if (!ports.includes('-')) {
    const p = uint16(ports);
    return [p, p];
  }
  const parts = ports.split('-');
  const start = uint16(parts[0]);
  const end = uint16(parts[1]);
  if (end < start) throw fail(`Invalid range specified for the Port: ${ports}`);
  return [start, end];
}

function safeRegex(v: string, key: string): RegExp {
  try {
    return new RegExp(v);
  } catch {
    throw new InvalidArgumentError(`Invalid filter '${key}=${v}'`);
  }
}

function matchLabel(labels: Record<string, string>, v: string): boolean {
  const eq = v.indexOf('=');
  if (eq < 0) return v in labels;
  return labels[v.slice(0, eq)] === v.slice(eq + 1);
}

function matchAncestor(c: FilterableContainer, v: string): boolean {
  const hex = v.replace(/^sha256:/, '');
  if (/^[0-9a-f]{4,64}$/.test(hex) && c.imageId.replace(/^sha256:/, '').startsWith(hex)) return true;
  const withTag = (s: string) => (/:[^/]+$/.test(s) || s.includes('@') ? s : `${s}:latest`);
  return withTag(c.image) === withTag(v) || c.image === v;
}
