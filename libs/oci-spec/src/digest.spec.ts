import { chainId, chainIds, isDigest, parseDigest, Sha256Hasher, sha256Digest, shortId } from './index';

// toThrow(string) matches a substring; Docker's texts are asserted whole.
const exactly = (msg: string) => new RegExp(`^${msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

const EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('digests', () => {
  it('hashes bytes and strings', () => {
    expect(sha256Digest(new Uint8Array())).toBe(EMPTY);
    expect(sha256Digest('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Digest(Buffer.from('abc'))).toBe(sha256Digest('abc'));
  });

  it('hashes streams incrementally and counts bytes', () => {
    const h = new Sha256Hasher();
    h.update('a').update(Buffer.from('b')).update(new Uint8Array([0x63]));
    expect(h.size).toBe(3);
    expect(h.digest()).toBe(sha256Digest('abc'));
    expect(h.digest()).toBe(sha256Digest('abc'));
    expect(() => h.update('d')).toThrow(exactly('sha256 hasher already finalised'));
    expect(new Sha256Hasher().update('é').size).toBe(2);
  });

  it('validates digests like go-digest', () => {
    expect(isDigest(EMPTY)).toBe(true);
    expect(isDigest('sha512:' + 'a'.repeat(128))).toBe(true);
    expect(isDigest(EMPTY.toUpperCase())).toBe(false);
    expect(isDigest('sha256:' + 'a'.repeat(63))).toBe(false);
    expect(isDigest('md5:' + 'a'.repeat(32))).toBe(false);
    expect(isDigest('a'.repeat(64))).toBe(false);
    expect(isDigest(':' + 'a'.repeat(64))).toBe(false);
    expect(parseDigest(EMPTY)).toStrictEqual({ algorithm: 'sha256', encoded: EMPTY.slice(7) });
    expect(() => parseDigest('sha256:xyz')).toThrow(exactly('invalid digest: sha256:xyz'));
  });

  it('shortens ids to 12 characters', () => {
    expect(shortId(EMPTY)).toBe('e3b0c44298fc');
    expect(shortId('e3b0c44298fc1c149afbf4c8996fb924')).toBe('e3b0c44298fc');
    expect(shortId('abc')).toBe('abc');
  });

  it('computes OCI chain ids', () => {
    const d1 = sha256Digest('layer1');
    const d2 = sha256Digest('layer2');
    const d3 = sha256Digest('layer3');
    expect(chainId([])).toBe('');
    expect(chainId([d1])).toBe(d1);
    const c2 = sha256Digest(`${d1} ${d2}`);
    expect(chainId([d1, d2])).toBe(c2);
    expect(chainId([d1, d2, d3])).toBe(sha256Digest(`${c2} ${d3}`));
    expect(chainIds([d1, d2, d3])).toStrictEqual([d1, c2, sha256Digest(`${c2} ${d3}`)]);
  });

  it('matches a known chain id (busybox-style two-layer stack from the OCI spec example)', () => {
    // image-spec config.md: ChainID(A|B) = Digest(ChainID(A) + " " + DiffID(B)).
    const a = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
    const b = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
    expect(chainId([a, b])).toBe(sha256Digest(`${a} ${b}`));
    expect(chainId([a, b])).toMatch(/^sha256:[a-f0-9]{64}$/);
  });
});
