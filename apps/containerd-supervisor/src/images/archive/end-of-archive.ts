import { InvalidArgumentError } from '@drydock/errors';

const BLOCK = 512;
/** Types whose size field Go's archive/tar ignores: no data follows their header. */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);
/** A PAX header bigger than this is not one (Go caps them at 1 MiB as well). */
const MAX_PAX_BYTES = 1024 * 1024;

function isZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/** The size field: octal text, or GNU base-256 when the high bit of its first byte is set. */
function sizeField(h: Buffer): number {
  const f = h.subarray(124, 136);
  if (f[0] & 0x80) {
    let n = f[0] & 0x7f;
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i];
    return n;
  }
  const text = f.toString('latin1').replace(/[\0 ]+$/, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** The `size` record of a PAX extended header, if any ("%d size=%d\n" records). */
function paxSize(data: Buffer): number | undefined {
  const m = /(?:^|\n)\d+ size=(\d+)\n/.exec(data.toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

/**
 * Passes a tar stream through up to its end-of-archive marker, as Go's
 * archive/tar reads it (dockerd's `docker load`): two zero blocks end the
 * archive and whatever follows is ignored (read and dropped here, so the
 * upload still completes); a zero block followed by a header is
 * "invalid tar header". Without this, a tar reader that skips zero blocks
 * would read on into trailing data or a second concatenated archive.
 */
export async function* untilEndOfArchive(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  let skip = 0;
  let header: Buffer = Buffer.alloc(0);
  let zeros = 0;
  let collectPax: Buffer[] | undefined;
  let paxNeed = 0;
  let nextSize: number | undefined;
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    let chunk = r.value;
    while (chunk.length > 0) {
      if (skip > 0) {
        const part = chunk.subarray(0, Math.min(skip, chunk.length));
        if (collectPax && paxNeed > 0) {
          const keep = part.subarray(0, Math.min(paxNeed, part.length));
          collectPax.push(keep);
          paxNeed -= keep.length;
        }
        skip -= part.length;
        chunk = chunk.subarray(part.length);
        yield part;
        if (skip === 0 && collectPax) {
          nextSize = paxSize(Buffer.concat(collectPax)) ?? nextSize;
          collectPax = undefined;
        }
        continue;
      }
      const take = chunk.subarray(0, BLOCK - header.length);
      header = header.length === 0 ? take : Buffer.concat([header, take]);
      chunk = chunk.subarray(take.length);
      if (header.length < BLOCK) break;
      const block = header;
      header = Buffer.alloc(0);
      if (isZero(block)) {
        yield block;
        if (++zeros === 2) {
          // the end: drop what follows without looking at it
          for (;;) if ((await it.next()).done) return;
        }
        continue;
      }
      if (zeros === 1) throw new InvalidArgumentError('invalid tar header: a zero block followed by a header');
      yield block;
      const type = String.fromCharCode(block[156] || 0x30);
      const size = HEADER_ONLY.has(type) ? 0 : (type === 'x' || type === 'g' || type === 'L' || type === 'K' ? undefined : nextSize) ?? sizeField(block);
      if (type !== 'x' && type !== 'g' && type !== 'L' && type !== 'K') nextSize = undefined;
      if (type === 'x' && size <= MAX_PAX_BYTES) {
        collectPax = [];
        paxNeed = size;
      }
      skip = Math.ceil(size / BLOCK) * BLOCK;
      if (skip === 0 && collectPax) {
        collectPax = undefined;
      }
    }
  }
  if (header.length > 0) yield header;
}
