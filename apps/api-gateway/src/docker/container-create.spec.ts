import { decodeBody } from '../http/go-json';
import { parseBind, parseCreateBody as parseDecoded, parseMount as parseMountDecoded } from './container-create';
import { bodies, mountType } from './request-bodies';

/** As the route does it: the body decoded into its Go type first. */
const parseCreateBody = (name: string, body: unknown) =>
  parseDecoded(name, body === undefined ? undefined : decodeBody(bodies.containerCreate, Buffer.from(JSON.stringify(body))));
const parseMount = (m: unknown) => parseMountDecoded(decodeBody({ type: mountType, emptyMessage: 'EOF' }, Buffer.from(JSON.stringify(m)))!);

describe('parseCreateBody', () => {
  it('passes --volume-driver through for the named volumes of -v', () => {
    const hc = parseCreateBody('', { Image: 'bb', HostConfig: { VolumeDriver: 'tp', Binds: ['v:/v'] } }).request.hostConfig;
    expect(hc).toMatchObject({ volumeDriver: 'tp', mounts: [{ type: 'volume', source: 'v', target: '/v' }] });
  });
  it('maps what `docker run --name web -e A=1 -v /srv:/data:ro --tmpfs /run -m 64m busybox sh -c x` sends', () => {
    const body = {
      Hostname: '',
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: ['A=1'],
      Cmd: ['sh', '-c', 'x'],
      Image: 'busybox',
      Volumes: {},
      WorkingDir: '',
      Entrypoint: null,
      OnBuild: null,
      Labels: { team: 'a' },
      ExposedPorts: { '80/tcp': {} },
      StopSignal: 'SIGINT',
      StopTimeout: 3,
      HostConfig: {
        Binds: ['/srv:/data:ro'],
        NetworkMode: 'default',
        PortBindings: {},
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
        AutoRemove: true,
        CapAdd: ['NET_ADMIN'],
        CapDrop: null,
        Privileged: false,
        ReadonlyRootfs: true,
        Tmpfs: { '/run': 'size=1m' },
        Memory: 67108864,
        MemorySwap: -1,
        NanoCpus: 500000000,
        CpuShares: 512,
        CpuPeriod: 0,
        CpuQuota: 0,
        PidsLimit: 50,
        ShmSize: 0,
        Init: null,
      },
      NetworkingConfig: { EndpointsConfig: {} },
    };
    expect(parseCreateBody('web', body)).toEqual({
      request: {
        name: 'web',
        config: {
          image: 'busybox',
          cmd: { values: ['sh', '-c', 'x'] },
          entrypoint: undefined,
          env: ['A=1'],
          workingDir: '',
          user: '',
          hostname: '',
          domainname: '',
          labels: { team: 'a' },
          tty: false,
          openStdin: false,
          stdinOnce: false,
          attachStdin: false,
          attachStdout: true,
          attachStderr: true,
          stopSignal: 'SIGINT',
          stopTimeout: 3,
          exposedPorts: ['80/tcp'],
          macAddress: '',
        },
        hostConfig: {
          mounts: [
            { type: 'bind', source: '/srv', target: '/data', readOnly: true, options: '' },
            { type: 'tmpfs', source: '', target: '/run', readOnly: false, options: 'size=1m' },
          ],
          binds: ['/srv:/data:ro'],
          readonlyRootfs: true,
          memory: '67108864',
          memorySwap: '-1',
          nanoCpus: '500000000',
          cpuShares: '512',
          cpuPeriod: '0',
          cpuQuota: '0',
          pidsLimit: '50',
          shmSize: '0',
          restartPolicy: { name: 'on-failure', maximumRetryCount: 2 },
          autoRemove: true,
          networkMode: 'default',
          privileged: false,
          capAdd: ['NET_ADMIN'],
          capDrop: [],
          init: false,
          portBindings: {},
          publishAllPorts: false,
          dns: [],
          dnsSearch: [],
          dnsOptions: [],
          extraHosts: [],
          links: [],
          volumesFrom: [],
        },
        endpoints: {},
      },
      bindSources: ['/srv'],
      warnings: [],
    });
  });

  it('keeps null and [] apart for Cmd and Entrypoint as dockerd merges them', () => {
    const cfg = (b: object) => parseCreateBody('', { Image: 'busybox', ...b }).request.config!;
    expect(cfg({ Cmd: null }).cmd).toBeUndefined();
    // no entrypoint override: an empty Cmd takes the image's CMD
    expect(cfg({ Cmd: [] }).cmd).toBeUndefined();
    expect(cfg({ Cmd: [], Entrypoint: ['sh'] })).toMatchObject({ cmd: { values: [] }, entrypoint: { values: ['sh'] } });
    expect(cfg({ Entrypoint: null }).entrypoint).toBeUndefined();
    expect(cfg({ Entrypoint: [] }).entrypoint).toEqual({ values: [] });
    expect(cfg({ Entrypoint: [''] }).entrypoint).toEqual({ values: [] });
    // strslice accepts a plain string
    expect(cfg({ Cmd: 'echo hi' }).cmd).toEqual({ values: ['echo hi'] });
  });

  it('defaults an empty NetworkMode and turns Config.Volumes into anonymous volumes', () => {
    const r = parseCreateBody('', { Image: 'busybox', Volumes: { '/data': {} }, HostConfig: {} }).request;
    expect(r.hostConfig!.networkMode).toBe('default');
    expect(r.hostConfig!.mounts).toEqual([{ type: 'volume', source: expect.stringMatching(/^[0-9a-f]{64}$/), target: '/data', readOnly: false, options: '', configVolume: true }]);
  });

  it('passes HostConfig.VolumesFrom as given (the supervisor resolves it)', () => {
    const r = parseCreateBody('', { Image: 'busybox', Volumes: { '/data': {} }, HostConfig: { VolumesFrom: ['store:ro', 'other'], Binds: ['/srv:/conf'] } }).request;
    expect(r.hostConfig!.volumesFrom).toEqual(['store:ro', 'other']);
    expect(r.hostConfig!.mounts!.map((m) => [m.target, !!m.configVolume])).toEqual([
      ['/conf', false],
      ['/data', true],
    ]);
    expect(parseCreateBody('', { Image: 'busybox' }).request.hostConfig!.volumesFrom).toEqual([]);
  });

  it('answers wrong JSON types with the texts of dockerd 20.10', () => {
    // measured against Debian's dockerd 20.10.24 (which answers these with 500; Drydock 400)
    expect(() => parseCreateBody('', { Image: 'busybox', HostConfig: { Memory: '1g' } })).toThrow(
      'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64',
    );
    expect(() => parseCreateBody('', { Image: 'busybox', Env: 'A=1' })).toThrow('json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string');
    expect(() => parseCreateBody('', { Image: 'busybox', Tty: 1 })).toThrow('json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Tty of type bool');
    expect(() => parseCreateBody('', { Image: 'busybox', HostConfig: { NanoCpus: 1.5 } })).toThrow('json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.NanoCpus of type int64');
    expect(() => parseCreateBody('', [])).toThrow('json: cannot unmarshal array into Go value of type runconfig.ContainerConfigWrapper');
  });

  it('takes what Go takes for the int32 fields of the proto, and refuses nameless env entries', () => {
    // a Go int: 3000000000 is valid for dockerd; the proto field saturates rather than failing to serialize
    expect(parseCreateBody('', { Image: 'busybox', StopTimeout: 3000000000 }).request.config!.stopTimeout).toBe(2147483647);
    expect(() => parseCreateBody('', { Image: 'busybox', Env: [null] })).toThrow('invalid environment variable: ');
  });

  it('refuses what cannot run with dockerd-like texts', () => {
    expect(() => parseCreateBody('', undefined)).toThrow('Config cannot be empty in order to create a container');
    expect(() => parseCreateBody('', {})).toThrow('Config cannot be empty in order to create a container');
    expect(() => parseCreateBody('', { HostConfig: {} })).toThrow('Config cannot be empty in order to create a container');
    expect(() => parseCreateBody('', { Cmd: ['x'] })).toThrow('No image was specified');
    expect(() => parseCreateBody('', { Image: 'busybox', WorkingDir: 'rel' })).toThrow("the working directory 'rel' is invalid, it needs to be an absolute path");
    expect(() => parseCreateBody('', { Image: 'busybox', HostConfig: { Init: true } })).toThrow(/--init is not supported/);
    expect(() => parseCreateBody('', { Image: 'busybox', HostConfig: { Binds: ['/a:/x', 'v:/x'] } })).toThrow('Duplicate mount point: /x');
  });

  it('maps what compose sends for a service with a published port on its network', () => {
    const r = parseCreateBody('app_web_1', {
      Image: 'nginx',
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { NetworkMode: 'app_default', PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] }, Dns: ['9.9.9.9'], DnsSearch: ['ex.com'], DnsOptions: ['ndots:2'], ExtraHosts: ['db:10.0.0.5', 'gw:host-gateway'], PublishAllPorts: true },
      NetworkingConfig: { EndpointsConfig: { app_default: { Aliases: ['web'], IPAMConfig: { IPv4Address: '172.20.0.9' } } } },
      MacAddress: '02:42:ac:14:00:09',
      Hostname: 'web',
      Domainname: 'example.com',
    });
    expect(r.warnings).toEqual([]);
    expect(r.request.config).toMatchObject({ hostname: 'web', domainname: 'example.com', macAddress: '02:42:ac:14:00:09', exposedPorts: ['80/tcp'] });
    expect(r.request.hostConfig).toMatchObject({
      networkMode: 'app_default',
      portBindings: { '80/tcp': { bindings: [{ hostIp: '', hostPort: '8080' }] } },
      publishAllPorts: true,
      dns: ['9.9.9.9'],
      dnsSearch: ['ex.com'],
      dnsOptions: ['ndots:2'],
      extraHosts: ['db:10.0.0.5', 'gw:host-gateway'],
    });
    expect(r.request.endpoints).toEqual({ app_default: { aliases: ['web'], ipv4Address: '172.20.0.9', ipv6Address: '', links: [], macAddress: '', driverOpts: {} } });
  });

  it('warns, as dockerd, that host mode discards published ports', () => {
    expect(parseCreateBody('', { Image: 'busybox', HostConfig: { NetworkMode: 'host', PortBindings: { '80/tcp': [{ HostPort: '8080' }] } } }).warnings).toEqual([
      'Published ports are discarded when using host network mode',
    ]);
  });

  it.each([
    [{ HostConfig: { PortBindings: { 'abc/tcp': [{ HostPort: '80' }] } } }, 'invalid port specification: "abc"'],
    [{ HostConfig: { PortBindings: { '80-81/tcp': [{ HostPort: '8000-8001' }] } } }, 'invalid port specification: "80-81"'],
    [{ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 'abc' }] } } }, 'invalid port specification: "abc"'],
    [{ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '99999' }] } } }, 'invalid port specification: "99999"'],
    [{ HostConfig: { PortBindings: { '80': [{ HostPort: '9010-9000' }] } } }, 'invalid port specification: "9010-9000"'],
    [{ HostConfig: { ExtraHosts: ['foo:bad'] } }, 'invalid IP address in add-host: "bad"'],
    [{ HostConfig: { ExtraHosts: ['z:1.2.3.4:5'] } }, 'invalid IP address in add-host: "1.2.3.4:5"'],
    [{ HostConfig: { ExtraHosts: ['foobad'] } }, 'bad format for add-host: "foobad"'],
    // add-host is checked before the ports, as dockerd does
    [{ HostConfig: { ExtraHosts: ['x'], PortBindings: { abc: [] } } }, 'bad format for add-host: "x"'],
    [{ HostConfig: { Links: ['a:b:c'] } }, 'bad format for links: a:b:c'],
    [{ HostConfig: { NetworkMode: 'container:' } }, 'Invalid network mode: invalid container format container:<name|id>'],
    [{ HostConfig: { NetworkMode: 'container:w1', PortBindings: { '80/tcp': [] } } }, 'conflicting options: port publishing and the container type network mode'],
    [{ HostConfig: { NetworkMode: 'container:w1', PublishAllPorts: true } }, 'conflicting options: port publishing and the container type network mode'],
    [{ ExposedPorts: { '80/tcp': {} }, HostConfig: { NetworkMode: 'container:w1' } }, 'conflicting options: port exposing and the container type network mode'],
    [{ Hostname: 'x', HostConfig: { NetworkMode: 'container:w1' } }, 'conflicting options: hostname and the network mode'],
    [{ HostConfig: { NetworkMode: 'container:w1', Dns: ['1.1.1.1'], PortBindings: { abc: [] } } }, 'conflicting options: dns and the network mode'],
    [{ HostConfig: { NetworkMode: 'container:w1', ExtraHosts: ['a:1.1.1.1'] } }, 'conflicting options: custom host-to-IP mapping and the network mode'],
    [{ HostConfig: { NetworkMode: 'container:w1', Links: ['w3:x'] } }, "conflicting options: container type network can't be used with links. This would result in undefined behavior"],
    [{ MacAddress: '02:42:ac:11:00:99', HostConfig: { NetworkMode: 'host' } }, 'conflicting options: mac-address and the network mode'],
    [{ HostConfig: { NetworkMode: 'host', Links: ['w1:x'] } }, "conflicting options: host type networking can't be used with links. This would result in undefined behavior"],
    [{ NetworkingConfig: { EndpointsConfig: { n1: {}, bridge: {} } }, HostConfig: { NetworkMode: 'n1' } }, 'Container cannot be connected to network endpoints: n1, bridge'],
    [{ NetworkingConfig: { EndpointsConfig: { n1: { IPAMConfig: { IPv4Address: 'bad' } } } } }, 'invalid IPv4 address: bad'],
    [{ NetworkingConfig: { EndpointsConfig: { n1: { IPAMConfig: { IPv4Address: 'fd00::1' } } } } }, 'invalid IPv4 address: fd00::1'],
  ])('refuses %j with dockerd 20.10 text', (body, message) => {
    expect(() => parseCreateBody('', { Image: 'busybox', ...body })).toThrow(message);
  });

  it('checks the network mode before an empty Config, as runconfig does', () => {
    expect(() => parseCreateBody('', { HostConfig: { NetworkMode: 'container:' } })).toThrow('Invalid network mode');
  });

  it('accepts what dockerd accepts at create (checked when the endpoint is made)', () => {
    for (const body of [
      { HostConfig: { PortBindings: { '80/xyz': [{ HostPort: '80' }] } } },
      { HostConfig: { PortBindings: { '0/tcp': [{ HostPort: '' }] } } },
      { HostConfig: { PortBindings: { '80/tcp': [{ HostIp: 'bad', HostPort: '8000-8010' }] } } },
      { HostConfig: { ExtraHosts: ['y:::1'] } },
      { NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['x'], IPAMConfig: { IPv4Address: '172.17.0.9' } } } } },
    ]) {
      expect(() => parseCreateBody('', { Image: 'busybox', ...body })).not.toThrow();
    }
  });
});

