import type { NodeSummary } from '../backend/supervisor-client';

/**
 * `docker info`'s SystemStatus rows as classic Swarm's manager wrote them (cluster/swarm
 * cluster.go Info): strategy and filters, the node count, then per node (sorted by name) its
 * address, id, status, containers, reserved/total CPUs and memory, labels and last update.
 */
export function swarmSystemStatus(nodes: NodeSummary[], strategy: string): [string, string][] {
  const rows: [string, string][] = [
    ['Role', 'primary'],
    ['Strategy', strategy],
    ['Filters', 'health, port, containerslots, dependency, affinity, constraint, whitelist'],
    ['Nodes', String(nodes.length)],
  ];
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    rows.push([` ${n.name || '(unknown)'}`, n.address]);
    rows.push(['  └ ID', n.id]);
    rows.push(['  └ Status', n.healthy ? 'Healthy' : 'Unhealthy']);
    const c = n.counts;
    rows.push(['  └ Containers', n.healthy ? `${c.total} (${c.running} Running, ${c.paused} Paused, ${c.stopped} Stopped)` : String(c.total)]);
    rows.push(['  └ Reserved CPUs', `${formatCpus(n.reservedNanoCpus)} / ${n.cpus}`]);
    rows.push(['  └ Reserved Memory', `${bytesSize(n.reservedMemoryBytes)} / ${bytesSize(n.memoryBytes)}`]);
    rows.push(['  └ Labels', Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).sort().join(', ')]);
    rows.push(['  └ UpdatedAt', n.lastSeen ? new Date(n.lastSeen).toISOString().replace(/\.\d{3}Z$/, 'Z') : '']);
  }
  return rows;
}

/** Swarm printed whole CPUs; --cpus reservations may be fractional. */
function formatCpus(nano: number): string {
  const cpus = nano / 1e9;
  return Number.isInteger(cpus) ? String(cpus) : cpus.toFixed(2).replace(/0+$/, '');
}

/** BytesSize of the go-units Swarm vendored: binary units, four significant digits, a space ("1.021 GiB", "0 B"). */
export function bytesSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(4))} ${units[i]}`;
}
