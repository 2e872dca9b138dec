import type { NodeSummary } from '../backend/supervisor-client';
import { withSwarmNode } from '../routes/events.routes';
import { bytesSize, swarmSystemStatus } from './swarm-info';

const node = (name: string, healthy: boolean): NodeSummary => ({
  id: `id-${name}`,
  name,
  address: `10.0.0.${name.length}:7701`,
  ip: `10.0.0.${name.length}`,
  labels: { storagedriver: 'overlay2', zone: 'a' },
  cpus: 4,
  memoryBytes: 1096290304,
  healthy,
  lastSeen: Date.UTC(2026, 11, 4, 18, 0, 0, 123),
  counts: { total: 3, running: 2, paused: 0, stopped: 1 },
  reservedNanoCpus: 1.5e9,
  reservedMemoryBytes: 64 * 1024 * 1024,
});

describe('classic Swarm rows of docker info', () => {
  it('lists the nodes by name with the manager rows', () => {
    const rows = swarmSystemStatus([node('nodeb', false), node('a', true)], 'spread');
    expect(rows.slice(0, 4)).toEqual([
      ['Role', 'primary'],
      ['Strategy', 'spread'],
      ['Filters', 'health, port, containerslots, dependency, affinity, constraint, whitelist'],
      ['Nodes', '2'],
    ]);
    expect(rows.slice(4, 12)).toEqual([
      [' a', '10.0.0.1:7701'],
      ['  └ ID', 'id-a'],
      ['  └ Status', 'Healthy'],
      ['  └ Containers', '3 (2 Running, 0 Paused, 1 Stopped)'],
      ['  └ Reserved CPUs', '1.5 / 4'],
      ['  └ Reserved Memory', '64 MiB / 1.021 GiB'],
      ['  └ Labels', 'storagedriver=overlay2, zone=a'],
      ['  └ UpdatedAt', '2026-12-04T18:00:00Z'],
    ]);
    // an unhealthy node shows its count only, as Swarm did
    expect(rows.slice(12, 16)).toEqual([
      [' nodeb', '10.0.0.5:7701'],
      ['  └ ID', 'id-nodeb'],
      ['  └ Status', 'Unhealthy'],
      ['  └ Containers', '3'],
    ]);
  });

  it('writes sizes as go-units BytesSize', () => {
    expect(bytesSize(0)).toBe('0 B');
    expect(bytesSize(1536)).toBe('1.5 KiB');
    expect(bytesSize(8 * 1024 ** 3)).toBe('8 GiB');
  });
});

describe('events with the node', () => {
  it('adds the node as classic Swarm relayed it, keeping dockerd shape', () => {
    const ev = { status: 'start', id: 'c1', from: 'busybox', Type: 'container', Action: 'start', Actor: { ID: 'c1', Attributes: { image: 'busybox', name: 'web' } }, scope: 'local', time: 1, timeNano: 1e9 };
    expect(withSwarmNode(ev, node('a', true), 'id-a')).toEqual({
      ...ev,
      from: 'busybox node:a',
      Actor: { ID: 'c1', Attributes: { image: 'busybox', name: 'web', 'node.name': 'a', 'node.id': 'id-a', 'node.addr': '10.0.0.1:7701', 'node.ip': '10.0.0.1' } },
      node: { Name: 'a', Id: 'id-a', Addr: '10.0.0.1:7701', Ip: '10.0.0.1' },
    });
    // a node gone from the view is named by its id
    expect(withSwarmNode(ev, undefined, 'id-x').Actor.Attributes!['node.name']).toBe('id-x');
  });
});
