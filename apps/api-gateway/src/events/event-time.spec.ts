import { eventNanos, nanosToIso, parseEventTime, parseGoDuration } from './event-time';

const now = new Date('2024-05-01T12:00:30.750Z');
const S = 1_000_000_000n;

describe('parseEventTime', () => {
  it("as a query value, refuses junk in dockerd 20.10's words (strconv.ParseInt; dockerd: 500)", () => {
    expect(() => parseEventTime('x', now, true)).toThrow('strconv.ParseInt: parsing "x": invalid syntax');
    expect(() => parseEventTime('1.x', now, true)).toThrow('strconv.ParseInt: parsing "x": invalid syntax');
    // the prune filter's own text
    expect(() => parseEventTime('x', now)).toThrow('failed to parse value as time or duration: "x"');
  });

  it('is undefined when unset', () => {
    expect(parseEventTime(null, now)).toBeUndefined();
    expect(parseEventTime('', now)).toBeUndefined();
  });

  it('parses Unix seconds with and without a fraction (what the CLI sends)', () => {
    expect(parseEventTime('1700000000', now)).toBe(1700000000n * S);
    expect(parseEventTime('1700000000.5', now)).toBe(1700000000n * S + 500_000_000n);
    expect(parseEventTime('1700000000.000000001', now)).toBe(1700000000n * S + 1n);
    expect(parseEventTime('0', now)).toBe(0n);
  });

  it('parses Go durations as before now, truncated to the second', () => {
    const nowS = BigInt(Math.floor(now.getTime() / 1000));
    expect(parseEventTime('10m', now)).toBe((nowS - 600n) * S);
    expect(parseEventTime('1h30m', now)).toBe((nowS - 5400n) * S);
    expect(parseEventTime('0s', now)).toBe(nowS * S);
    expect(parseEventTime('1.5s', now)).toBe(BigInt(Math.floor((now.getTime() - 1500) / 1000)) * S);
  });

  it('parses RFC 3339 with zones and fractions', () => {
    expect(parseEventTime('2024-05-01T12:00:00Z', now)).toBe(BigInt(Date.parse('2024-05-01T12:00:00Z')) * 1_000_000n);
    expect(parseEventTime('2024-05-01T12:00:00.123456789Z', now)).toBe(BigInt(Date.parse('2024-05-01T12:00:00Z')) * 1_000_000n + 123456789n);
    expect(parseEventTime('2024-05-01T14:00:00+02:00', now)).toBe(BigInt(Date.parse('2024-05-01T12:00:00Z')) * 1_000_000n);
  });

  it('parses dates without a zone in local time', () => {
    expect(parseEventTime('2024-05-01', now)).toBe(BigInt(new Date(2024, 4, 1).getTime()) * 1_000_000n);
    expect(parseEventTime('2024-05-01T10:20', now)).toBe(BigInt(new Date(2024, 4, 1, 10, 20).getTime()) * 1_000_000n);
  });

  it('rejects other text as an invalid argument', () => {
    expect(() => parseEventTime('yesterday', now)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'failed to parse value as time or duration: "yesterday"' }));
    expect(() => parseEventTime('10x', now)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('parseGoDuration', () => {
  it('knows Go units and signs', () => {
    expect(parseGoDuration('300ms')).toBe(300e6);
    expect(parseGoDuration('-1.5h')).toBe(-5400e9);
    expect(parseGoDuration('2h45m10s')).toBe((2 * 3600 + 45 * 60 + 10) * 1e9);
    expect(parseGoDuration('5')).toBeUndefined();
    expect(parseGoDuration('')).toBeUndefined();
  });
});

describe('event time helpers', () => {
  it('compares events on timeNano, falling back to time', () => {
    expect(eventNanos(1700000000123000000, 1700000000)).toBe(1700000000123000000n);
    expect(eventNanos(undefined, 1700000000)).toBe(1700000000n * S);
  });
  it('renders start times for JetStream', () => {
    expect(nanosToIso(1700000000n * S + 999_999_999n)).toBe('2023-11-14T22:13:20.999Z');
  });
});
