import type { KV } from 'nats';
import { CoalescedKv } from './coalesced-kv';

describe('CoalescedKv', () => {
  it('starts the calls of one turn together, in order, each with its own answer', async () => {
    const started: string[] = [];
    let turns = 0;
    const kv = {
      create: async (k: string) => (started.push(`create ${k} @${turns}`), 1),
      update: async (k: string, _d: unknown, rev: number) => {
        started.push(`update ${k} @${turns}`);
        if (rev === 0) throw new Error('wrong last sequence');
        return rev + 1;
      },
      delete: async (k: string) => void started.push(`delete ${k} @${turns}`),
      get: async (k: string) => (started.push(`get ${k} @${turns}`), null),
    } as unknown as KV;
    const c = new CoalescedKv(kv);
    const answers = Promise.allSettled([c.create('a', new Uint8Array()), c.update('b', new Uint8Array(), 4), c.update('c', new Uint8Array(), 0), c.get('d'), c.delete('e')]);
    expect(started).toEqual([]);
    setImmediate(() => turns++);
    const [a, b, bad, d, e] = await answers;
    expect(started).toEqual(['create a @0', 'update b @0', 'update c @0', 'get d @0', 'delete e @0']);
    expect([a, b, d, e].map((r) => (r as PromiseFulfilledResult<unknown>).value)).toEqual([1, 5, null, undefined]);
    expect((bad as PromiseRejectedResult).reason.message).toBe('wrong last sequence');
  });
});
