import { createHash, type Hash } from 'node:crypto';

/**
 * Content digests (`sha256:<64 hex>`), Docker's short ids and OCI chain ids.
 */

const encodedPattern: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha384: /^[a-f0-9]{96}$/,
  sha512: /^[a-f0-9]{128}$/,
};

/** `sha256:<hex>` of the bytes (strings are hashed as UTF-8). */
export function sha256Digest(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/**
 * Incremental sha256 for streamed content: `update()` chunks as they arrive, then `digest()` once.
 * `size` counts the bytes seen, which is what a descriptor needs next to the digest.
 */
export class Sha256Hasher {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private result: string | undefined;

  update(chunk: Uint8Array | string): this {
    if (this.result !== undefined) throw new Error('sha256 hasher already finalised');
    this.hash.update(chunk);
    this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    return this;
  }

  /** Bytes hashed so far. */
  get size(): number {
    return this.bytes;
  }

  /** The `sha256:<hex>` digest; may be called more than once, further updates are refused. */
  digest(): string {
    this.result ??= 'sha256:' + this.hash.digest('hex');
    return this.result;
  }
}

/**
 * True if `s` is a well-formed digest the way go-digest validates one: a sha256/sha384/sha512
 * algorithm and lower-case hex of exactly the right length.
 */
export function isDigest(s: string): boolean {
  const i = s.indexOf(':');
  if (i <= 0) return false;
  const re = encodedPattern[s.slice(0, i)];
  return re !== undefined && re.test(s.slice(i + 1));
}

/** Splits a digest into algorithm and hex; throws if it is not well formed. */
export function parseDigest(s: string): { algorithm: string; encoded: string } {
  if (!isDigest(s)) throw new Error(`invalid digest: ${s}`);
  const i = s.indexOf(':');
  return { algorithm: s.slice(0, i), encoded: s.slice(i + 1) };
}

/**
 * Docker's short id (stringid.TruncateID): drops an `algo:` prefix, keeps the first 12 characters.
 */
export function shortId(id: string): string {
  const i = id.indexOf(':');
  const hex = i >= 0 ? id.slice(i + 1) : id;
  return hex.length > 12 ? hex.slice(0, 12) : hex;
}

/**
 * The OCI chain id of a layer stack (the key containerd commits snapshots under):
 * chainID(L0) = diffID(L0), chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)).
 * An empty stack has the empty chain id "".
 */
export function chainId(diffIds: readonly string[]): string {
  let chain = '';
  for (const [i, d] of diffIds.entries()) {
    chain = i === 0 ? d : sha256Digest(`${chain} ${d}`);
  }
  return chain;
}

/** The chain id of every prefix of the stack: element i is chainId(diffIds[0..i]). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, d] of diffIds.entries()) out.push(i === 0 ? d : sha256Digest(`${out[i - 1]} ${d}`));
  return out;
}
