import { InvalidArgumentError } from '@drydock/errors';
import { dockerRunConfig, historyItems, importConfig, importManifest, parsePlatform } from './image-model';

const amd64 = { os: 'linux', architecture: 'amd64' };

describe('parsePlatform', () => {
  it('fills missing parts and refuses other systems', () => {
    expect(parsePlatform(undefined, amd64)).toEqual(amd64);
    expect(parsePlatform('linux', amd64)).toEqual(amd64);
    expect(parsePlatform('linux/arm64/v8', amd64)).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('Linux/x86_64', amd64)).toEqual(amd64);
    expect(() => parsePlatform('windows/amd64', amd64)).toThrow(new InvalidArgumentError('operating system is not supported: windows'));
    expect(() => parsePlatform('linux/a b', amd64)).toThrow(InvalidArgumentError);
  });
});

describe('importConfig / importManifest', () => {
  it('writes what docker import writes', () => {
    const c = importConfig({ created: '2024-01-01T00:00:00.000Z', platform: amd64, runConfig: { Cmd: ['/bin/sh'], Env: [], User: '' }, diffId: 'sha256:d', comment: 'Imported from -' });
    expect(c).toEqual({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00.000Z',
      comment: 'Imported from -',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: ['sha256:d'] },
      history: [{ created: '2024-01-01T00:00:00.000Z', comment: 'Imported from -' }],
    });
    const noConfig = importConfig({ created: 'x', platform: amd64, runConfig: {}, diffId: 'sha256:d', comment: 'm' });
    expect('config' in noConfig).toBe(false);
  });

  it('describes one uncompressed OCI layer', () => {
    expect(importManifest({ digest: 'sha256:c', size: 10 }, { digest: 'sha256:l', size: 20 })).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:c', size: 10 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: 'sha256:l', size: 20 }],
    });
  });
});

describe('dockerRunConfig', () => {
  it('fills every field Docker prints, in its order', () => {
    const c = dockerRunConfig({ Cmd: ['/bin/sh'], Env: ['FOO=bar'] });
    expect(Object.keys(c)).toEqual([
      'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce',
      'Env', 'Cmd', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels',
    ]);
    expect(c.Cmd).toEqual(['/bin/sh']);
    expect(c.Entrypoint).toBeNull();
    expect(dockerRunConfig({ ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGINT' })).toMatchObject({ ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGINT' });
  });
});

describe('historyItems', () => {
  it('puts the newest first with the id and tags on it', () => {
    const rows = historyItems(
      {
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: ['a', 'b'] },
        history: [
          { created: '2024-01-01T00:00:00Z', created_by: 'ADD x', comment: 'first' },
          { created: '2024-01-02T00:00:00Z', created_by: 'ENV a=b', empty_layer: true },
          { created: '2024-01-03T00:00:00Z', created_by: 'RUN y' },
        ],
      },
      [100, 200],
      'sha256:img',
      ['busybox:latest'],
    );
    expect(rows).toEqual([
      { Id: 'sha256:img', Created: 1704240000, CreatedBy: 'RUN y', Tags: ['busybox:latest'], Size: 200, Comment: '' },
      { Id: '<missing>', Created: 1704153600, CreatedBy: 'ENV a=b', Tags: null, Size: 0, Comment: '' },
      { Id: '<missing>', Created: 1704067200, CreatedBy: 'ADD x', Tags: null, Size: 100, Comment: 'first' },
    ]);
  });
});
