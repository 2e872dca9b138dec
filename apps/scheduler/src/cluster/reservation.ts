import type { PlacedContainer } from '../placement/types';
import { CLAIM_FRESH_MS, FENCE_KEEP_MS, type Fence, type NodeRecord } from '@drydock/cluster';

/** What an attempt to reserve a request on its claimed node found (placer.ts has the rules' argument). */
export type Reserved = 'placed' | 'present' | 'fenced' | 'stale' | 'no-fit';

export interface ReservationContext {
  /** The claim's revision the attempt acts on. */
  claimRevision: number;
  /** How long ago the attempt read (or created) that claim. */
  sinceClaimMs: number;
  /** Whether the request fits the node as this record has it (asked only when it matters). */
  fits: () => boolean;
  nodeName: string;
  now: number;
}

/**
 * One reservation decided on a node's record: present already; fenced (the claim moved on
 * from here: read it again); stale (the claim was read too long ago to act on); no-fit (a
 * fence for this claim is added, so the claim may then move); placed (the entry is added).
 * Expired fences are dropped on the way.
 */
export function decideReservation(record: NodeRecord, entry: PlacedContainer & { requestId: string }, c: ReservationContext): { next?: NodeRecord; outcome: Reserved } {
  const id = entry.requestId;
  if (record.containers[id]) return { outcome: 'present' };
  const fence = record.fences?.[id];
  if (fence && fence.claimRevision >= c.claimRevision) return { outcome: 'fenced' };
  if (c.sinceClaimMs > CLAIM_FRESH_MS) return { outcome: 'stale' };
  const fences = liveFences(record.fences, c.now, id);
  if (!c.fits()) return { next: { ...record, fences: { ...fences, [id]: { claimRevision: c.claimRevision, time: c.now } }, updatedAt: c.now }, outcome: 'no-fit' };
  const next: NodeRecord = { ...record, name: c.nodeName, containers: { ...record.containers, [id]: entry }, updatedAt: c.now };
  if (fences) next.fences = fences;
  else delete next.fences;
  return { next, outcome: 'placed' };
}

/** A record's fences without the expired ones and without `drop`; undefined when none is left. */
function liveFences(fences: Record<string, Fence> | undefined, now: number, drop: string): Record<string, Fence> | undefined {
  if (!fences) return undefined;
  const out: Record<string, Fence> = {};
  let any = false;
  for (const [k, f] of Object.entries(fences)) {
    if (k === drop || now - f.time > FENCE_KEEP_MS) continue;
    out[k] = f;
    any = true;
  }
  return any ? out : undefined;
}
