import { FilterArgs } from '../http/query';
import { checkNetworkListFilters, checkNetworkPruneFilters, parseNetworkInspectQuery, parseNetworkConnect, parseNetworkCreate, parseNetworkDisconnect } from './network-request';
import type { NetworkCreateBody } from './request-bodies';

const refusal = (body: NetworkCreateBody | undefined): string => {
  try {
    parseNetworkCreate(body);
  } catch (err) {
    return `${(err as { code?: string }).code} ${(err as Error).message}`;
  }
  return 'accepted';
};
const pool = (c: object) => ({ Name: 'n', IPAM: { Config: [c] } });

/** Texts and statuses recorded from dockerd 20.10.24 (its 500s for malformed input are 400 here). */
describe('parseNetworkCreate', () => {
  it.each([
    [{}, 'INVALID_ARGUMENT invalid name: '],
    [{ Name: '  ' }, 'INVALID_ARGUMENT invalid name:   '],
    [{ Name: 'bridge' }, 'PERMISSION_DENIED operation is not permitted on predefined bridge network '],
    [{ Name: 'host', Driver: 'foo' }, 'PERMISSION_DENIED operation is not permitted on predefined host network '],
    [{ Name: 'a', Driver: 'foo' }, 'NOT_FOUND plugin "foo" not found'],
    [{ Name: 'a', IPAM: { Driver: 'foo' } }, 'NOT_FOUND plugin "foo" not found'],
    [{ Name: 'a', Driver: 'host' }, 'PERMISSION_DENIED only one instance of "host" network is allowed'],
    [{ Name: 'a', Driver: 'null' }, 'PERMISSION_DENIED only one instance of "null" network is allowed'],
    [{ Name: 'a', Ingress: true }, 'PERMISSION_DENIED Ingress network can only be global scope network'],
    [{ Name: 'a', Scope: 'swarm' }, 'PERMISSION_DENIED cannot create a swarm scoped network when swarm is not active'],
    [{ Name: 'a', EnableIPv6: true }, 'NOT_FOUND could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network'],
    // the subnet is parsed before the name and the driver are looked at
    [{ IPAM: { Config: [{ Subnet: 'foo' }] } }, 'INVALID_ARGUMENT Invalid subnet foo : invalid CIDR address: foo'],
    [pool({ IPRange: '10.5.0.0/24' }), 'INVALID_ARGUMENT Invalid subnet  : invalid CIDR address: '],
    [pool({ Subnet: '10.29.0.0/33' }), 'INVALID_ARGUMENT Invalid subnet 10.29.0.0/33 : invalid CIDR address: 10.29.0.0/33'],
    [{ Name: 'b1', Driver: 'host', IPAM: { Config: [{ Subnet: '10.40.0.0/16', Gateway: 'foo' }] } }, 'PERMISSION_DENIED only one instance of "host" network is allowed'],
    [pool({ Subnet: '10.5.0.0/16', Gateway: 'foo' }), 'INVALID_ARGUMENT invalid gateway address foo in Ipam configuration'],
    [pool({ Subnet: '10.30.0.0/16', Gateway: '10.30.0.1/16' }), 'INVALID_ARGUMENT invalid gateway address 10.30.0.1/16 in Ipam configuration'],
    [pool({ Subnet: '10.5.0.0/16', Gateway: '10.6.0.1' }), 'INVALID_ARGUMENT failed to allocate gateway (10.6.0.1): Requested address is out of range'],
    [pool({ Subnet: '10.24.0.0/16', Gateway: '10.24.0.0' }), 'INVALID_ARGUMENT failed to allocate gateway (10.24.0.0): Address already in use'],
    [pool({ Subnet: '10.25.0.0/16', Gateway: '10.25.255.255' }), 'INVALID_ARGUMENT failed to allocate gateway (10.25.255.255): Address already in use'],
    [pool({ Subnet: '10.31.0.0/31' }), 'INVALID_ARGUMENT failed to allocate gateway (): No available addresses on this pool'],
    [pool({ Subnet: '10.40.0.0/16', Gateway: '10.41.0.1', IPRange: 'x' }), 'INVALID_ARGUMENT failed to parse pool request for address space "LocalDefault" pool "10.40.0.0/16" subpool "x": Invalid Address SubPool'],
    [pool({ Subnet: '10.40.0.0/16', Gateway: '10.41.0.1', AuxiliaryAddresses: { a: 'x' } }), 'INVALID_ARGUMENT failed to allocate gateway (10.41.0.1): Requested address is out of range'],
    [{ Name: 'a1', IPAM: { Config: [{ Subnet: '10.21.0.0/16', AuxiliaryAddresses: { x: 'zz' } }] } }, 'INVALID_ARGUMENT non parsable secondary ip address (x:zz) passed for network a1'],
    [pool({ Subnet: '10.5.0.0/16', AuxiliaryAddresses: { x: '10.7.0.1' } }), 'PERMISSION_DENIED auxiliary address: (x:10.7.0.1) must belong to the master pool: 10.5.0.0/16'],
    [pool({ Subnet: '10.42.0.0/16', AuxiliaryAddresses: { a: '10.42.0.1' } }), 'INVALID_ARGUMENT failed to allocate secondary ip address (a:10.42.0.1): Address already in use'],
    [{ Name: 'a3', IPAM: { Config: [{ Subnet: '10.23.0.0/16' }, { Subnet: '10.23.1.0/24' }] } }, 'PERMISSION_DENIED Pool overlaps with other one on this address space'],
  ])('%#: refuses %j', (body, want) => {
    expect(refusal(body as NetworkCreateBody)).toBe(want);
  });

  it.each([
    [{ Name: 'a b' }],
    [pool({ Subnet: '10.22.0.1/16' })],
    [pool({ Subnet: '10.26.0.0/16', IPRange: '10.26.1.0/24', Gateway: '10.26.0.1' })],
    // dockerd's API takes a range outside the subnet (the CLI refuses it itself)
    [pool({ Subnet: '10.34.0.0/16', IPRange: '10.35.0.0/24' })],
    [{ Name: 'v6', EnableIPv6: true, IPAM: { Config: [{ Subnet: '10.50.0.0/16' }, { Subnet: 'fd00::/64' }] } }],
    [{ Name: 'a', Driver: 'bridge', IPAM: { Driver: 'default' } }],
  ])('%#: accepts %j as dockerd does', (body) => {
    expect(refusal(body as NetworkCreateBody)).toBe('accepted');
  });

  it('maps what `docker network create --subnet --gateway --ip-range --aux-address --internal --label -o` sends', () => {
    expect(
      parseNetworkCreate({
        Name: 'n1',
        CheckDuplicate: true,
        Driver: 'bridge',
        Internal: true,
        Attachable: true,
        IPAM: { Driver: 'default', Config: [{ Subnet: '10.60.0.0/16', IPRange: '10.60.1.0/24', Gateway: '10.60.0.1', AuxiliaryAddresses: { r: '10.60.0.2' } }], Options: {} },
        Options: { 'com.docker.network.bridge.name': 'br-test' },
        Labels: { a: 'b' },
      }),
    ).toEqual({
      name: 'n1',
      checkDuplicate: true,
      driver: 'bridge',
      internal: true,
      attachable: true,
      ingress: false,
      enableIpv6: false,
      ipam: { driver: 'default', config: [{ subnet: '10.60.0.0/16', ipRange: '10.60.1.0/24', gateway: '10.60.0.1', auxAddresses: { r: '10.60.0.2' } }], options: {} },
      options: { 'com.docker.network.bridge.name': 'br-test' },
      labels: { a: 'b' },
      scope: 'local',
      configOnly: false,
      configFrom: '',
    });
  });

  it('takes overlay networks as the swarm\'s, and refuses swarm scope for a bridge', () => {
    expect(parseNetworkCreate({ Name: 'ov', Driver: 'overlay', Attachable: true, Internal: true, IPAM: { Config: [{ Subnet: '10.0.9.0/24' }] } })).toMatchObject({ driver: 'overlay', scope: 'swarm', attachable: true, internal: true });
    expect(parseNetworkCreate({ Name: 'ov', Driver: 'overlay', Scope: 'swarm' })).toMatchObject({ driver: 'overlay' });
    expect(refusal({ Name: 'b', Driver: 'bridge', Scope: 'swarm' })).toBe('PERMISSION_DENIED cannot create a swarm scoped network when swarm is not active');
  });

  it('defaults the driver to bridge (compose leaves Driver and IPAM out)', () => {
    expect(parseNetworkCreate({ Name: 'myapp_default', CheckDuplicate: true, Attachable: true })).toMatchObject({ driver: 'bridge', ipam: { driver: 'default', config: [] } });
  });
});

