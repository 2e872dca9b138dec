import { mergeEntries, type MergeableEntry } from './merge-entries';

const e = (stream: 'stdout' | 'stderr', text: string, t: number, partial = false): MergeableEntry => ({ stream, data: Buffer.from(text), timeNs: BigInt(t), partial });

async function collect(src: AsyncIterable<MergeableEntry>, max?: number) {
  const out: { stream: string; text: string; t: number; partial: boolean }[] = [];
  for await (const x of mergeEntries(src, max)) out.push({ stream: x.stream, text: x.data.toString(), t: Number(x.timeNs), partial: x.partial });
  return out;
}

describe('mergeEntries', () => {
  it('merges runs of one stream, keeps streams apart and in order', async () => {
    async function* src() {
      yield e('stdout', 'a\n', 1);
      yield e('stdout', 'b\n', 2);
      yield e('stderr', 'x\n', 3);
      yield e('stdout', 'c', 4, true);
    }
    expect(await collect(src())).toEqual([
      { stream: 'stdout', text: 'a\nb\n', t: 1, partial: false },
      { stream: 'stderr', text: 'x\n', t: 3, partial: false },
      { stream: 'stdout', text: 'c', t: 4, partial: true },
    ]);
  });

  it('respects the size bound', async () => {
    async function* src() {
      for (let i = 0; i < 5; i++) yield e('stdout', 'xxxx', i);
    }
    expect((await collect(src(), 8)).map((x) => x.text)).toEqual(['xxxxxxxx', 'xxxxxxxx', 'xxxx']);
  });

  it('does not hold an entry back while the source waits (followers)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* src() {
      yield e('stdout', 'first\n', 1);
      await gate;
      yield e('stdout', 'second\n', 2);
    }
    const it = mergeEntries(src())[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value?.data.toString()).toBe('first\n');
    release();
    expect((await it.next()).value?.data.toString()).toBe('second\n');
    expect((await it.next()).done).toBe(true);
  });
});
