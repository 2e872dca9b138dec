import { CLAIM_FRESH_MS, emptyRecord, FENCE_KEEP_MS, type NodeRecord } from '@drydock/cluster';
import { decideReservation, type ReservationContext } from './reservation';

const entry = { requestId: 'r1', memoryBytes: 1, nanoCpus: 0, ports: [] };
const NOW = 10_000_000;
const ctx = (over: Partial<ReservationContext> = {}): ReservationContext => ({ claimRevision: 5, sinceClaimMs: 10, fits: () => true, nodeName: 'n1', now: NOW, ...over });
const record = (over: Partial<NodeRecord> = {}): NodeRecord => ({ ...emptyRecord('n1'), ...over });

describe('decideReservation', () => {
  it('adds the entry when the node fits and no fence stands', () => {
    const r = decideReservation(record(), entry, ctx());
    expect(r.outcome).toBe('placed');
    expect(r.next).toMatchObject({ name: 'n1', containers: { r1: entry }, updatedAt: NOW });
    expect(r.next!.fences).toBeUndefined();
  });

  it('finds an entry already there without writing', () => {
    expect(decideReservation(record({ containers: { r1: entry } }), entry, ctx({ fits: () => false }))).toEqual({ outcome: 'present' });
  });

  it('never adds the entry behind a fence for this claim or a later one', () => {
    for (const claimRevision of [5, 9]) {
      expect(decideReservation(record({ fences: { r1: { claimRevision, time: NOW } } }), entry, ctx({ claimRevision: 5 }))).toEqual({ outcome: 'fenced' });
    }
    // a fence for an earlier claim: the claim came back to this node, the entry may go in (and the fence goes)
    const back = decideReservation(record({ fences: { r1: { claimRevision: 4, time: NOW } } }), entry, ctx({ claimRevision: 5 }));
    expect(back.outcome).toBe('placed');
    expect(back.next!.fences).toBeUndefined();
  });

  it('does not act on a claim read too long ago', () => {
    expect(decideReservation(record(), entry, ctx({ sinceClaimMs: CLAIM_FRESH_MS + 1 }))).toEqual({ outcome: 'stale' });
  });

  it('fences the claim when the node no longer fits, and drops expired fences', () => {
    const old = { claimRevision: 1, time: NOW - FENCE_KEEP_MS - 1 };
    const kept = { claimRevision: 2, time: NOW - 1000 };
    const r = decideReservation(record({ fences: { old, kept } }), entry, ctx({ fits: () => false }));
    expect(r.outcome).toBe('no-fit');
    expect(r.next!.containers).toEqual({});
    expect(r.next!.fences).toEqual({ kept, r1: { claimRevision: 5, time: NOW } });
    const placed = decideReservation(record({ fences: { old, kept } }), entry, ctx());
    expect(placed.next!.fences).toEqual({ kept });
  });
});
