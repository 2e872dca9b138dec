import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from '../registry/errors';

/**
 * Passes a blob through while hashing it and holds back the last chunk until the
 * whole content matched `digest` (and `size`, when given): a wrong body never
 * completes upstream.
 */
export class DigestVerifier extends Transform {
  private readonly hash = createHash('sha256');
  private held?: Buffer;
  private bytes = 0;
  failure?: RegistryError;

  constructor(
    private readonly digest: string,
    private readonly size: number | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    const prev = this.held;
    this.held = chunk;
    cb(null, prev);
  }

  override _flush(cb: TransformCallback): void {
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (this.size !== undefined && this.bytes !== this.size) {
      this.failure = new RegistryError('SIZE_INVALID', `blob has ${this.bytes} bytes, Content-Length said ${this.size}`);
    } else if (actual !== this.digest) {
      this.failure = new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected: this.digest, actual });
    }
    if (this.failure) return cb(this.failure);
    cb(null, this.held);
  }
}
