/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A GET's `Range: bytes=...` against a blob of `size` bytes: undefined serves the whole
 * blob (no header, or forms we do not serve partially, such as several ranges, which
 * RFC 9110 lets a server ignore); 'unsatisfiable' is a 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/**
 * An upload PATCH's `Content-Range: <start>-<end>` (the distribution spec's form,
 * without "bytes "; that prefix and a "/total" are tolerated). Undefined when absent;
 * null when malformed.
 */
export function parseContentRange(header: string | undefined): ByteRange | undefined | null {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) return null;
  const r = { start: Number(m[1]), end: Number(m[2]) };
  return r.end < r.start ? null : r;
}
