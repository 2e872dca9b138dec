// version, info, system df and the API's version negotiation and errors.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { useDockerStack } from './support/stack';
import { out } from './support/expect';

describe('docker CLI: system', () => {
  const s = useDockerStack('e2esys');
  // dockerd's registry-mirrors / insecure-registries, through the registry-proxy's config (nothing here pulls)
  s.registryProxyEnv = { DRYDOCK_REGISTRY_MIRRORS: 'https://mirror.example.com', DRYDOCK_INSECURE_REGISTRIES: '10.0.0.0/8,myreg.local:5000' };

  it('version: server API version 1.41, CLI downgraded to it', async () => {
    const r = await s.docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}} {{.Client.APIVersion}}']);
    expect(out(r)).toEqual({ code: 0, stdout: '1.41 linux 1.41\n', stderr: '' });
    const plain = await s.docker(['version']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/\nServer:.*\n Engine:\n  Version: +\S+\n  API version: +1\.41 \(minimum version 1\.12\)\n/);
  });

  it('info', async () => {
    const r = await s.docker(['info', '--format', '{{.OSType}} {{.Images}} {{.Driver}}']);
    expect(out(r)).toEqual({ code: 0, stdout: 'linux 1 overlay2\n', stderr: '' });
    const plain = await s.docker(['info']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/\nServer:\n Containers: \d+\n  Running: \d+\n  Paused: \d+\n  Stopped: \d+\n Images: 1\n/);
  });

  it('info: the fields dockerd 20.10 prints, from this host', async () => {
    // the private containerd runs the same binary, the shims the same runc
    const ctr = execFileSync('containerd', ['--version'], { encoding: 'utf8' }).trim().split(/\s+/);
    const runcCommit = /^commit: (\S+)/m.exec(execFileSync('runc', ['--version'], { encoding: 'utf8' }))![1];
    const osName = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))![1];
    const cgroupVersion = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
    const { stdout } = await s.docker(['info']);
    for (const line of [
      ' Storage Driver: overlay2',
      '  Supports d_type: true',
      ' Cgroup Driver: cgroupfs',
      ` Cgroup Version: ${cgroupVersion}`,
      ` containerd version: ${ctr[ctr.length - 1]}`,
      ` runc version: ${runcCommit}`,
      ` Kernel Version: ${release()}`,
      ` Operating System: ${osName}`,
      ` CPUs: ${cpus().length}`,
      // dockerd 20.10.24 with the same daemon.json prints these two sections so
      ' Insecure Registries:\n  myreg.local:5000\n  10.0.0.0/8\n  127.0.0.0/8',
      ' Registry Mirrors:\n  https://mirror.example.com/',
      ' Live Restore Enabled: true',
    ]) {
      expect(stdout).toContain(`\n${line}\n`);
    }
    expect(stdout).toMatch(/\n Total Memory: \d+(\.\d+)?[KMGT]iB\n/);
    expect(stdout).toMatch(/\n Docker Root Dir: \/\S+\n/);
    const json = JSON.parse((await s.docker(['info', '--format', '{{json .}}'])).stdout);
    expect(json).toMatchObject({ MemTotal: totalmem(), NCPU: cpus().length, LoggingDriver: 'json-file', RegistryConfig: { InsecureRegistryCIDRs: ['10.0.0.0/8', '127.0.0.0/8'], Mirrors: ['https://mirror.example.com/'] } });
    const v = JSON.parse((await s.docker(['version', '--format', '{{json .Server.Components}}'])).stdout);
    expect(v.map((c: { Name: string; Version: string }) => [c.Name, c.Version])).toEqual([['Engine', expect.any(String)], ['containerd', ctr[ctr.length - 2]], ['runc', expect.stringMatching(/\S/)]]);
  });

  it('system df', async () => {
    await s.docker(['run', '--name', 'df1', 'busybox', 'true']);
    const r = await s.docker(['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Active}}']);
    expect(out(r)).toEqual({ code: 0, stdout: 'Images 1 1\nContainers 1 0\nLocal Volumes 0 0\nBuild Cache 0 0\n', stderr: '' });
    const table = await s.docker(['system', 'df']);
    expect(table.stdout.split('\n')[0].split(/\s{2,}/)).toEqual(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE']);
  });

  it('GET /v1.99/version: 400, client version too new', async () => {
    const r = await s.raw('GET', '/v1.99/version');
    expect({ status: r.status, body: JSON.parse(r.body) }).toEqual({ status: 400, body: { message: 'client version 1.99 is too new. Maximum supported API version is 1.41' } });
  });

  it('unversioned /version is served', async () => {
    const r = await s.raw('GET', '/version');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ApiVersion: '1.41', Os: 'linux' });
  });

  it('HEAD /_ping carries Api-Version', async () => {
    const r = await s.raw('HEAD', '/_ping');
    expect({ status: r.status, api: r.headers['api-version'], os: r.headers['ostype'] }).toEqual({ status: 200, api: '1.41', os: 'linux' });
  });

  it('unknown endpoint: 404 with a JSON message', async () => {
    const r = await s.raw('GET', '/v1.41/no/such/endpoint');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toEqual({ message: 'page not found' });
  });
});
