import type { PlacedContainer } from '../placement/types';
import { emptyRecord, type NodeRecord } from './directory';
import { encodeRecord } from './record-writer';

describe('encodeRecord', () => {
  it('writes what JSON.stringify writes, reusing each entry JSON', () => {
    const cache = new WeakMap<PlacedContainer, string>();
    const a: PlacedContainer = { requestId: 'a', name: 'x"y', memoryBytes: 1, nanoCpus: 2, ports: [{ containerPort: '80/tcp', hostIp: '', hostPort: '8080' }], labels: { 'com.docker.swarm.constraints': '["node==n1"]' } };
    const records: NodeRecord[] = [
      emptyRecord('n1'),
      { ...emptyRecord('n1', 'node1'), drained: true, containers: { a, 'k"2': { memoryBytes: 0, nanoCpus: 0, ports: [] } }, fences: { b: { claimRevision: 3, time: 4 } }, updatedAt: 5 },
    ];
    for (const r of records) expect(JSON.parse(encodeRecord(r, cache))).toEqual(JSON.parse(JSON.stringify(r)));
    expect(cache.get(a)).toBe(JSON.stringify(a));
    // a cached entry is not stringified again
    cache.set(a, '{"requestId":"cached","memoryBytes":0,"nanoCpus":0,"ports":[]}');
    expect(JSON.parse(encodeRecord(records[1], cache)).containers.a.requestId).toBe('cached');
  });
});
