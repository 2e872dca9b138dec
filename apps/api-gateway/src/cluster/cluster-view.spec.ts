import type { KV, KvEntry } from 'nats';
import { createLogger } from '@drydock/logging';
import type { NodeRecord, PlacedContainer } from '@drydock/cluster';
import { ClusterView } from './cluster-view';

const entry = (id: string, name: string, extra: Partial<PlacedContainer> = {}): PlacedContainer => ({ id, name, memoryBytes: 0, nanoCpus: 0, ports: [], ...extra });
const recordEntry = (nodeId: string, containers: Record<string, PlacedContainer>): KvEntry => {
  const value = new TextEncoder().encode(JSON.stringify({ nodeId, drained: false, containers, updatedAt: 1 } satisfies NodeRecord));
  return { key: `node.${nodeId}`, operation: 'PUT', value, length: value.length } as unknown as KvEntry;
};

describe('ClusterView.find', () => {
  it("resolves a rescheduled container's name to its replacement, its old id still to the lost node", () => {
    const view = new ClusterView({ nodes: {} as KV, directory: {} as KV, logger: createLogger({ service: 'test', level: 'silent' }), downAfterMs: 8000 });
    const to = { nodeId: 'n3', nodeName: 'node3', requestId: 'old-rs-n2', time: 1 };
    view.onRecord(recordEntry('n2', { old: entry('old', 'web', { rescheduledTo: to }), keep: entry('keep', 'db') }));
    view.onRecord(recordEntry('n3', { new: entry('new', 'web', { rescheduledFrom: { nodeId: 'n2', key: 'old' } }) }));
    expect(view.find('web')).toEqual([{ nodeId: 'n3', entry: expect.objectContaining({ id: 'new' }) }]);
    expect(view.find('old')).toEqual([{ nodeId: 'n2', entry: expect.objectContaining({ id: 'old' }) }]);
    expect(view.find('db')).toEqual([{ nodeId: 'n2', entry: expect.objectContaining({ id: 'keep' }) }]);
  });
});
