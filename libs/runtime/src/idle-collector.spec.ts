import { IdleCollector, fullGc } from './idle-collector';

describe('IdleCollector', () => {
  const MB = 1024 * 1024;
  function make(rss: number[]) {
    let current = rss[0];
    const calls: number[] = [];
    const c = new IdleCollector({
      growthBytes: 4 * MB,
      quietUtilization: 0.02,
      rss: () => current,
      gc: () => {
        calls.push(current);
        current = Math.round(current * 0.6);
      },
    });
    const step = (next: number, utilization: number) => {
      current = next;
      return c.tick(utilization);
    };
    c.start();
    return { calls, step, stop: () => c.stop() };
  }

  it('collects once when the service goes quiet after it grew, never while busy', () => {
    const m = make([60 * MB]);
    expect(m.step(90 * MB, 0.4)).toBe(false); // busy: grown, but work is going on
    expect(m.step(100 * MB, 0.01)).toBe(true); // quiet now: one collection
    expect(m.calls).toEqual([100 * MB]);
    expect(m.step(60 * MB, 0.01)).toBe(false); // quiet and not grown since: nothing more
    m.stop();
  });

  it('leaves a quiet service that has not grown alone', () => {
    const m = make([60 * MB]);
    expect(m.step(62 * MB, 0)).toBe(false);
    expect(m.step(63 * MB, 0)).toBe(false);
    expect(m.calls).toEqual([]);
    m.stop();
  });

  it('measures growth from the lowest size since the last collection', () => {
    const m = make([80 * MB]);
    m.step(70 * MB, 0.5);
    expect(m.step(75 * MB, 0)).toBe(true);
    m.stop();
  });

  it('gets V8 full collector at run time', () => {
    const gc = fullGc();
    expect(typeof gc).toBe('function');
    let big: unknown[] | undefined = Array.from({ length: 1e5 }, (_, i) => ({ i }));
    expect(big.length).toBe(1e5);
    big = undefined;
    const before = process.memoryUsage().heapUsed;
    gc();
    expect(process.memoryUsage().heapUsed).toBeLessThan(before);
  });
});
