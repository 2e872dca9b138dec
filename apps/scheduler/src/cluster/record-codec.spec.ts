import type { NodeRecord } from '@drydock/cluster';
import { encodeRecord } from './record-codec';

const text = (r: NodeRecord) => new TextDecoder().decode(encodeRecord(r));

describe('encodeRecord', () => {
  const entry = { requestId: 'r1', name: 'web', memoryBytes: 64, nanoCpus: 0, ports: [{ containerPort: '80/tcp', hostIp: '', hostPort: '8080' }], labels: { 'a"b': 'x\ny' } };
  const record: NodeRecord = { nodeId: 'n1', name: 'node1', drained: false, containers: { r1: entry, 'c\u00e9': { memoryBytes: 0, nanoCpus: 1, ports: [], image: undefined } }, updatedAt: 5 };

  it('writes what JSON.stringify writes', () => {
    expect(text(record)).toBe(JSON.stringify(record));
    const withFences = { ...record, fences: { r9: { claimRevision: 3, time: 1 } }, name: undefined };
    expect(text(withFences)).toBe(JSON.stringify(withFences));
    expect(text({ nodeId: 'n', drained: true, containers: {}, updatedAt: 0 })).toBe(JSON.stringify({ nodeId: 'n', drained: true, containers: {}, updatedAt: 0 }));
  });

  it('reuses an entry text, and a new entry is written anew', () => {
    const first = text(record);
    const changed = { ...record, containers: { ...record.containers, r1: { ...entry, memoryBytes: 128 } } };
    expect(text(changed)).toBe(JSON.stringify(changed));
    expect(text(record)).toBe(first);
  });
});
