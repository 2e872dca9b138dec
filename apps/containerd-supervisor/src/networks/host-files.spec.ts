import { buildHosts, buildResolvConf } from './host-files';

describe('host files', () => {
  it("writes /etc/hosts as dockerd does for a bridge endpoint", () => {
    expect(buildHosts({ hostname: 'abc123', ip: '172.17.0.2', extra: [{ ip: '1.2.3.4', names: 'foo' }] })).toBe(
      '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n1.2.3.4\tfoo\n172.17.0.2\tabc123\n',
    );
    expect(buildHosts({ hostname: 'web', domainname: 'example.com', ip: '10.0.0.2', extra: [] })).toMatch(/10\.0\.0\.2\tweb\.example\.com web\n$/);
  });
  it('filters loopback resolvers on the default bridge, falls back to Google', () => {
    expect(buildResolvConf({ host: 'nameserver 127.0.0.53\nsearch lan\n', dns: [], dnsSearch: [], dnsOptions: [], embeddedDns: false })).toBe(
      'search lan\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844',
    );
    expect(buildResolvConf({ host: 'nameserver 10.0.0.1\n', dns: [], dnsSearch: [], dnsOptions: [], embeddedDns: false })).toBe('nameserver 10.0.0.1\n');
    expect(buildResolvConf({ host: 'nameserver 10.0.0.1\n', dns: ['1.1.1.1'], dnsSearch: ['a.b'], dnsOptions: [], embeddedDns: false })).toBe('search a.b\nnameserver 1.1.1.1\n');
  });
  it('points user-defined networks at 127.0.0.11 with ndots:0', () => {
    expect(buildResolvConf({ host: 'nameserver 10.0.0.1\nsearch lan\n', dns: [], dnsSearch: [], dnsOptions: [], embeddedDns: true })).toBe('search lan\nnameserver 127.0.0.11\noptions ndots:0\n');
    expect(buildResolvConf({ host: 'nameserver 10.0.0.1\n', dns: [], dnsSearch: [], dnsOptions: ['ndots:2'], embeddedDns: true })).toBe('nameserver 127.0.0.11\noptions ndots:2\n');
  });
});
