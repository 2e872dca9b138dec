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
}

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
      case 'publish':
      case 'expose':
      case 'health':
        // No networks, published ports or health checks exist on this node yet: nothing matches.
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
  return (c) => checks.every((f) => f(c));
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
