import { rfc3339Nano, ZERO_TIME } from './time';

describe('rfc3339Nano', () => {
  it('prints like Go time.RFC3339Nano in UTC', () => {
    expect(rfc3339Nano({ seconds: '1704067200', nanos: 123456000 })).toBe('2024-01-01T00:00:00.123456Z');
    expect(rfc3339Nano({ seconds: '1704067200', nanos: 5 })).toBe('2024-01-01T00:00:00.000000005Z');
    expect(rfc3339Nano({ seconds: '1704067200', nanos: 0 })).toBe('2024-01-01T00:00:00Z');
  });
  it('prints Go zero time for unset', () => {
    expect(rfc3339Nano(undefined)).toBe(ZERO_TIME);
    expect(rfc3339Nano({ seconds: '0', nanos: 0 })).toBe('0001-01-01T00:00:00Z');
  });
});
