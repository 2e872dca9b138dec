import { checkDetachKeys, checkEnv, checkKillSignal, int32Of, validDetachKeys } from './request-checks';

// texts recorded from dockerd 20.10.24 (which answers the first two with 500)
describe('request checks', () => {
  it('detach keys as moby/term reads them', () => {
    expect(validDetachKeys('ctrl-p,ctrl-q')).toBe(true);
    expect(validDetachKeys('a,DEL,ctrl-\\')).toBe(true);
    expect(() => checkDetachKeys('ctrl-@x')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Invalid escape keys (ctrl-@x) provided' }));
    expect(() => checkDetachKeys('')).not.toThrow();
  });
  it('numeric kill signals Linux has', () => {
    expect(() => checkKillSignal('c1', '999')).toThrow('Cannot kill container: c1: The linux daemon does not support signal 999');
    expect(() => checkKillSignal('c1', '32')).toThrow('does not support signal 32');
    for (const ok of ['9', '64', '34', 'SIGTERM', '']) expect(() => checkKillSignal('c1', ok)).not.toThrow();
  });
  it('env entries need a name', () => {
    expect(() => checkEnv([''])).toThrow('invalid environment variable: ');
    expect(() => checkEnv(['=x'])).toThrow('invalid environment variable: =x');
    expect(() => checkEnv(['A=1', 'B'])).not.toThrow();
  });
  it('int32 fields saturate instead of failing to serialize', () => {
    expect(int32Of(3000000000n)).toBe(2147483647);
    expect(int32Of(-5n)).toBe(-5);
  });
});
