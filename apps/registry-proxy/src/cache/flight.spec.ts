import { Flight } from './flight';

describe('Flight.recent', () => {
  const f = new Flight('a'.repeat(64), undefined);
  const bufs = [Buffer.from('abcd'), Buffer.from('efgh'), Buffer.from('ij')];
  f.lastBatch = { at: 100, bufs, bytes: 10 };
  const text = (b: Buffer[] | undefined) => (b ? Buffer.concat(b).toString() : undefined);

  it('hands out the last batch, whole or in part, without copying whole buffers', () => {
    const whole = f.recent(100, 10)!;
    expect(text(whole)).toBe('abcdefghij');
    expect(whole[0]).toBe(bufs[0]);
    expect(text(f.recent(103, 3))).toBe('def');
    expect(text(f.recent(104, 4))).toBe('efgh');
    expect(text(f.recent(109, 1))).toBe('j');
  });

  it('answers undefined for anything not wholly in the batch (the reader reads the file)', () => {
    expect(f.recent(99, 2)).toBeUndefined();
    expect(f.recent(108, 3)).toBeUndefined();
    expect(new Flight('b'.repeat(64), undefined).recent(0, 1)).toBeUndefined();
  });
});
