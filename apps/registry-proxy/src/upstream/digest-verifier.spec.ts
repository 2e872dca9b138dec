import { createHash } from 'node:crypto';
import { DigestVerifier } from './digest-verifier';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Writes the chunks one by one and records what came out before the end was signalled. */
async function feed(v: DigestVerifier, chunks: Buffer[]): Promise<{ beforeEnd: Buffer; all: Buffer; error?: Error }> {
  const out: Buffer[] = [];
  v.on('data', (c: Buffer) => out.push(c));
  for (const c of chunks) v.write(c);
  await new Promise((r) => setImmediate(r));
  const beforeEnd = Buffer.concat(out);
  const error = await new Promise<Error | undefined>((resolve) => {
    v.once('error', resolve);
    v.once('end', () => resolve(undefined));
    v.end();
  });
  return { beforeEnd, all: Buffer.concat(out), error };
}

describe('DigestVerifier', () => {
  const chunks = [Buffer.from('first chunk '), Buffer.from('second chunk '), Buffer.from('last chunk')];
  const whole = Buffer.concat(chunks);

  it('passes matching content through, the last chunk only once the hash matched', async () => {
    const r = await feed(new DigestVerifier(sha(whole), whole.length), chunks);
    expect(r.beforeEnd.toString()).toBe('first chunk second chunk ');
    expect(r.all.equals(whole)).toBe(true);
    expect(r.error).toBeUndefined();
  });

  it('never releases the last chunk of content that does not match', async () => {
    const v = new DigestVerifier(sha(Buffer.from('something else')), undefined);
    const r = await feed(v, chunks);
    expect(r.error).toMatchObject({ code: 'DIGEST_INVALID' });
    expect(r.all.toString()).toBe('first chunk second chunk ');
    expect(v.failure?.code).toBe('DIGEST_INVALID');
  });

  it('refuses a body shorter or longer than its Content-Length', async () => {
    const r = await feed(new DigestVerifier(sha(whole), whole.length + 1), chunks);
    expect(r.error).toMatchObject({ code: 'SIZE_INVALID' });
  });
});
