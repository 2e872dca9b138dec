import type { supervisorV1 } from '@drydock/proto';
import { networkSettingsJson, portBindingsJson, summaryPortsJson } from './container-network-json';
import { containerJson, containerSummaryJson } from './container-json';

const netId = 'f'.repeat(64);
const epId = 'e'.repeat(64);

/** What the supervisor reports for `docker run -d -p 8080:80 -p 127.0.0.1:9000:9000/udp --expose 7000 busybox` (running). */
const running: supervisorV1.NetworkSettings = {
  sandboxKey: '/proc/123/ns/net',
  sandboxId: 'd'.repeat(64),
  bridge: '',
  endpointId: epId,
  gateway: '172.17.0.1',
  ipAddress: '172.17.0.2',
  ipPrefixLen: 16,
  macAddress: '02:42:ac:11:00:02',
  hairpinMode: false,
  ports: {
    '80/tcp': { mappings: [{ hostIp: '0.0.0.0', hostPort: 8080 }, { hostIp: '::', hostPort: 8080 }] },
    '9000/udp': { mappings: [{ hostIp: '127.0.0.1', hostPort: 9000 }] },
    '7000/tcp': { mappings: [] },
  },
  networks: {
    bridge: { config: { aliases: [], ipv4Address: '', links: [], ipv6Address: '', macAddress: '', driverOpts: {} }, networkId: netId, endpointId: epId, gateway: '172.17.0.1', ipAddress: '172.17.0.2', ipPrefixLen: 16, macAddress: '02:42:ac:11:00:02', aliases: [] },
  },
};

describe('networkSettingsJson', () => {
  it('has dockerd 20.10 NetworkSettings shape and order for a running container', () => {
    const j = networkSettingsJson(running, 'default');
    expect(Object.keys(j)).toEqual([
      'Bridge', 'SandboxID', 'HairpinMode', 'LinkLocalIPv6Address', 'LinkLocalIPv6PrefixLen', 'Ports', 'SandboxKey', 'SecondaryIPAddresses', 'SecondaryIPv6Addresses',
      'EndpointID', 'Gateway', 'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'MacAddress', 'Networks',
    ]);
    expect(j).toMatchObject({
      SandboxKey: '/proc/123/ns/net',
      EndpointID: epId,
      Gateway: '172.17.0.1',
      IPAddress: '172.17.0.2',
      IPPrefixLen: 16,
      MacAddress: '02:42:ac:11:00:02',
      SecondaryIPAddresses: null,
      Ports: {
        '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }],
        '9000/udp': [{ HostIp: '127.0.0.1', HostPort: '9000' }],
        '7000/tcp': null,
      },
    });
    expect((j.Networks as Record<string, unknown>).bridge).toEqual({
      IPAMConfig: null, Links: null, Aliases: null, NetworkID: netId, EndpointID: epId, Gateway: '172.17.0.1', IPAddress: '172.17.0.2', IPPrefixLen: 16,
      IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '02:42:ac:11:00:02', DriverOpts: null,
    });
  });

  it('shows a created container on a user network as dockerd does (asked-for settings, no addresses)', () => {
    const j = networkSettingsJson({ ports: {}, networks: { n1: { config: { aliases: ['al'], ipv4Address: '172.18.0.50', links: [], ipv6Address: '', macAddress: '', driverOpts: {} }, aliases: [] } } }, 'n1');
    expect(j.Ports).toEqual({});
    expect(j.SandboxKey).toBe('');
    expect((j.Networks as Record<string, Record<string, unknown>>).n1).toMatchObject({ IPAMConfig: { IPv4Address: '172.18.0.50' }, Aliases: ['al'], NetworkID: '', IPAddress: '' });
  });

  it('prefers the aliases in effect (with the short id) over the asked ones', () => {
    const j = networkSettingsJson({ networks: { n1: { config: { aliases: ['web'] }, aliases: ['web', 'abcdef123456'] } } }, 'n1');
    expect((j.Networks as Record<string, Record<string, unknown>>).n1.Aliases).toEqual(['web', 'abcdef123456']);
  });

  it('falls back to the mode when no network is reported: host and none by name, container mode none at all', () => {
    expect(Object.keys(networkSettingsJson(undefined, 'host').Networks as object)).toEqual(['host']);
    expect(Object.keys(networkSettingsJson(undefined, 'none').Networks as object)).toEqual(['none']);
    expect(Object.keys(networkSettingsJson(undefined, 'default').Networks as object)).toEqual(['bridge']);
    expect(networkSettingsJson(undefined, 'container:' + 'a'.repeat(64)).Networks).toEqual({});
  });
});

