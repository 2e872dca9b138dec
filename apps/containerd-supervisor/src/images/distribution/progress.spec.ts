import { Limiter, ProgressChannel, ProgressThrottle, shortLayerId } from './progress';
import { retryingText, withRetry } from './retry';
import { RegistryError } from './registry-errors';

describe('progress model', () => {
  it('short layer ids are the first 12 hex of the digest', () => {
    expect(shortLayerId('sha256:3601246b1a9b9ea7b0f6b4b2c3a1c1a0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0')).toBe('3601246b1a9b');
  });

  it('throttles byte progress to one report per 512 KiB or 100 ms, always reporting the first and the last', () => {
    let now = 0;
    const t = new ProgressThrottle(512 * 1024, 100, () => now);
    const total = 4 * 1024 * 1024;
    const reported: number[] = [];
    for (let cur = 32 * 1024; cur <= total; cur += 32 * 1024) if (t.shouldReport(cur, total)) reported.push(cur);
    expect(reported[0]).toBe(32 * 1024);
    expect(reported[reported.length - 1]).toBe(total);
    // 4 MiB in 32 KiB steps with no time passing: one report per 512 KiB plus first and last.
    expect(reported).toHaveLength(9);
    for (let i = 1; i < reported.length - 1; i++) expect(reported[i] - reported[i - 1]).toBeGreaterThanOrEqual(512 * 1024);

    const slow = new ProgressThrottle(512 * 1024, 100, () => now);
    expect(slow.shouldReport(1, 100)).toBe(true);
    expect(slow.shouldReport(2, 100)).toBe(false);
    now += 100;
    expect(slow.shouldReport(3, 100)).toBe(true);
    expect(slow.shouldReport(3, 100)).toBe(false);
  });

  it('a channel yields what producers pushed in order, then ends or throws', async () => {
    const ch = new ProgressChannel<number>();
    ch.push(1);
    setImmediate(() => {
      ch.push(2);
      ch.close(new Error('boom'));
      ch.push(3);
    });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const n of ch) seen.push(n);
      })(),
    ).rejects.toThrow('boom');
    expect(seen).toEqual([1, 2]);
  });

  it('the limiter admits n holders and serves waiters in order', async () => {
    const l = new Limiter(2);
    const a = await l.acquire();
    await l.acquire();
    expect(l.full).toBe(true);
    const order: string[] = [];
    const c = l.acquire().then((r) => (order.push('c'), r));
    const d = l.acquire().then((r) => (order.push('d'), r));
    a();
    a(); // a second release of the same holder changes nothing
    (await c)();
    await d;
    expect(order).toEqual(['c', 'd']);
  });

  it("retries transient failures with Docker's countdown and gives up on definite answers", async () => {
    const waits: number[] = [];
    let calls = 0;
    jest.useFakeTimers();
    try {
      const p = withRetry(
        async () => {
          if (++calls < 3) throw RegistryError.network(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'GET');
          return 'ok';
        },
        { windowMs: 60000, upstreamUnavailable: true, onWait: (s) => waits.push(s) },
      );
      await jest.runAllTimersAsync();
      await expect(p).resolves.toBe('ok');
    } finally {
      jest.useRealTimers();
    }
    expect(calls).toBe(3);
    expect(waits).toEqual([1, 2, 1]);
    expect([retryingText(1), retryingText(5)]).toEqual(['Retrying in 1 second', 'Retrying in 5 seconds']);

    let definite = 0;
    await expect(
      withRetry(
        async () => {
          definite++;
          throw RegistryError.fromResponse(404, JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }), 'GET');
        },
        { windowMs: 60000, upstreamUnavailable: true },
      ),
    ).rejects.toBeInstanceOf(RegistryError);
    expect(definite).toBe(1);
  });
});
