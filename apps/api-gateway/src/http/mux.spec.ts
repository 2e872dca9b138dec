import { Demuxer, demuxAll, encodeFrames, outputEncoder, STDERR, STDOUT } from './mux';

describe('stdcopy framing', () => {
  it('writes the header dockerd writes', () => {
    expect(encodeFrames(STDOUT, Buffer.from('out1\n')).toString('hex')).toBe('0100000000000005' + Buffer.from('out1\n').toString('hex'));
    expect(encodeFrames(STDERR, Buffer.from('err2\n')).subarray(0, 8).toString('hex')).toBe('0200000000000005');
  });

  it('writes no frame for empty data and splits large payloads', () => {
    expect(encodeFrames(STDOUT, Buffer.alloc(0)).length).toBe(0);
    const big = Buffer.alloc(10, 'x');
    const out = encodeFrames(STDERR, big, 4);
    const { frames, stderr } = demuxAll(out);
    expect(frames.map((f) => f.data.length)).toEqual([4, 4, 2]);
    expect(stderr).toBe('x'.repeat(10));
  });

  it('decodes frames split across arbitrary chunk boundaries', () => {
    const wire = Buffer.concat([encodeFrames(STDOUT, Buffer.from('out\n')), encodeFrames(STDERR, Buffer.from('err\n')), encodeFrames(STDOUT, Buffer.from('more'))]);
    const d = new Demuxer();
    const got: string[] = [];
    for (let i = 0; i < wire.length; i += 3) for (const f of d.push(wire.subarray(i, i + 3))) got.push(`${f.stream}:${f.data}`);
    expect(got).toEqual(['1:out\n', '2:err\n', '1:more']);
    expect(d.pending).toBe(0);
  });

  it('rejects bytes that are not frames', () => {
    expect(() => new Demuxer().push(Buffer.from('hello world\n'))).toThrow(/bad frame header/);
    expect(() => demuxAll(encodeFrames(STDOUT, Buffer.from('abc')).subarray(0, 9))).toThrow(/truncated/);
  });

  it('passes TTY output through unframed', () => {
    expect(outputEncoder(true)(STDERR, Buffer.from('a\r\n')).toString()).toBe('a\r\n');
    expect(outputEncoder(false)(STDERR, Buffer.from('a'))[0]).toBe(STDERR);
  });
});
