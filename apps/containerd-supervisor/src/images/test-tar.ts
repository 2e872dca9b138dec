import { pack, type Header } from 'tar-stream';

/** Test helper: an in-memory tar from entry headers (and contents for files). */
export async function makeTar(entries: (Partial<Header> & { name: string; content?: string | Buffer })[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on('data', (c) => chunks.push(c as Buffer));
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const { content, ...h } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content !== undefined) p.entry({ mode: 0o644, ...h }, content, cb);
      else p.entry({ mode: 0o755, ...h }, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Splits a buffer into chunks of `size` bytes, as a network stream would deliver it. */
export async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(buf.length, i + size));
}