describe('summaryPortsJson', () => {
  it('lists one row per host binding and a bare row for an exposed port, keys in string order', () => {
    expect(summaryPortsJson(running)).toEqual([
      { PrivatePort: 7000, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 9000, PublicPort: 9000, Type: 'udp' },
    ]);
    expect(summaryPortsJson(undefined)).toEqual([]);
  });
});

describe('HostConfig network fields', () => {
  it('echoes PortBindings, Dns*, ExtraHosts, Links and PublishAllPorts as given', () => {
    expect(portBindingsJson({ '80/tcp': { bindings: [{ hostIp: '', hostPort: '8080' }] } })).toEqual({ '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
    const j = containerJson({
      hostConfig: { networkMode: 'n1', portBindings: { '80/tcp': { bindings: [{ hostIp: '', hostPort: '8081' }] } }, dns: ['9.9.9.9'], dnsOptions: ['ndots:2'], dnsSearch: ['ex.com'], extraHosts: ['foo:1.2.3.4'], links: [], publishAllPorts: true },
      config: { macAddress: '02:42:ac:11:00:99', hostname: 'hh', domainname: 'dd.com' },
    });
    expect(j.HostConfig).toMatchObject({ NetworkMode: 'n1', PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8081' }] }, Dns: ['9.9.9.9'], DnsOptions: ['ndots:2'], DnsSearch: ['ex.com'], ExtraHosts: ['foo:1.2.3.4'], Links: null, PublishAllPorts: true });
    const cfg = j.Config as Record<string, unknown>;
    expect(cfg).toMatchObject({ Hostname: 'hh', Domainname: 'dd.com', MacAddress: '02:42:ac:11:00:99' });
    // container.Config's order: MacAddress between Entrypoint and OnBuild
    const keys = Object.keys(cfg);
    expect(keys.indexOf('MacAddress')).toBe(keys.indexOf('Entrypoint') + 1);
    expect(keys.indexOf('OnBuild')).toBe(keys.indexOf('MacAddress') + 1);
  });

  it('leaves Config.MacAddress out when unset (omitempty)', () => {
    expect(containerJson({ config: {} }).Config).not.toHaveProperty('MacAddress');
  });
});

describe('ps NetworkSettings.Networks', () => {
  it('drops Links, Aliases and DriverOpts but keeps IPAMConfig, as dockerd\'s container view copies them', () => {
    const ns: supervisorV1.NetworkSettings = { networks: { n1: { config: { aliases: ['al'], ipv4Address: '172.18.0.50', links: ['a:b'], driverOpts: { o: '1' } }, aliases: ['al', 'abcdef123456'], networkId: netId, ipAddress: '172.18.0.50', ipPrefixLen: 16 } } };
    const j = containerSummaryJson({ networkMode: 'n1', networkSettings: ns });
    expect(j.HostConfig).toEqual({ NetworkMode: 'n1' });
    expect((j.NetworkSettings as { Networks: Record<string, unknown> }).Networks.n1).toMatchObject({ IPAMConfig: { IPv4Address: '172.18.0.50' }, Links: null, Aliases: null, DriverOpts: null, NetworkID: netId, IPAddress: '172.18.0.50' });
  });
});
