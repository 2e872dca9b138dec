import { gzipSync } from 'node:zlib';
import { InvalidArgumentError } from '@drydock/errors';
import { decompress, detectCompression } from './compression';
import { chunked } from './test-tar';

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

describe('detectCompression', () => {
  it('recognises the magic numbers', () => {
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 0x08, 0]))).toBe('gzip');
    expect(detectCompression(Buffer.from('BZh91AY'))).toBe('bzip2');
    expect(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe('xz');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from('bin/\0\0\0'))).toBe('none');
    expect(detectCompression(Buffer.from([0x1f]))).toBe('none');
  });
});

describe('decompress', () => {
  const payload = Buffer.from('hello tar world '.repeat(5000));

  it('passes plain data through, even when the magic is split over 1-byte chunks', async () => {
    const d = await decompress(chunked(payload, 1000));
    expect(d.compression).toBe('none');
    expect((await collect(d.chunks)).equals(payload)).toBe(true);
  });

  it('inflates gzip delivered in tiny chunks', async () => {
    const d = await decompress(chunked(gzipSync(payload), 1));
    expect(d.compression).toBe('gzip');
    expect((await collect(d.chunks)).equals(payload)).toBe(true);
  });

  it('handles empty input', async () => {
    const d = await decompress(chunked(Buffer.alloc(0), 1));
    expect(d.compression).toBe('none');
    expect((await collect(d.chunks)).length).toBe(0);
  });

  it('refuses compressions Node cannot inflate', async () => {
    await expect(decompress(chunked(Buffer.from('BZh91AY&SY....'), 3))).rejects.toThrow(
      new InvalidArgumentError('unsupported compression format bzip2: send a plain or gzip-compressed tar'),
    );
  });

  it('reports corrupt gzip as invalid argument', async () => {
    const gz = gzipSync(payload);
    const bad = Buffer.concat([gz.subarray(0, 20), Buffer.alloc(50, 0xff)]);
    const d = await decompress(chunked(bad, 16));
    const err = await collect(d.chunks).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^invalid gzip data: /);
  });

  it('reports truncated gzip as invalid argument', async () => {
    const gz = gzipSync(payload);
    const d = await decompress(chunked(gz.subarray(0, gz.length - 10), 100));
    await expect(collect(d.chunks)).rejects.toThrow(/^invalid gzip data: unexpected end of file/);
  });

  it('lets a failing source error through unchanged', async () => {
    async function* failing() {
      yield gzipSync(payload).subarray(0, 30);
      throw new Error('client went away');
    }
    const d = await decompress(failing());
    await expect(collect(d.chunks)).rejects.toThrow('client went away');
  });
});
