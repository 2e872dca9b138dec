import { networkJson } from './network-json';

const id = '0'.repeat(63) + '1';
const cid = 'c'.repeat(64);

describe('networkJson', () => {
  const n = {
    id,
    name: 'n1',
    created: { seconds: '1704067200', nanos: 5 },
    scope: 'local',
    driver: 'bridge',
    enableIpv6: false,
    ipam: { driver: 'default', config: [{ subnet: '172.26.0.0/16', ipRange: '', gateway: '172.26.0.1', auxAddresses: {} }], options: {} },
    internal: true,
    attachable: false,
    ingress: false,
    configOnly: false,
    containers: { [cid]: { name: 'w1', endpointId: 'e'.repeat(64), macAddress: '02:42:ac:1a:00:02', ipv4Address: '172.26.0.2/16', ipv6Address: '', aliases: ['w1'] } },
    options: { foo: 'bar' },
    labels: { x: 'y' },
  };

  it('has dockerd 20.10 NetworkResource shape and order', () => {
    const j = networkJson(n);
    expect(Object.keys(j)).toEqual(['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Options', 'Labels']);
    expect(j).toEqual({
      Name: 'n1',
      Id: id,
      Created: '2024-01-01T00:00:00.000000005Z',
      Scope: 'local',
      Driver: 'bridge',
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.26.0.0/16', Gateway: '172.26.0.1' }] },
      Internal: true,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: { [cid]: { Name: 'w1', EndpointID: 'e'.repeat(64), MacAddress: '02:42:ac:1a:00:02', IPv4Address: '172.26.0.2/16', IPv6Address: '' } },
      Options: { foo: 'bar' },
      Labels: { x: 'y' },
    });
  });

  it('lists without endpoints (API >= 1.28) and prints a pool as given (omitempty fields)', () => {
    expect(networkJson(n, false).Containers).toEqual({});
    const j = networkJson({ ...n, ipam: { driver: 'default', config: [{ subnet: '10.26.0.0/16', ipRange: '10.26.1.0/24', gateway: '', auxAddresses: { a: '10.26.0.5' } }], options: { o: '1' } } });
    expect(j.IPAM).toEqual({ Driver: 'default', Options: { o: '1' }, Config: [{ Subnet: '10.26.0.0/16', IPRange: '10.26.1.0/24', AuxiliaryAddresses: { a: '10.26.0.5' } }] });
  });
});
