import { applySettings, computePrivileges, initialSettings, interfaceCapability, parsePluginConfig, validatePrivileges } from './plugin-config';

/** vieux/docker-volume-sshfs's config.json: lower-case keys, as real plugins write them. */
const SSHFS = {
  description: 'sshFS plugin for Docker',
  documentation: 'https://docs.docker.com/engine/extend/plugins/',
  entrypoint: ['/docker-volume-sshfs'],
  env: [{ name: 'DEBUG', settable: ['value'], value: '0' }],
  interface: { socket: 'sshfs.sock', types: ['docker.volumedriver/1.0'] },
  linux: { capabilities: ['CAP_SYS_ADMIN'], devices: [{ path: '/dev/fuse' }] },
  mounts: [{ destination: '/mnt/state', options: ['rbind'], name: 'state', source: '/var/lib/docker/plugins/', settable: ['source'], type: 'bind' }],
  network: { type: 'host' },
  propagatedmount: '/mnt/volumes',
};

describe('parsePluginConfig', () => {
  it('reads keys in any letter case, as Go decodes them', () => {
    const c = parsePluginConfig(JSON.stringify(SSHFS));
    expect(c.Interface).toEqual({ Types: ['docker.volumedriver/1.0'], Socket: 'sshfs.sock', ProtocolScheme: '' });
    expect(c.PropagatedMount).toBe('/mnt/volumes');
    expect(c.Network.Type).toBe('host');
    expect(c.Linux.Capabilities).toEqual(['CAP_SYS_ADMIN']);
    expect(c.Linux.Devices).toEqual([{ Name: '', Description: '', Settable: null, Path: '/dev/fuse' }]);
    expect(c.Mounts?.[0]).toMatchObject({ Name: 'state', Source: '/var/lib/docker/plugins/', Destination: '/mnt/state', Settable: ['source'] });
    expect(c.Env).toEqual([{ Name: 'DEBUG', Description: '', Settable: ['value'], Value: '0' }]);
    // an exact key wins over a case-folded one
    expect(parsePluginConfig(JSON.stringify({ ...SSHFS, Description: 'exact' })).Description).toBe('exact');
  });

  it.each([
    ['not json', '{', 'invalid config json'],
    ['an unknown interface type', { ...SSHFS, interface: { socket: 's.sock', types: ['docker.rootkit/1.0'] } }, 'invalid plugin config: unknown interface type "docker.rootkit/1.0"'],
    ['no interface types', { ...SSHFS, interface: { socket: 's.sock', types: [] } }, 'invalid plugin config: Interface.Types is empty'],
    ['a socket path that climbs out', { ...SSHFS, interface: { socket: '../../etc/x.sock', types: ['docker.volumedriver/1.0'] } }, 'invalid plugin config: Interface.Socket must be a file name, not "../../etc/x.sock"'],
    ['a relative mount destination', { ...SSHFS, mounts: [{ destination: 'mnt', source: '/x', type: 'bind' }] }, 'invalid plugin config: Mounts[0].Destination must be an absolute path'],
    ['a relative bind source', { ...SSHFS, mounts: [{ destination: '/mnt', source: 'x', type: 'bind' }] }, 'invalid plugin config: Mounts[0].Source must be an absolute path'],
    ['a settable mount destination', { ...SSHFS, mounts: [{ destination: '/mnt', source: '/x', type: 'bind', settable: ['destination'] }] }, 'invalid plugin config: Mounts[0].Settable: "destination" cannot be settable (only "source")'],
    ['a device outside /dev', { ...SSHFS, linux: { devices: [{ path: '/etc/shadow' }] } }, 'invalid plugin config: Linux.Devices[0].Path must be under /dev/'],
    ['no entrypoint', { ...SSHFS, entrypoint: [] }, 'invalid plugin config: Entrypoint is empty'],
    ['a wrong type', { ...SSHFS, ipchost: 'yes' }, 'invalid plugin config: IpcHost must be a boolean'],
  ])('refuses %s', (_what, doc, text) => {
    expect(() => parsePluginConfig(typeof doc === 'string' ? doc : JSON.stringify(doc))).toThrow(text);
  });

  it('splits interface types as dockerd does', () => {
    expect(interfaceCapability('docker.volumedriver/1.0')).toEqual({ prefix: 'docker', capability: 'volumedriver', version: '1.0' });
  });
});

describe('privileges', () => {
  it("computes dockerd's list, in its order", () => {
    expect(computePrivileges(parsePluginConfig(JSON.stringify(SSHFS)))).toEqual([
      { Name: 'network', Description: 'permissions to access a network', Value: ['host'] },
      { Name: 'mount', Description: 'host path to mount', Value: ['/var/lib/docker/plugins/'] },
      { Name: 'device', Description: 'host device to access', Value: ['/dev/fuse'] },
      { Name: 'capabilities', Description: 'list of additional capabilities required', Value: ['CAP_SYS_ADMIN'] },
    ]);
  });

  it('accepts exactly the required privileges in any order, else "incorrect privileges"', () => {
    const req = computePrivileges(parsePluginConfig(JSON.stringify(SSHFS)));
    expect(() => validatePrivileges(req, [...req].reverse())).not.toThrow();
    expect(() => validatePrivileges(req, req.slice(1))).toThrow('incorrect privileges');
    expect(() => validatePrivileges(req, [...req.slice(1), { Name: 'network', Description: '', Value: ['bridge'] }])).toThrow('incorrect privileges');
    expect(() => validatePrivileges([], [])).not.toThrow();
  });
});

describe('applySettings', () => {
  const c = parsePluginConfig(JSON.stringify({ ...SSHFS, args: { name: 'args', settable: ['value'], value: ['-v'] } }));
  const s0 = initialSettings(c);

  it('sets env values, mount sources and args where settable; the input is not changed', () => {
    const s = applySettings(c, s0, ['DEBUG=1', 'state.source=/srv/state', 'args=-a -b']);
    expect(s.Env).toEqual(['DEBUG=1']);
    expect(s.Mounts[0].Source).toBe('/srv/state');
    expect(s.Args).toEqual(['-a', '-b']);
    expect(s0.Env).toEqual(['DEBUG=0']);
  });

  it("answers dockerd's texts", () => {
    expect(() => applySettings(c, s0, ['NOPE=1'])).toThrow('setting "NOPE" not found in the plugin configuration');
    expect(() => applySettings(c, s0, ['=1'])).toThrow('invalid format, must be <name>[.<field>][=<value>]');
    expect(() => applySettings(c, s0, ['state.destination=/x'])).toThrow('"state.destination" is not settable');
    expect(() => applySettings(c, s0, ['state=relative'])).toThrow('mount source "relative" must be an absolute path');
  });
});
