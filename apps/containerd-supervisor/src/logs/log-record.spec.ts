import { isFailedPrecondition, errorCode } from '@drydock/errors';
import { CorruptLogError, encodeLogRecord, LOG_RECORD_HEADER_BYTES, LogRecordParser } from './log-record';

describe('LogRecordParser', () => {
  const recs = [
    encodeLogRecord({ stream: 'stdout', data: 'hello\n', timeNs: 1_700_000_000_000_000_001n }),
    encodeLogRecord({ stream: 'stderr', data: 'prompt> ', partial: true, timeNs: 2n }),
    encodeLogRecord({ stream: 'control', eof: true, timeNs: 3n }),
    encodeLogRecord({ stream: 'stdout', data: Buffer.alloc(0), timeNs: 4n }),
  ];
  const all = Buffer.concat(recs);

  it('decodes a whole buffer', () => {
    const p = new LogRecordParser();
    const out = p.push(all);
    expect(out.map((r) => [r.stream, r.partial, r.eof, r.timeNs, r.data.toString(), r.offset])).toEqual([
      ['stdout', false, false, 1_700_000_000_000_000_001n, 'hello\n', 0],
      ['stderr', true, false, 2n, 'prompt> ', 22],
      ['control', false, true, 3n, '', 46],
      ['stdout', false, false, 4n, '', 62],
    ]);
    expect(p.offset).toBe(all.length);
    expect(p.pendingBytes).toBe(0);
  });

  it('keeps a torn tail until it is completed, for every split point', () => {
    for (let cut = 0; cut <= all.length; cut++) {
      const p = new LogRecordParser();
      const a = p.push(all.subarray(0, cut));
      const b = p.push(all.subarray(cut));
      expect([...a, ...b].map((r) => r.data.toString())).toEqual(['hello\n', 'prompt> ', '', '']);
    }
  });

  it('parses byte-by-byte feeding', () => {
    const p = new LogRecordParser();
    const out = [];
    for (let i = 0; i < all.length; i++) out.push(...p.feed(all.subarray(i, i + 1)));
    expect(out).toHaveLength(4);
    expect(out[1].data.toString()).toBe('prompt> ');
    expect(p.pendingBytes).toBe(0);
  });

  it('reports a torn header without consuming it', () => {
    const p = new LogRecordParser(100);
    expect(p.push(recs[0].subarray(0, 7))).toEqual([]);
    expect(p.pendingBytes).toBe(7);
    expect(p.offset).toBe(100);
  });

  it('rejects a bad magic with the offset of the corruption', () => {
    const bad = Buffer.concat([recs[0], Buffer.from('garbage-not-a-record')]);
    const p = new LogRecordParser();
    let err: unknown;
    try {
      p.push(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CorruptLogError);
    expect((err as CorruptLogError).offset).toBe(recs[0].length);
    expect((err as Error).message).toBe(`container log is corrupt at offset ${recs[0].length}: bad magic 0x67`);
    expect(errorCode(err)).toBe('INTERNAL');
    expect(isFailedPrecondition(err)).toBe(false);
  });

  it('counts the start offset into corruption reports', () => {
    const p = new LogRecordParser(1000);
    p.push(recs[0]);
    expect(() => p.push(Buffer.from([0x00]))).toThrow(`corrupt at offset ${1000 + recs[0].length}`);
  });

  it('rejects an unknown stream and an absurd length', () => {
    const s = Buffer.from(recs[0]);
    s[1] = 9;
    expect(() => new LogRecordParser().push(s)).toThrow('unknown stream 9');
    const l = Buffer.from(recs[0]);
    l.writeUInt32LE(0xffffffff, 4);
    expect(() => new LogRecordParser().push(l)).toThrow('too large');
  });

  it('encodes the documented header layout', () => {
    const r = encodeLogRecord({ stream: 'stderr', data: 'ab', partial: true, timeNs: 0x0102030405060708n });
    expect([...r.subarray(0, LOG_RECORD_HEADER_BYTES)]).toEqual([0xd7, 2, 1, 0, 2, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(r.subarray(16).toString()).toBe('ab');
  });
});
