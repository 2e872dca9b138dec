import { goFileMode, GoMode, rfc3339Nano } from './file-mode';

describe('goFileMode', () => {
  it('maps unix type bits to Go os.FileMode bits', () => {
    expect(goFileMode(0o040755)).toBe(GoMode.dir + 0o755);
    expect(goFileMode(0o040755)).toBe(2147484141); // what Docker sends for a 0755 directory
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goFileMode(0o120777)).toBe(GoMode.symlink + 0o777);
    expect(goFileMode(0o020666)).toBe(GoMode.device + GoMode.charDevice + 0o666);
    expect(goFileMode(0o060660)).toBe(GoMode.device + 0o660);
    expect(goFileMode(0o010644)).toBe(GoMode.namedPipe + 0o644);
    expect(goFileMode(0o140755)).toBe(GoMode.socket + 0o755);
    expect(goFileMode(0o104755)).toBe(GoMode.setuid + 0o755);
    expect(goFileMode(0o041777)).toBe(GoMode.dir + GoMode.sticky + 0o777);
  });
});

describe('rfc3339Nano', () => {
  it('trims trailing zeros of the fraction and omits a zero one', () => {
    expect(rfc3339Nano(1700000000123450000n)).toBe('2023-11-14T22:13:20.12345Z');
    expect(rfc3339Nano(1700000000000000000n)).toBe('2023-11-14T22:13:20Z');
    expect(rfc3339Nano(1700000000000000001n)).toBe('2023-11-14T22:13:20.000000001Z');
  });
});
