import { parseClusterArgs } from './cluster-args';
import { planCluster } from './cluster-plan';
import { bridgeAddress, hostRoutes, hostRules } from './host-network';

describe('host network helpers', () => {
  it('reads route destinations of every table, local and broadcast ones included', () => {
    const out = [
      'default via 192.0.2.1 dev eth0',
      '10.172.0.0/24 dev ddcmp0 proto kernel scope link src 10.172.0.1',
      'local 10.172.0.1 dev ddcmp0 table local proto kernel scope host src 10.172.0.1',
      'broadcast 10.172.0.255 dev ddcmp0 table local proto kernel scope link src 10.172.0.1',
      'fe80::/64 dev eth0 proto kernel metric 256',
      '',
    ].join('\n');
    expect(hostRoutes(() => out)).toEqual(['10.172.0.0/24', '10.172.0.1', '10.172.0.255']);
  });

  it("finds an existing bridge's address, and none for a missing bridge", () => {
    expect(bridgeAddress('ddclus0', () => '7: ddclus0    inet 10.213.0.1/24 scope global ddclus0\\       valid_lft forever')).toBe('10.213.0.1/24');
    expect(
      bridgeAddress('nope', () => {
        throw new Error('Device "nope" does not exist.');
      }),
    ).toBeUndefined();
  });

  it("masquerades only the cluster's subnet leaving its bridge, and names the bridge in every rule's comment", () => {
    const p = planCluster(parseClusterArgs(['--bridge', 'ddt0']), { subnet: '10.213.5.0/24', pools: '10.214.0.0/16' });
    const rules = hostRules(p);
    expect(rules[0]).toEqual({
      table: 'nat',
      chain: 'POSTROUTING',
      insert: false,
      spec: ['-s', '10.213.5.0/24', '!', '-d', '10.213.5.0/24', '!', '-o', 'ddt0', '-m', 'comment', '--comment', 'drydock cluster ddt0: outbound masquerade', '-j', 'MASQUERADE'],
    });
    expect(rules.every((r) => r.spec.join(' ').includes('--comment drydock cluster ddt0: '))).toBe(true);
    expect(rules.filter((r) => r.chain === 'FORWARD').map((r) => r.insert)).toEqual([true, true]);
  });
});
