import { parseFilterTime } from './filters';

describe('parseFilterTime', () => {
  const now = Date.parse('2024-01-02T00:00:00Z');
  it('reads durations, unix seconds and RFC 3339', () => {
    expect(parseFilterTime('24h', now)).toBe(Date.parse('2024-01-01T00:00:00Z'));
    expect(parseFilterTime('1h30m', now)).toBe(now - 90 * 60000);
    expect(parseFilterTime('1704067200', now)).toBe(Date.parse('2024-01-01T00:00:00Z'));
    expect(parseFilterTime('2024-01-01T00:00:00Z', now)).toBe(Date.parse('2024-01-01T00:00:00Z'));
    expect(() => parseFilterTime('yesterday', now)).toThrow('failed to parse value as time or duration: "yesterday"');
  });
});
