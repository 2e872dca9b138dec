import { childImageConfig, commitMerge, EMPTY_LAYER_DIFF_ID, marshalImageConfig } from './commit-config';

describe('childImageConfig', () => {
  const parent = {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers' as const, diff_ids: ['sha256:a'] },
    history: [{ created: '2020-01-01T00:00:00Z', comment: 'Imported from -' }],
  };

  it('appends the layer and a history entry whose created_by is the container Cmd', () => {
    const c = childImageConfig({
      parent,
      config: { Cmd: ['sh'] },
      containerConfig: { Cmd: ['/bin/sh', '-c', 'echo hi'] },
      containerId: 'c1',
      author: 'me',
      comment: 'msg',
      diffId: 'sha256:b',
      created: '2021-01-01T00:00:00.000Z',
      platform: { os: 'linux', architecture: 'arm64' },
    });
    expect(c.rootfs.diff_ids).toEqual(['sha256:a', 'sha256:b']);
    expect(c.history!.at(-1)).toEqual({ created: '2021-01-01T00:00:00.000Z', author: 'me', created_by: '/bin/sh -c echo hi', comment: 'msg' });
    expect(c.architecture).toBe('amd64');
    expect(c.comment).toBeUndefined();
    expect(c.container).toBe('c1');
    expect(c.config?.Cmd).toEqual(['sh']);
    expect((c.config as Record<string, unknown>).Image).toBe('');
  });

  it('an empty diff is an empty_layer entry and no new diff id', () => {
    const c = childImageConfig({ parent, config: {}, containerConfig: { Cmd: ['/bin/sh', '-c', '#(nop) ', 'ENV a=b'] }, diffId: EMPTY_LAYER_DIFF_ID, created: 't', platform: { os: 'linux', architecture: 'amd64' } });
    expect(c.rootfs.diff_ids).toEqual(['sha256:a']);
    expect(c.history!.at(-1)).toMatchObject({ created_by: '/bin/sh -c #(nop)  ENV a=b', empty_layer: true });
  });

  it('marshals with sorted top-level keys, as image.Image.MarshalJSON', () => {
    const json = marshalImageConfig(childImageConfig({ config: {}, containerConfig: {}, created: 't', platform: { os: 'linux', architecture: 'amd64' } })).toString();
    const keys = Object.keys(JSON.parse(json));
    expect(keys).toEqual([...keys].sort());
    expect(json.indexOf('"Hostname"')).toBeLessThan(json.indexOf('"Domainname"'));
  });
});

describe('commitMerge', () => {
  it('inherits what the user config leaves unset, as daemon/commit.go merge', () => {
    const m = commitMerge({ Env: ['A=1'], Labels: { x: '1' } }, { Env: ['A=0', 'B=2'], Cmd: ['sh'], User: 'u', Labels: { x: '0', y: '2' }, WorkingDir: '/w' });
    expect(m).toMatchObject({ Env: ['A=1', 'B=2'], Cmd: ['sh'], User: 'u', Labels: { x: '1', y: '2' }, WorkingDir: '/w' });
  });
  it('an entrypoint set by the user keeps the image Cmd out', () => {
    expect(commitMerge({ Entrypoint: ['e'] }, { Cmd: ['sh'], Entrypoint: ['x'] })).toMatchObject({ Entrypoint: ['e'] });
    expect(commitMerge({ Entrypoint: ['e'] }, { Cmd: ['sh'] }).Cmd).toBeUndefined();
  });
});
