import { emptyRecord, REQUEST_ID } from '@drydock/cluster';
import { markRescheduled, replacementRequestId } from './rescheduler';

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