describe('connect / disconnect', () => {
  it('maps compose\'s connect with aliases and a static address', () => {
    expect(parseNetworkConnect('app_default', { Container: 'abc', EndpointConfig: { Aliases: ['web', 'abc123456789'], IPAMConfig: { IPv4Address: '172.20.0.9' } } })).toEqual({
      network: 'app_default',
      container: 'abc',
      endpointConfig: { aliases: ['web', 'abc123456789'], ipv4Address: '172.20.0.9', ipv6Address: '', links: [], macAddress: '', driverOpts: {} },
    });
    expect(parseNetworkDisconnect('n', { Container: 'abc', Force: true })).toEqual({ network: 'n', container: 'abc', force: true });
  });

  it('refuses an empty container and a malformed address with dockerd\'s texts', () => {
    expect(() => parseNetworkConnect('n', {})).toThrow('invalid name or ID supplied: ""');
    expect(() => parseNetworkDisconnect('n', undefined)).toThrow('invalid name or ID supplied: ""');
    expect(() => parseNetworkConnect('n', { Container: 'c', EndpointConfig: { IPAMConfig: { IPv4Address: '300.1.1.1' } } })).toThrow('invalid IPv4 address: 300.1.1.1');
  });
});

describe('network filters', () => {
  const f = (o: object) => FilterArgs.fromJson(JSON.stringify(o));
  it('checks ls filters as dockerd does', () => {
    expect(() => checkNetworkListFilters(f({ foo: { x: true } }))).toThrow("Invalid filter 'foo'");
    expect(() => checkNetworkListFilters(f({ type: { x: true } }))).toThrow("invalid filter: 'type'='x'");
    expect(() => checkNetworkListFilters(f({ dangling: { x: true } }))).toThrow(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`);
    // dockerd's spellings only, one value, dangling checked before type; a bad type is dockerd's 500, a 400 here
    expect(() => checkNetworkListFilters(f({ dangling: { TRUE: true } }))).toThrow(`invalid value for filter 'dangling'`);
    expect(() => checkNetworkListFilters(f({ dangling: { true: true, false: true } }))).toThrow('got more than one value for filter key "dangling"');
    expect(() => checkNetworkListFilters(f({ type: { x: true }, dangling: { x: true } }))).toThrow(`invalid value for filter 'dangling'`);
    expect(() => checkNetworkListFilters(f({ type: { foo: true } }))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => checkNetworkListFilters(f({ type: { custom: true, builtin: true }, dangling: { '1': true }, driver: { bridge: true }, name: { 'a[': true }, id: { e: true }, label: { a: true }, scope: { local: true } }))).not.toThrow();
  });
  it('checks prune filters as dockerd does', () => {
    expect(() => checkNetworkPruneFilters(f({ name: { x: true } }), Date.now())).toThrow("Invalid filter 'name'");
    expect(() => checkNetworkPruneFilters(f({ until: { x: true } }), Date.now())).toThrow('failed to parse value as time or duration: "x"');
    expect(() => checkNetworkPruneFilters(f({ until: { '24h': true }, label: { a: true }, 'label!': { b: true } }), Date.now())).not.toThrow();
    expect(() => checkNetworkPruneFilters(f({ until: { x: true } }), Date.now())).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => checkNetworkPruneFilters(f({ until: { '1h': true, '2h': true } }), Date.now())).toThrow('more than one until filter specified');
  });
});

describe('parseNetworkInspectQuery', () => {
  it('parses verbose as a Go bool and refuses other scopes as dockerd does', () => {
    expect(parseNetworkInspectQuery('bridge', new URLSearchParams('verbose=1&scope=local'))).toEqual({ id: 'bridge', verbose: true, scope: 'local' });
    expect(parseNetworkInspectQuery('bridge', new URLSearchParams('verbose='))).toEqual({ id: 'bridge', verbose: false, scope: '' });
    expect(() => parseNetworkInspectQuery('bridge', new URLSearchParams('verbose=x'))).toThrow('invalid value for verbose: x: strconv.ParseBool: parsing "x": invalid syntax');
    expect(() => parseNetworkInspectQuery('nope', new URLSearchParams('scope=x'))).toThrow('network nope not found');
    expect(parseNetworkInspectQuery('ov', new URLSearchParams('scope=swarm'))).toMatchObject({ scope: 'swarm' });
  });
});
