import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidArgumentError } from '@drydock/errors';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Bytes needed to tell the formats apart (xz's magic is the longest). */
export const MAGIC_BYTES = 6;

/** Recognises a stream's compression by its magic number, as moby's archive.DetectCompression does. */
export function detectCompression(head: Buffer): Compression {
  const starts = (magic: number[]) => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (starts([0x1f, 0x8b, 0x08])) return 'gzip';
  if (starts([0x42, 0x5a, 0x68])) return 'bzip2';
  if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (starts([0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  return 'none';
}

export interface DecompressedStream {
  compression: Compression;
  /** The uncompressed bytes; iterate once. */
  chunks: AsyncIterable<Buffer>;
}

/**
 * Peeks at the first bytes of `src`, then yields its uncompressed content
 * (gzip is inflated on the fly, plain tar passes through untouched). bzip2, xz
 * and zstd, which Docker also accepts, are refused: Node 20's zlib has none of them.
 */
export async function decompress(src: AsyncIterable<Buffer>): Promise<DecompressedStream> {
  const { head, chunks, close } = await peek(src, MAGIC_BYTES);
  const compression = detectCompression(head);
  if (compression !== 'none' && compression !== 'gzip') {
    await close();
    throw new InvalidArgumentError(`unsupported compression format ${compression}: send a plain or gzip-compressed tar`);
  }
  return { compression, chunks: compression === 'gzip' ? gunzip(chunks) : chunks };
}

/**
 * Reads at least `bytes` (less if the source ends first) of `src` for a look at its
 * head, and gives back the whole stream, head included. Stopping early releases the source;
 * `close` releases it when `chunks` is never read.
 */
export async function peek(src: AsyncIterable<Buffer>, bytes: number): Promise<{ head: Buffer; chunks: AsyncIterable<Buffer>; close: () => Promise<void> }> {
  const it = src[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let headBytes = 0;
  let ended = false;
  while (headBytes < bytes) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    parts.push(chunk);
    headBytes += chunk.length;
  }
  const head = Buffer.concat(parts);
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) {
          ended = true;
          return;
        }
        yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      }
    } finally {
      // Stopped early (invalid tar, failed write): let the source release its resources.
      if (!ended) await it.return?.();
    }
  }
  const close = async () => {
    if (!ended) await it.return?.();
  };
  return { head, chunks: rest(), close };
}

/** zlib failures are the caller's bad data; anything else (the source failing) passes through. */
function isZlibError(err: unknown): err is Error & { code: string } {
  // Duck-typed: errors from node internals may come from another realm (jest's vm), failing instanceof.
  const e = err as { code?: unknown; message?: unknown } | null;
  return typeof e?.code === 'string' && e.code.startsWith('Z_') && typeof e.message === 'string';
}

async function* gunzip(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // 256 KiB output chunks keep the per-chunk overhead (hash, tar parser, gRPC) small.
  const z = createGunzip({ chunkSize: 256 * 1024 });
  pipeline(Readable.from(src, { objectMode: false }), z, () => undefined);
  try {
    for await (const chunk of z) yield chunk as Buffer;
  } catch (err) {
    if (isZlibError(err)) throw new InvalidArgumentError(`invalid gzip data: ${err.message}`, { cause: err });
    throw err;
  } finally {
    z.destroy();
  }
}
