import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/** A pass-through that hashes (sha256) and counts what flows through it, for tars written to disk. */
export function hashing(): { tap: Transform; digest: () => string; size: () => number } {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { tap, digest: () => `sha256:${hash.digest('hex')}`, size: () => size };
}
