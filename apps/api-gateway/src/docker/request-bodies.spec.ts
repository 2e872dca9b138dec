import { decodeBody, type JsonBody } from '../http/go-json';
import { bodies } from './request-bodies';

const decode = <T>(b: JsonBody<T>, text: string) => decodeBody(b, Buffer.from(text));
const message = (b: JsonBody<unknown>, text: string): string => {
  try {
    decode(b, text);
  } catch (err) {
    return `${(err as { code?: string }).code} ${(err as Error).message}`;
  }
  return 'accepted';
};
const bad = (text: string) => `INVALID_ARGUMENT ${text}`;

/**
 * Every expected text below was recorded from Debian's dockerd 20.10.24 (Go 1.19) with
 * the same body; where dockerd answered 500 Drydock answers 400 (the code is checked).
 */
describe('request bodies decode as dockerd 20.10 decodes them', () => {
  it.each([
    ['{"Cmd": "echo hi"}', 'json: cannot unmarshal string into Go struct field ExecConfig.Cmd of type []string'],
    ['{"Cmd": 5}', 'json: cannot unmarshal number into Go struct field ExecConfig.Cmd of type []string'],
    ['{"Cmd": ["a", 5]}', 'json: cannot unmarshal number into Go struct field ExecConfig.Cmd of type string'],
    ['{"cmd": ["true"], "tty": "x"}', 'json: cannot unmarshal string into Go struct field ExecConfig.Tty of type bool'],
    ['{"Cmd": ["true"], "Env": {"A":1}}', 'json: cannot unmarshal object into Go struct field ExecConfig.Env of type []string'],
    ['{"Cmd": ["true"], "User": 0}', 'json: cannot unmarshal number into Go struct field ExecConfig.User of type string'],
    // the first error in document order wins
    ['{"Cmd": ["true"], "Privileged": 1, "Tty": "y"}', 'json: cannot unmarshal number into Go struct field ExecConfig.Privileged of type bool'],
    ['[]', 'json: cannot unmarshal array into Go value of type types.ExecConfig'],
    ['"x"', 'json: cannot unmarshal string into Go value of type types.ExecConfig'],
    ['{"Cmd": ["true"]', 'unexpected EOF'],
    ['nope', "invalid character 'o' in literal null (expecting 'u')"],
    ['', 'got EOF while reading request body'],
  ])('exec create %s', (body, text) => {
    expect(message(bodies.execCreate, body)).toBe(bad(text));
  });

  it('exec create: a list Cmd, case-insensitive keys, unknown keys and trailing bytes ignored', () => {
    expect(decode(bodies.execCreate, '{"cmd": ["echo", "hi"], "TTY": true, "Unknown": {"deep": [1]}} xx')).toEqual({ Cmd: ['echo', 'hi'], Tty: true });
    expect(decode(bodies.execCreate, 'null')).toBeUndefined();
    expect(decode(bodies.execCreate, '{"Cmd": null}')).toEqual({});
    expect(decode(bodies.execCreate, '{"Cmd": [null]}')).toEqual({ Cmd: [''] });
  });

  it.each([
    ['{"Detach": "yes"}', 'json: cannot unmarshal string into Go struct field ExecStartCheck.Detach of type bool'],
    ['{"Detach": true, "Tty": 1}', 'json: cannot unmarshal number into Go struct field ExecStartCheck.Tty of type bool'],
    ['[]', 'json: cannot unmarshal array into Go value of type types.ExecStartCheck'],
    ['', 'got EOF while reading request body'],
    // API 1.42's field (20.10 ignores it): Go's text for its [2]uint
    ['{"ConsoleSize": [1, -2]}', 'json: cannot unmarshal number -2 into Go struct field ExecStartCheck.ConsoleSize of type uint'],
  ])('exec start %s', (body, text) => {
    expect(message(bodies.execStart, body)).toBe(bad(text));
  });

  it.each([
    ['{"Name": "v", "Labels": "x"}', 'json: cannot unmarshal string into Go struct field VolumeCreateBody.Labels of type map[string]string'],
    ['{"Name": 5}', 'json: cannot unmarshal number into Go struct field VolumeCreateBody.Name of type string'],
    ['{"Name": "v2", "Labels": {"a": 1}}', 'json: cannot unmarshal number into Go struct field VolumeCreateBody.Labels of type string'],
    ['{"Name": "v3", "DriverOpts": ["a"]}', 'json: cannot unmarshal array into Go struct field VolumeCreateBody.DriverOpts of type map[string]string'],
    ['{"Name": "v4", "Driver": true}', 'json: cannot unmarshal bool into Go struct field VolumeCreateBody.Driver of type string'],
    ['[1]', 'json: cannot unmarshal array into Go value of type volume.VolumeCreateBody'],
    ['', 'got EOF while reading request body'],
  ])('volume create %s', (body, text) => {
    expect(message(bodies.volumeCreate, body)).toBe(bad(text));
  });

  it('volume create: null map values are empty strings, keys match in any case', () => {
    expect({ ...decode(bodies.volumeCreate, '{"name": "v6", "LABELS": {"k":"v", "a": null}}') }).toEqual({ Name: 'v6', Labels: expect.objectContaining({ k: 'v', a: '' }) });
    expect(decode(bodies.volumeCreate, '{"Name": "v5", "Labels": null, "DriverOpts": null, "Driver": null}')).toEqual({ Name: 'v5' });
  });

  it.each([
    ['{"Image": "bb", "Cmd": 5}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string'],
    ['{"Image": "bb", "Cmd": [5]}', 'json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Cmd of type string'],
    ['{"Image": 5}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string'],
    ['{"Image": "bb", "HostConfig": {"Memory": "1g"}}', 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['{"Image": "bb", "HostConfig": {"Memory": 1.5}}', 'json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['{"Image": "bb", "HostConfig": {"Memory": 1e30}}', 'json: cannot unmarshal number 1e30 into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['{"Image": "bb", "HostConfig": {"Memory": 1e3}}', 'json: cannot unmarshal number 1e3 into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['{"Image": "bb", "HostConfig": {"Memory": 99999999999999999999}}', 'json: cannot unmarshal number 99999999999999999999 into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['{"Image": "bb", "HostConfig": {"RestartPolicy": {"MaximumRetryCount": "x"}}}', 'json: cannot unmarshal string into Go struct field RestartPolicy.HostConfig.RestartPolicy.MaximumRetryCount of type int'],
    ['{"Image": "bb", "HostConfig": {"Mounts": [{"Type": 5}]}}', 'json: cannot unmarshal number into Go struct field Mount.HostConfig.Mounts.Type of type mount.Type'],
    ['{"Image": "bb", "HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/x", "TmpfsOptions": {"SizeBytes": "x"}}]}}', 'json: cannot unmarshal string into Go struct field TmpfsOptions.HostConfig.Mounts.TmpfsOptions.SizeBytes of type int64'],
    ['{"Image": "bb", "HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/x", "TmpfsOptions": {"Mode": -1}}]}}', 'json: cannot unmarshal number -1 into Go struct field TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode of type fs.FileMode'],
    ['{"Image": "bb", "HostConfig": {"Mounts": {}}}', 'json: cannot unmarshal object into Go struct field HostConfig.HostConfig.Mounts of type []mount.Mount'],
    ['{"Image": "bb", "HostConfig": 5}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig'],
    ['{"Image": "bb", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 80}]}}}', 'json: cannot unmarshal number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string'],
    ['{"Image": "bb", "ExposedPorts": {"80/tcp": 5}}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.ExposedPorts of type struct {}'],
    ['{"Image": "bb", "ExposedPorts": ["80/tcp"]}', 'json: cannot unmarshal array into Go struct field ContainerConfigWrapper.ExposedPorts of type nat.PortSet'],
    ['{"Image": "bb", "Healthcheck": {"Interval": "1s"}}', 'json: cannot unmarshal string into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration'],
    ['{"Image": "bb", "Labels": {"a": 5}}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string'],
    ['{"Image": "bb", "NetworkingConfig": {"EndpointsConfig": {"n": {"Aliases": "x"}}}}', 'json: cannot unmarshal string into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases of type []string'],
    ['{"Image": "bb", "HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": "x"}]}}', 'json: cannot unmarshal string into Go struct field Ulimit.HostConfig.Ulimits.Soft of type int64'],
    ['{"Image": "bb", "HostConfig": {"LogConfig": {"Type": 5}}}', 'json: cannot unmarshal number into Go struct field LogConfig.HostConfig.LogConfig.Type of type string'],
    ['{"Image": "bb", "HostConfig": {"Devices": [{"PathOnHost": 5}]}}', 'json: cannot unmarshal number into Go struct field DeviceMapping.HostConfig.Devices.PathOnHost of type string'],
    ['{"Image": "bb", "HostConfig": {"OomScoreAdj": "x"}}', 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.OomScoreAdj of type int'],
    ['{"Image": "bb", "HostConfig": {"BlkioWeight": 70000}}', 'json: cannot unmarshal number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16'],
    ['{"Image": "bb", "HostConfig": {"BlkioWeight": -1}}', 'json: cannot unmarshal number -1 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16'],
    ['{"Image": "bb", "HostConfig": {"ConsoleSize": [-1]}}', 'json: cannot unmarshal number -1 into Go struct field HostConfig.HostConfig.ConsoleSize of type uint'],
    ['{"Image": "bb", "HostConfig": {"Dns": "1.1.1.1"}}', 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Dns of type []string'],
    ['{"Image": "bb", "HostConfig": {"Sysctls": {"a": 1}}}', 'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.Sysctls of type string'],
    ['nope', "invalid character 'o' in literal null (expecting 'u')"],
    ['{"Image": "bb" 5', "invalid character '5' after object key:value pair"],
    ['{"Image": "bb", "Cmd": ["\\x"]}', "invalid character 'x' in string escape code"],
    ['{"Image": "bb", "Cmd": ["a\tb"]}', "invalid character '\\t' in string literal"],
    ['{"Image": "bb", "Cmd": [tru]}', "invalid character ']' in literal true (expecting 'e')"],
    ['{"Image": "bb", "Cmd": [1.]}', "invalid character ']' after decimal point in numeric literal"],
    ['{"Image": "bb", "Cmd": [01]}', "invalid character '1' after array element"],
    ['{"Image": "bb", "Cmd": [1e]}', "invalid character ']' in exponent of numeric literal"],
    ['{"Image": "bb", "Cmd": ["a",]}', "invalid character ']' looking for beginning of value"],
    ['{"Image": "bb",}', "invalid character '}' looking for beginning of object key string"],
    ['{"Image" "bb"}', 'invalid character \'"\' after object key'],
    ['{"Image": "bb" "x": 1}', 'invalid character \'"\' after object key:value pair'],
    ["{'Image': 1}", "invalid character '\\'' looking for beginning of object key string"],
    ['{"Image": "\\u12x4"}', "invalid character 'x' in \\u hexadecimal character escape"],
    ['[1]', 'json: cannot unmarshal array into Go value of type runconfig.ContainerConfigWrapper'],
    ['5', 'json: cannot unmarshal number into Go value of type runconfig.ContainerConfigWrapper'],
    ['', 'EOF'],
    ['{"Image": "bb", "Memory": "x"}', 'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Memory of type int64'],
    ['{"Image": "bb", "HostConfig": {"Memory": 5}, "HostConfig": {"CpuShares": "x"}}', 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.CpuShares of type int64'],
    ['{"Image": "bb", "Cmd": [null, "x"], "Entrypoint": {}}', 'json: cannot unmarshal object into Go struct field ContainerConfigWrapper.Entrypoint of type string'],
    ['{"Image": "bb", "Healthcheck": 5}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Healthcheck of type container.HealthConfig'],
    ['{"Image": "bb", "StopTimeout": "5"}', 'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.StopTimeout of type int'],
    ['{"Image": "bb", "HostConfig": {"Init": 1}}', 'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.Init of type bool'],
    ['{"Image": "bb", "HostConfig": {"BlkioWeightDevice": [5]}}', 'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.BlkioWeightDevice of type blkiodev.WeightDevice'],
    ['{"Image": "bb", "HostConfig": {"BlkioWeightDevice": [{"Weight": 70000}]}}', 'json: cannot unmarshal number 70000 into Go struct field WeightDevice.HostConfig.BlkioWeightDevice.Weight of type uint16'],
    ['{"Image": "bb", "HostConfig": {"DeviceRequests": [{"Capabilities": [[1]]}]}}', 'json: cannot unmarshal number into Go struct field DeviceRequest.HostConfig.DeviceRequests.Capabilities of type string'],
    ['{"Image": "bb", "HostConfig": {"CapAdd": 5}}', 'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.CapAdd of type string'],
    ['{"Image": "bb", "NetworkingConfig": {"EndpointsConfig": {"n": 5}}}', 'json: cannot unmarshal number into Go struct field NetworkingConfig.NetworkingConfig.EndpointsConfig of type network.EndpointSettings'],
    ['{"Image": "bb", "NetworkingConfig": {"EndpointsConfig": {"n": {"IPAMConfig": {"LinkLocalIPs": "x"}}}}}', 'json: cannot unmarshal string into Go struct field EndpointIPAMConfig.NetworkingConfig.EndpointsConfig.IPAMConfig.LinkLocalIPs of type []string'],
    ['{"Image": "bb", "Volumes": {"/x": 5}}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Volumes of type struct {}'],
    ['{"Image": "bb", "Cpuset": 5}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cpuset of type string'],
    ['{"Image": "bb", "HostConfig": {"Mounts": [5]}}', 'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.Mounts of type mount.Mount'],
    ['{"Image": "bb", "HostConfig": {"Mounts": [{"VolumeOptions": {"DriverConfig": {"Options": {"a": 1}}}}]}}', 'json: cannot unmarshal number into Go struct field Driver.HostConfig.Mounts.VolumeOptions.DriverConfig.Options of type string'],
  ])('container create %s', (body, text) => {
    expect(message(bodies.containerCreate, body)).toBe(bad(text));
  });

  it('container create: accepted values as Go decodes them', () => {
    expect(decode(bodies.containerCreate, '{"Image": "bb", "HostConfig": {"Memory": -0, "ConsoleSize": [1, 2, 3]}, "StopTimeout": 3000000000, "Cmd": ["\\\\x"]}')).toEqual({
      Image: 'bb',
      HostConfig: { Memory: 0n, ConsoleSize: [1n, 2n] },
      StopTimeout: 3000000000n,
      Cmd: ['\\x'],
    });
    // a null element is the zero value: dockerd then says "invalid environment variable: "
    expect(decode(bodies.containerCreate, '{"Image": "bb", "Env": [null]}')).toEqual({ Image: 'bb', Env: [''] });
    // deprecated top-level HostConfig fields are type-checked too
    expect(message(bodies.containerCreate, '{"Image": "bb", "Memory": "x"}')).toBe(bad('json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Memory of type int64'));
  });

  it.each([
    ['{"Memory": "x"}', 'json: cannot unmarshal string into Go struct field UpdateConfig.Memory of type int64'],
    ['{"RestartPolicy": {"Name": 5}}', 'json: cannot unmarshal number into Go struct field RestartPolicy.RestartPolicy.Name of type string'],
    ['[1]', 'json: cannot unmarshal array into Go value of type container.UpdateConfig'],
    ['{"BlkioWeight": "x"}', 'json: cannot unmarshal string into Go struct field UpdateConfig.BlkioWeight of type uint16'],
    ['', 'EOF'],
  ])('container update %s', (body, text) => {
    expect(message(bodies.containerUpdate, body)).toBe(bad(text));
  });

  it.each([
    ['{"username": 5}', 'json: cannot unmarshal number into Go struct field AuthConfig.username of type string'],
    ['{"serveraddress": true}', 'json: cannot unmarshal bool into Go struct field AuthConfig.serveraddress of type string'],
    ['[1]', 'json: cannot unmarshal array into Go value of type types.AuthConfig'],
    ['', 'EOF'],
  ])('auth %s', (body, text) => {
    expect(message(bodies.auth, body)).toBe(bad(text));
  });
});

/** Recorded from dockerd 20.10.24 (POST /networks/create, /connect, /disconnect). */
describe('network bodies decode as dockerd 20.10 decodes them', () => {
  it.each([
    [bodies.networkCreate, '', 'got EOF while reading request body'],
    [bodies.networkCreate, '{"Name":"a","Name":1}', 'json: cannot unmarshal number into Go struct field NetworkCreateRequest.Name of type string'],
    [bodies.networkCreate, '{"Driver":1}', 'json: cannot unmarshal number into Go struct field NetworkCreateRequest.Driver of type string'],
    [bodies.networkCreate, '{"IPAM":{"Config":[{"Subnet":1}]}}', 'json: cannot unmarshal number into Go struct field IPAMConfig.IPAM.Config.Subnet of type string'],
    [bodies.networkConnect, '', 'got EOF while reading request body'],
    [bodies.networkConnect, '{"EndpointConfig":{"Aliases":"x"}}', 'json: cannot unmarshal string into Go struct field EndpointSettings.EndpointConfig.Aliases of type []string'],
    [bodies.networkDisconnect, '', 'got EOF while reading request body'],
    [bodies.networkDisconnect, '{"Force":"x"}', 'json: cannot unmarshal string into Go struct field NetworkDisconnect.Force of type bool'],
  ])('%#: refuses %s', (body, text, want) => {
    expect(message(body as JsonBody<unknown>, text)).toBe(bad(want));
  });

  it('decodes what compose 1.29 sends, keys case-insensitively', () => {
    expect(
      decode(bodies.networkCreate, '{"Name":"myapp_default","CheckDuplicate":true,"Attachable":true,"Labels":{"com.docker.compose.project":"myapp"},"ipam":{"config":[{"subnet":"10.9.0.0/16","auxiliaryaddresses":{"a":"10.9.0.5"}}]},"EnableIPv4":true}'),
    ).toEqual({ Name: 'myapp_default', CheckDuplicate: true, Attachable: true, Labels: { 'com.docker.compose.project': 'myapp' }, IPAM: { Config: [{ Subnet: '10.9.0.0/16', AuxiliaryAddresses: { a: '10.9.0.5' } }] } });
  });
});
