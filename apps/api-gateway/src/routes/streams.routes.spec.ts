import { boolParam } from '../http/query';
import { formatLogTime, parseLogTime, parseTail } from './streams.routes';

describe('log timestamps', () => {
  it('formats like dockerd (RFC3339NanoFixed, UTC, nine fraction digits)', () => {
    expect(formatLogTime({ seconds: '1700000000', nanos: 123000000 })).toBe('2023-11-14T22:13:20.123000000Z');
    expect(formatLogTime({ seconds: '1700000000', nanos: 5 })).toBe('2023-11-14T22:13:20.000000005Z');
    expect(formatLogTime({ seconds: '0', nanos: 0 })).toBe('1970-01-01T00:00:00.000000000Z');
  });

  it('parses since/until as the CLI sends them and as RFC3339', () => {
    expect(parseLogTime('1700000000', 'since')).toEqual({ seconds: '1700000000', nanos: 0 });
    expect(parseLogTime('1700000000.123', 'since')).toEqual({ seconds: '1700000000', nanos: 123000000 });
    expect(parseLogTime('1700000000.000000001', 'since')).toEqual({ seconds: '1700000000', nanos: 1 });
    expect(parseLogTime('2023-11-14T22:13:20.5Z', 'until')).toEqual({ seconds: '1700000000', nanos: 500000000 });
    expect(parseLogTime('2023-11-15T00:13:20+02:00', 'until')).toEqual({ seconds: '1700000000', nanos: 0 });
    expect(parseLogTime('', 'since')).toBeUndefined();
    // dockerd 20.10.24: GetTimestamp passes it through, ParseTimestamps' ParseInt refuses it (500 there)
    expect(() => parseLogTime('yesterday', 'since')).toThrow('strconv.ParseInt: parsing "yesterday": invalid syntax');
    expect(() => parseLogTime('1.x', 'since')).toThrow('strconv.ParseInt: parsing "x": invalid syntax');
    expect(() => parseLogTime('2023-13-45', 'since')).toThrow(/invalid value for "since"/);
  });

  it('reads tail and booleans as dockerd does', () => {
    expect(parseTail('all')).toBeUndefined();
    expect(parseTail('')).toBeUndefined();
    expect(parseTail('-1')).toBeUndefined();
    expect(parseTail('2')).toBe(2);
    expect(parseTail('0')).toBe(0);
    const q = new URLSearchParams('a=1&b=0&c=false&d=true&e=&f=none&g=yes');
    expect(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'missing'].map((k) => boolParam(q, k))).toEqual([true, false, false, true, false, false, true, false]);
  });
});
