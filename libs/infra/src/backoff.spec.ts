import { Backoff, backoffDelayMs, DEFAULT_BACKOFF } from './backoff';

describe('backoffDelayMs', () => {
  it('starts at 200 ms and doubles up to 10 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelayMs(n))).toEqual([200, 400, 800, 1600, 3200, 6400, 10000, 10000]);
  });

  it('stays at the ceiling for very many failures', () => {
    expect(backoffDelayMs(5000)).toBe(DEFAULT_BACKOFF.maxMs);
  });
});

describe('Backoff', () => {
  it('grows while runs are short and starts over after 30 s of uptime', () => {
    const b = new Backoff();
    expect([b.next(10), b.next(10), b.next(29999)]).toEqual([200, 400, 800]);
    expect(b.next(30000)).toBe(200);
    expect(b.next(5)).toBe(400);
    expect(b.consecutiveFailures).toBe(2);
  });
});
