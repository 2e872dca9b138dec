import { parseFilters, parseFilterTime } from './filters';

describe('parseFilters', () => {
  it('reads the map form and the legacy list form', () => {
    expect(parseFilters('{"status":{"exited":true,"created":false},"label":{"a=b":true}}')).toEqual([
      { key: 'status', values: ['exited'] },
      { key: 'label', values: ['a=b'] },
    ]);
    expect(parseFilters('{"status":["exited","dead"]}')).toEqual([{ key: 'status', values: ['exited', 'dead'] }]);
    expect(parseFilters(null)).toEqual([]);
    expect(parseFilters('')).toEqual([]);
  });
  it('rejects garbage with 400 text', () => {
    expect(() => parseFilters('{')).toThrow('invalid filter');
    expect(() => parseFilters('{"status":"exited"}')).toThrow('invalid filter');
  });
});

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