describe('parseBind', () => {
  it('tells binds from named volumes', () => {
    expect(parseBind('/host/dir:/c')).toEqual({ type: 'bind', source: '/host/dir', target: '/c', readOnly: false, options: '' });
    expect(parseBind('/h:/c:ro,rshared')).toEqual({ type: 'bind', source: '/h', target: '/c', readOnly: true, options: 'rshared' });
    expect(parseBind('data:/var/lib/x:rw')).toEqual({ type: 'volume', source: 'data', target: '/var/lib/x', readOnly: false, options: '' });
  });
  it('rejects bad specs', () => {
    expect(() => parseBind('/only')).toThrow("invalid volume specification: '/only'");
    expect(() => parseBind('/h:/c:bogus')).toThrow('invalid mode: bogus');
    expect(() => parseBind('/h:rel')).toThrow(`invalid volume specification: '/h:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`);
  });
});

describe('parseMount', () => {
  it('maps --mount entries', () => {
    expect(parseMount({ Type: 'bind', Source: '/x', Target: '/y', ReadOnly: true, BindOptions: { Propagation: 'rslave' } })).toEqual({ type: 'bind', source: '/x', target: '/y', readOnly: true, options: 'rslave' });
    expect(parseMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 } })).toEqual({ type: 'tmpfs', source: '', target: '/t', readOnly: false, options: 'size=1048576,mode=1777' });
    expect(parseMount({ Type: 'volume', Source: 'v', Target: '/v' })).toEqual({ type: 'volume', source: 'v', target: '/v', readOnly: false, options: '' });
    // --mount type=volume,src=v,dst=/v,volume-driver=tp,volume-opt=size=1g
    expect(parseMount({ Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { DriverConfig: { Name: 'tp', Options: { size: '1g' } } } })).toEqual({
      type: 'volume',
      source: 'v',
      target: '/v',
      readOnly: false,
      options: '',
      driver: 'tp',
      driverOpts: { size: '1g' },
    });
  });
  it('rejects unknown types and misplaced options', () => {
    expect(() => parseMount({ Type: 'npipe', Target: '/x' })).toThrow('invalid mount config for type "npipe": mount type unknown');
    expect(() => parseMount({ Type: 'volume', Source: 'v', Target: '/x', BindOptions: {} })).toThrow('invalid mount config for type "volume": field BindOptions must not be specified');
  });
});
