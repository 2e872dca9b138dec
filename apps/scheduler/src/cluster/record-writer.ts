import { UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { emptyRecord, getJson, isRevisionConflict, nodeKey, type NodeRecord } from '@drydock/cluster';
import type { DirectoryKv } from './coalesced-kv';
import type { NodeView } from './node-view';
import { encodeRecord } from './record-codec';

/**
 * One change to a node's record: given the record at some revision, the record to write
 * (undefined: no change) and what the caller learns once it is written. It may run several
 * times (again on fresh data after a lost race), so it must not act, only decide.
 */
export type Mutation<T> = (record: NodeRecord) => { next?: NodeRecord; outcome: T };

interface Item {
  mutate: Mutation<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export interface RecordWriterOptions {
  directory: DirectoryKv;
  view: NodeView;
  logger: Logger;
  /** Writes of one batch before giving up (each lost race re-reads the record). */
  maxAttempts?: number;
}

/**
 * The only writer of node records in this scheduler, write-through over the view's cache:
 * a change is decided on the cached record and written at its revision, so the common case
 * costs one KV update and no read; a lost race (another scheduler, the gateway) re-reads the
 * record and decides again. Changes to one node queue while a write is in flight and go out
 * together in the next one: a hot node (binpack, node==) is written at the pace of the KV, not
 * once per request and revision conflict. Every outcome is decided on the record content at
 * exactly the revision that was replaced, which is what keeps reservations from overcommitting.
 */
export class RecordWriter {
  private readonly queues = new Map<string, Item[]>();
  private readonly log: Logger;
  private readonly maxAttempts: number;

  constructor(private readonly opts: RecordWriterOptions) {
    this.log = opts.logger.child({ component: 'record-writer' });
    this.maxAttempts = opts.maxAttempts ?? 50;
  }

  mutate<T>(nodeId: string, mutate: Mutation<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const item: Item = { mutate: mutate as Mutation<unknown>, resolve: resolve as (v: unknown) => void, reject };
      const q = this.queues.get(nodeId);
      if (q) q.push(item);
      else {
        this.queues.set(nodeId, [item]);
        void this.run(nodeId);
      }
    });
  }

  private async run(nodeId: string): Promise<void> {
    const queue = this.queues.get(nodeId)!;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0);
        try {
          const outcomes = await this.write(nodeId, batch);
          batch.forEach((it, i) => it.resolve(outcomes[i]));
        } catch (err) {
          for (const it of batch) it.reject(err);
        }
      }
    } finally {
      this.queues.delete(nodeId);
    }
  }

  private async write(nodeId: string, batch: Item[]): Promise<unknown[]> {
    const kv = this.opts.directory;
    const key = nodeKey(nodeId);
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const base = this.opts.view.cached(nodeId);
      const start = base?.record ?? emptyRecord(nodeId);
      let record = start;
      const outcomes = batch.map((it) => {
        const r = it.mutate(record);
        if (r.next) record = r.next;
        return r.outcome;
      });
      if (record === start) return outcomes;
      this.opts.view.beginWrite(nodeId);
      try {
        const data = encodeRecord(record);
        const revision = base ? await kv.update(key, data, base.revision) : await kv.create(key, data);
        this.opts.view.noteRecord(record, revision);
        return outcomes;
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
        const fresh = await getJson<NodeRecord>(kv, key);
        this.opts.view.refreshRecord(nodeId, fresh && { record: fresh.value, revision: fresh.revision });
        this.log.debug({ nodeId, attempt }, 'record changed meanwhile; deciding again');
      } finally {
        this.opts.view.endWrite(nodeId);
      }
    }
    throw new UnavailableError(`writes to node ${nodeId}'s record lost ${this.maxAttempts} races in a row; retry`);
  }
}
