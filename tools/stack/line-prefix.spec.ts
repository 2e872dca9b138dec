import { LinePrefixer } from './line-prefix';

describe('LinePrefixer', () => {
  const collect = (max?: number) => {
    const out: string[] = [];
    return { out, p: new LinePrefixer('[nats] ', (t) => out.push(t), max) };
  };

  it('prefixes every complete line and holds a partial one until its newline', () => {
    const { out, p } = collect();
    p.push('one\ntw');
    expect(out.join('')).toBe('[nats] one\n');
    p.push('o\r\nthree\n');
    expect(out.join('')).toBe('[nats] one\n[nats] two\n[nats] three\n');
  });

  it('writes the unterminated rest on flush, and nothing for an empty rest', () => {
    const { out, p } = collect();
    p.push('last words');
    p.flush();
    p.flush();
    expect(out.join('')).toBe('[nats] last words\n');
  });

  it('keeps a multi-byte character split across chunks intact', () => {
    const { out, p } = collect();
    const bytes = Buffer.from('größe ✓\n');
    p.push(bytes.subarray(0, 3));
    p.push(bytes.subarray(3));
    expect(out.join('')).toBe('[nats] größe ✓\n');
  });

  it('breaks a line that never ends at the limit', () => {
    const { out, p } = collect(8);
    p.push('abcdefghij');
    expect(out.join('')).toBe('[nats] abcdefghij\n');
  });
});
