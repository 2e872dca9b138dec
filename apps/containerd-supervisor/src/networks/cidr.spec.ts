import { DOCKER_POOLS, expandPools, formatCidr, macForIp, overlaps, parseCidr, parseIp } from './cidr';

describe('cidr', () => {
  it('parses, masks and detects overlaps', () => {
    expect(formatCidr(parseCidr('172.18.3.4/16')!)).toBe('172.18.0.0/16');
    expect(parseCidr('172.18.0.0')).toBeUndefined();
    expect(parseCidr('300.1.1.1/8')).toBeUndefined();
    expect(overlaps(parseCidr('10.0.0.0/8')!, parseCidr('10.1.0.0/16')!)).toBe(true);
    expect(overlaps(parseCidr('10.0.0.0/16')!, parseCidr('10.1.0.0/16')!)).toBe(false);
  });
  it("lists dockerd's pools in order", () => {
    const pools = expandPools(DOCKER_POOLS).map(formatCidr);
    expect(pools.slice(0, 3)).toEqual(['172.17.0.0/16', '172.18.0.0/16', '172.19.0.0/16']);
    expect(pools[14]).toBe('172.31.0.0/16');
    expect(pools[15]).toBe('192.168.0.0/20');
    expect(pools[16]).toBe('192.168.16.0/20');
    expect(pools).toHaveLength(15 + 16);
  });
  it('derives the MAC from the address', () => {
    expect(macForIp(parseIp('172.17.0.2')!)).toBe('02:42:ac:11:00:02');
  });
});
