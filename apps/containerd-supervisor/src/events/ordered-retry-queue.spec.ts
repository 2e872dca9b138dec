import { Writable } from 'node:stream';
import { createLogger } from '@drydock/logging';
import { OrderedRetryQueue } from './ordered-retry-queue';

function capturingLogger() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'debug' }, dest), lines };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('OrderedRetryQueue', () => {
  it('delivers in order, one at a time', async () => {
    const { logger } = capturingLogger();
    const seen: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const q = new OrderedRetryQueue<number>({
      logger,
      maxItems: 100,
      retryMinMs: 1,
      retryMaxMs: 1,
      send: async (n) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await tick();
        seen.push(n);
        inFlight--;
      },
    });
    for (let i = 0; i < 20; i++) q.push(i);
    expect(await q.drain(5000)).toBe(true);
    expect(seen).toEqual([...Array(20).keys()]);
    expect(maxInFlight).toBe(1);
    expect(await q.close(1000)).toBe(0);
  });

  it('retries the head until it succeeds, without reordering, and logs the outage once', async () => {
    const { logger, lines } = capturingLogger();
    const attempts: number[] = [];
    const seen: number[] = [];
    let failuresLeft = 5;
    const q = new OrderedRetryQueue<number>({
      logger,
      maxItems: 100,
      retryMinMs: 1,
      retryMaxMs: 4,
      send: async (n) => {
        attempts.push(n);
        if (failuresLeft-- > 0) throw new Error('nats down');
        seen.push(n);
      },
    });
    q.push(1);
    q.push(2);
    q.push(3);
    expect(await q.drain(5000)).toBe(true);
    expect(seen).toEqual([1, 2, 3]);
    expect(attempts).toEqual([1, 1, 1, 1, 1, 1, 2, 3]);
    expect(lines.filter((l) => l.msg === 'event publishing failed, retrying')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'event publishing recovered')).toHaveLength(1);
    await q.close(100);
  });

  it('drops the oldest waiting items when full, never the one in flight', async () => {
    const { logger, lines } = capturingLogger();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    const q = new OrderedRetryQueue<number>({
      logger,
      maxItems: 3,
      retryMinMs: 1,
      retryMaxMs: 1,
      send: async (n) => {
        await gate;
        seen.push(n);
      },
    });
    q.push(0);
    await tick(); // 0 is now in flight
    for (let i = 1; i <= 6; i++) q.push(i);
    expect(q.size).toBe(4);
    expect(q.dropped).toBe(3);
    release();
    expect(await q.drain(5000)).toBe(true);
    expect(seen).toEqual([0, 4, 5, 6]);
    expect(lines.filter((l) => l.msg === 'event queue full, dropping oldest events')).toHaveLength(1);
    await q.close(100);
  });

  it('close() gives up after its timeout while sends fail, reports what is left, and refuses new items', async () => {
    const { logger } = capturingLogger();
    const q = new OrderedRetryQueue<number>({
      logger,
      maxItems: 10,
      retryMinMs: 1000,
      retryMaxMs: 1000,
      send: async () => {
        throw new Error('down');
      },
    });
    q.push(1);
    q.push(2);
    const start = Date.now();
    expect(await q.close(200)).toBe(2);
    expect(Date.now() - start).toBeLessThan(900); // the back-off sleep was cut short
    expect(q.push(3)).toBe(false);
    expect(await q.close(200)).toBe(2);
  });

  it('close() delivers what is queued before stopping', async () => {
    const { logger } = capturingLogger();
    const seen: number[] = [];
    const q = new OrderedRetryQueue<number>({ logger, maxItems: 10, retryMinMs: 1, retryMaxMs: 1, send: async (n) => void seen.push(n) });
    q.push(1);
    q.push(2);
    expect(await q.close(1000)).toBe(0);
    expect(seen).toEqual([1, 2]);
  });
});
