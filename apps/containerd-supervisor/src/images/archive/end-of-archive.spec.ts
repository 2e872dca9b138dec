import { extract, pack } from 'tar-stream';
import { untilEndOfArchive } from './end-of-archive';

async function tarOf(entries: { name: string; content: string; pax?: Record<string, string> }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) await new Promise<void>((res, rej) => p.entry({ name: e.name, pax: e.pax }, e.content, (err) => (err ? rej(err) : res())));
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

async function* chunked(b: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function through(b: Buffer, size = 100): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of untilEndOfArchive(chunked(b, size))) out.push(c);
  return Buffer.concat(out);
}

async function names(b: Buffer): Promise<string[]> {
  const x = extract();
  const out: string[] = [];
  const done = (async () => {
    for await (const e of x) {
      out.push(e.header.name);
      e.resume();
    }
  })();
  x.end(b);
  await done;
  return out;
}

describe('untilEndOfArchive (Go archive/tar end-of-archive semantics)', () => {
  it('passes a whole archive through unchanged, whatever the chunking', async () => {
    const a = await tarOf([{ name: 'a', content: 'x'.repeat(1000) }, { name: 'b', content: '' }, { name: 'c', content: 'y' }]);
    for (const size of [1, 7, 512, 100000]) expect((await through(a, size)).equals(a)).toBe(true);
  });

  it('ignores trailing data and a second concatenated archive', async () => {
    const a = await tarOf([{ name: 'a', content: 'first' }]);
    const b = await tarOf([{ name: 'b', content: 'second' }]);
    expect(await names(await through(Buffer.concat([a, b])))).toEqual(['a']);
    expect((await through(Buffer.concat([a, Buffer.from('garbage'.repeat(300))]))).equals(a.subarray(0, 1536 + 1024))).toBe(true);
  });

  it('refuses a zero block followed by a header, as Go does', async () => {
    const a = await tarOf([{ name: 'a', content: 'first' }]);
    const b = await tarOf([{ name: 'b', content: 'second' }]);
    await expect(through(Buffer.concat([a.subarray(0, 1024), Buffer.alloc(512), b]))).rejects.toThrow('invalid tar header');
  });

  it('honours a PAX size record', async () => {
    const a = await tarOf([{ name: 'long-'.repeat(30), content: 'z'.repeat(700), pax: { comment: 'x' } }, { name: 'next', content: 'n' }]);
    expect(await names(await through(a, 33))).toEqual(['long-'.repeat(30), 'next']);
  });
});
