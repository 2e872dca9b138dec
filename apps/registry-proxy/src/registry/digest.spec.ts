import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { HashingStream, parseDigest, sha256Digest, verifyDigest } from './digest';
import { RegistryError } from './errors';

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as RegistryError).code;
  }
  return 'none';
};

describe('digests', () => {
  it('accepts sha256 only, with 64 lower-case hex digits', () => {
    const hex = 'a'.repeat(64);
    expect(parseDigest(`sha256:${hex}`)).toBe(hex);
    expect(codeOf(() => parseDigest(`sha256:${'A'.repeat(64)}`))).toBe('DIGEST_INVALID');
    expect(codeOf(() => parseDigest('sha256:abc'))).toBe('DIGEST_INVALID');
    expect(codeOf(() => parseDigest('../../etc/passwd'))).toBe('DIGEST_INVALID');
    expect(codeOf(() => parseDigest(`sha512:${'a'.repeat(128)}`))).toBe('UNSUPPORTED');
  });

  it('verifies content against the expected digest', () => {
    expect(() => verifyDigest(sha256Digest('abc'), sha256Digest('abc'))).not.toThrow();
    expect(codeOf(() => verifyDigest(sha256Digest('abc'), sha256Digest('abd')))).toBe('DIGEST_INVALID');
  });

  it('hashes a stream across several pipelines with one running hash', async () => {
    const hash = createHash('sha256');
    const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
    const a = new HashingStream(hash);
    await pipeline(Readable.from([Buffer.from('hello ')]), a, sink());
    const b = new HashingStream(hash);
    await pipeline(Readable.from([Buffer.from('wor'), Buffer.from('ld')]), b, sink());
    expect([a.bytes, b.bytes]).toEqual([6, 5]);
    expect(`sha256:${hash.digest('hex')}`).toBe(sha256Digest('hello world'));
  });
});
