import { FailedPreconditionError } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import { emptyRecord, REQUEST_ID, type NodeRecord, type PlacedContainer } from '@drydock/cluster';
import type { PlaceInput, Placement } from './placer';
import type { Mutation } from './record-writer';
import { markRescheduled, replacementRequestId, Rescheduler } from './rescheduler';

describe('replacementRequestId', () => {
  it('is the same for every scheduler and a valid request id, also for long keys', () => {
    expect(replacementRequestId('11111111-2222-4333-8444-555555555555', 'req-7')).toBe('req-7-rs-11111111-2222-4333-8444-555555555555');
    const long = replacementRequestId('n1', 'a'.repeat(64) + '-rs-' + 'b'.repeat(60));
    expect(long).toHaveLength(128);
    expect(REQUEST_ID.test(long)).toBe(true);
    expect(long.endsWith('-rs-n1')).toBe(true);
  });
});

describe('markRescheduled', () => {
  const to = { nodeId: 'n2', nodeName: 'node2', requestId: 'k-rs-n1', time: 1 };
  it('records the replacement on the entry once', () => {
    const rec = { ...emptyRecord('n1'), containers: { k: { memoryBytes: 0, nanoCpus: 0, ports: [], reschedule: 'on-node-failure' as const } } };
    const first = markRescheduled('k', to)(rec);
    expect(first.outcome).toEqual(to);
    expect(first.next!.containers.k.rescheduledTo).toEqual(to);
    // a second decision (another scheduler's) finds the first and changes nothing
    const second = markRescheduled('k', { ...to, nodeId: 'n3' })(first.next!);
    expect(second).toEqual({ outcome: to });
  });
  it('changes nothing when the entry is gone', () => {
    expect(markRescheduled('k', to)(emptyRecord('n1'))).toEqual({ outcome: undefined });
  });
});

describe('Rescheduler.sweep', () => {
  it('carries the create request to the reservation, and keeps trying a container no node fits until one does', async () => {
    let record: NodeRecord = {
      ...emptyRecord('n1'),
      containers: { k: { id: 'k', name: 'web', memoryBytes: 0, nanoCpus: 0, ports: [], reschedule: 'on-node-failure', create: { name: 'web' }, running: true } },
    };
    const placed: Array<Partial<PlacedContainer>> = [];
    let fits = false;
    const rs = new Rescheduler({
      backend: {
        downRecords: () => [{ nodeId: 'n1', record }],
        place: async (_input: PlaceInput, extra: Partial<PlacedContainer>): Promise<Placement> => {
          if (!fits) throw new FailedPreconditionError('Unable to find a node that satisfies the following conditions');
          placed.push(extra);
          return { nodeId: 'n2', nodeName: 'node2', supervisorAddress: '', env: [], labels: {}, rescheduleOnNodeFailure: true };
        },
        mutate: async <T>(_nodeId: string, m: Mutation<T>) => {
          const r = m(record);
          if (r.next) record = r.next;
          return r.outcome;
        },
      },
      logger: createLogger({ service: 'test', level: 'silent' }),
      intervalMs: 60000,
    });
    await rs.sweep();
    await rs.sweep();
    expect(record.containers.k.rescheduledTo).toBeUndefined();
    fits = true;
    await rs.sweep();
    expect(record.containers.k.rescheduledTo).toMatchObject({ nodeId: 'n2', requestId: 'k-rs-n1' });
    expect(placed).toEqual([{ rescheduledFrom: { nodeId: 'n1', key: 'k' }, reschedule: 'on-node-failure', create: { name: 'web' }, running: true }]);
    // decided: later sweeps leave it
    await rs.sweep();
    expect(placed).toHaveLength(1);
  });
});
