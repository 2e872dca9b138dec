import { isTransientKvError, retryTransientKv } from './kv';

describe('retryTransientKv', () => {
  const nats = (code: string) => Object.assign(new Error(code), { code });

  it('repeats a call that fails while JetStream has no leader, then returns its result', async () => {
    let calls = 0;
    const r = await retryTransientKv(async () => {
      calls++;
      if (calls < 3) throw nats(calls === 1 ? '503' : 'TIMEOUT');
      return 'ok';
    }, 5000);
    expect([r, calls]).toEqual(['ok', 3]);
  });

  it('gives up at once on other errors and after its time on transient ones', async () => {
    let calls = 0;
    await expect(retryTransientKv(async () => (calls++, Promise.reject(new Error('wrong last sequence'))), 5000)).rejects.toThrow('wrong last sequence');
    expect(calls).toBe(1);
    const t0 = Date.now();
    await expect(retryTransientKv(() => Promise.reject(nats('503')), 300)).rejects.toMatchObject({ code: '503' });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect([isTransientKvError(nats('503')), isTransientKvError(nats('TIMEOUT')), isTransientKvError(new Error('key exists')), isTransientKvError(undefined)]).toEqual([true, true, false, false]);
  });
});
