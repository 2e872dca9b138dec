import { cidrContains, cidrOverlaps, formatCidr, isReserved, parseCidr, parseIp } from './ip';

describe('ip', () => {
  it('parses addresses as Go net.ParseIP does', () => {
    expect(parseIp('10.1.2.3')).toEqual([10, 1, 2, 3]);
    expect(parseIp('010.1.2.3')).toBeUndefined();
    expect(parseIp('1.2.3.4:5')).toBeUndefined();
    expect(parseIp('::1')).toEqual([...new Array(15).fill(0), 1]);
    expect(parseIp('::ffff:1.2.3.4')?.slice(10)).toEqual([0xff, 0xff, 1, 2, 3, 4]);
    expect(parseIp('fd00::1')?.length).toBe(16);
    expect(parseIp('zz')).toBeUndefined();
  });

  it('parses CIDRs, keeping host bits in ip and masking the network', () => {
    const c = parseCidr('10.22.0.1/16')!;
    expect(c.ip).toEqual([10, 22, 0, 1]);
    expect(formatCidr(c)).toBe('10.22.0.0/16');
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.0')).toBeUndefined();
    expect(parseCidr('fd00::/64')?.prefix).toBe(64);
    expect(formatCidr(parseCidr('fd00::5/64')!)).toBe('fd00::/64');
  });

  it('answers containment, overlap and reserved addresses', () => {
    const n = parseCidr('10.5.0.0/16')!;
    expect(cidrContains(n, [10, 5, 255, 1])).toBe(true);
    expect(cidrContains(n, [10, 6, 0, 1])).toBe(false);
    expect(cidrOverlaps(n, parseCidr('10.5.1.0/24')!)).toBe(true);
    expect(cidrOverlaps(parseCidr('10.5.1.0/24')!, n)).toBe(true);
    expect(cidrOverlaps(n, parseCidr('10.6.0.0/16')!)).toBe(false);
    expect(isReserved(n, [10, 5, 0, 0])).toBe(true);
    expect(isReserved(n, [10, 5, 255, 255])).toBe(true);
    expect(isReserved(n, [10, 5, 0, 1])).toBe(false);
  });
});
