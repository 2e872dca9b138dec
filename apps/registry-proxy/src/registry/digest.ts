import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from './errors';

/** Only sha256: what every client pushes and what distribution's storage is keyed by. */
const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The hex of a sha256 digest; anything else is DIGEST_INVALID (sha512 etc: UNSUPPORTED). */
export function parseDigest(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (m) return m[1];
  if (ANY_DIGEST_RE.test(digest) && !digest.startsWith('sha256:')) {
    throw new RegistryError('UNSUPPORTED', `digest algorithm of ${digest} is not supported (sha256 only)`);
  }
  throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(digest)}`);
}

export function isDigest(ref: string): boolean {
  return ref.includes(':');
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Throws DIGEST_INVALID unless `actual` is `expected`. */
export function verifyDigest(expected: string, actual: string): void {
  if (expected !== actual) {
    throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected, actual });
  }
}

/**
 * Passes bytes through while feeding a hash that may outlive the stream (a chunked
 * upload hashes across several PATCH requests) and counting them.
 */
export class HashingStream extends Transform {
  bytes = 0;
  constructor(readonly hash: Hash) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}
