import { tarHeader } from './docker-tar';
import { goContainerConfig, goString, goTime } from './go-json';
import { planSave } from './save-plan';

/**
 * Vectors from the reference Docker Engine 20.10.24: `docker save` of a
 * one-layer image it imported (config, layer json, header bytes as it wrote them).
 */
const CONFIG = "{\"architecture\":\"amd64\",\"comment\":\"Imported from -\",\"config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"sh\"],\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},\"container_config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":null,\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},\"created\":\"2026-11-27T05:30:27.363989794Z\",\"docker_version\":\"20.10.24+dfsg1\",\"history\":[{\"created\":\"2026-11-27T05:30:27.363989794Z\",\"comment\":\"Imported from -\"}],\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:3601246b1a9b5d307ee49b575a6a0b2a163424b59cf0fe46225d5c64017c6c91\"]}}";
const LAYER_JSON = "{\"id\":\"f6b77e0d158a9422f82fc2244de2407150dd7ed3b3dfe80a6152e62e03b8c5f8\",\"comment\":\"Imported from -\",\"created\":\"2026-11-27T05:30:27.363989794Z\",\"container_config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":null,\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},\"docker_version\":\"20.10.24+dfsg1\",\"config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"sh\"],\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},\"architecture\":\"amd64\",\"os\":\"linux\"}";
const CONFIG_HEADER = 'NzQ2YmE0M2M4M2E5M2E4YzBkOTA0ZDg1Y2UzNDM5YjE0MTc3MzM3ZjVlYWZhNmNkZjBjNmI0M2ZlNWVhMjU0OS5qc29uAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADAxMDA2NDQAMDAwMDAwMAAwMDAwMDAwADAwMDAwMDAxNjAxADE1MzAyMjEyNTYzADAyMjcxNQAgMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB1c3RhcgAwMHJvb3QAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAcm9vdAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwMDAwMDAwADAwMDAwMDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const ID = 'sha256:746ba43c83a93a8c0d904d85ce3439b14177337f5eafa6cdf0c6b43fe5ea2549';
const DIFF = 'sha256:3601246b1a9b5d307ee49b575a6a0b2a163424b59cf0fe46225d5c64017c6c91';
const V1 = 'f6b77e0d158a9422f82fc2244de2407150dd7ed3b3dfe80a6152e62e03b8c5f8';

describe('planSave', () => {
  const plan = planSave([{ id: ID, config: Buffer.from(CONFIG), diffIds: [DIFF], tags: [{ familiarName: '127.0.0.1:5555/library/busybox', tag: 'latest' }] }], () => 1996800, 1);

  it('computes the v1 layer id and json as dockerd does', () => {
    expect(plan.layerIds).toEqual([[V1]]);
    const json = plan.entries.find((e) => e.name === `${V1}/json`);
    expect(json?.data?.toString()).toBe(LAYER_JSON);
  });

  it('orders entries like moby walks its directory, with dockerd\'s metadata', () => {
    expect(plan.entries.map((e) => [e.name, e.kind, e.size, e.mtime])).toEqual([
      [`${ID.slice(7)}.json`, 'file', 897, 1795757427],
      [`${V1}/`, 'directory', 0, 1795757427],
      [`${V1}/VERSION`, 'file', 3, 1795757427],
      [`${V1}/json`, 'file', 770, 1795757427],
      [`${V1}/layer.tar`, 'file', 1996800, 1795757427],
      ['manifest.json', 'file', 226, 0],
      ['repositories', 'file', 113, 0],
    ]);
    expect(plan.entries[5].data?.toString()).toBe(`[{"Config":"${ID.slice(7)}.json","RepoTags":["127.0.0.1:5555/library/busybox:latest"],"Layers":["${V1}/layer.tar"]}]\n`);
    expect(plan.entries[6].data?.toString()).toBe(`{"127.0.0.1:5555/library/busybox":{"latest":"${V1}"}}\n`);
  });

  it('writes header blocks byte for byte', () => {
    const e = plan.entries[0];
    expect(tarHeader(e).toString('base64')).toBe(CONFIG_HEADER);
  });

  it('an untagged image gets RepoTags null and no repositories file', () => {
    const p = planSave([{ id: ID, config: Buffer.from(CONFIG), diffIds: [DIFF], tags: [] }], () => 1, 1);
    expect(p.entries.map((e) => e.name)).not.toContain('repositories');
    expect(p.entries.find((e) => e.name === 'manifest.json')?.data?.toString()).toContain('"RepoTags":null');
  });

  it('no image at all is a manifest of null', () => {
    const p = planSave([], () => 0, 1);
    expect(p.entries.map((e) => [e.name, e.data?.toString()])).toEqual([['manifest.json', 'null\n']]);
  });

  it('a diff id seen before becomes a symlink to the first copy', () => {
    const cfg = JSON.stringify({ os: 'linux', created: '2020-01-01T00:00:00Z', rootfs: { type: 'layers', diff_ids: [DIFF, DIFF] } });
    const p = planSave([{ id: ID, config: Buffer.from(cfg), diffIds: [DIFF, DIFF], tags: [] }], () => 10, 42);
    const [low, top] = p.layerIds[0];
    expect(low).not.toBe(top);
    const link = p.entries.find((e) => e.name === `${top}/layer.tar`);
    expect(link).toMatchObject({ kind: 'symlink', linkname: `../${low}/layer.tar`, mtime: 42 });
    expect(p.entries.find((e) => e.name === `${low}/layer.tar`)).toMatchObject({ kind: 'file', size: 10, mtime: 1577836800 });
    // lower layers are empty V1Images created at the epoch
    expect(JSON.parse(p.entries.find((e) => e.name === `${low}/json`)!.data!.toString())).toMatchObject({ id: low, created: '1970-01-01T00:00:00Z', os: 'linux' });
    expect(JSON.parse(p.entries.find((e) => e.name === `${top}/json`)!.data!.toString())).toMatchObject({ id: top, parent: low });
  });

  it('refuses an image without layers as dockerd does', () => {
    expect(() => planSave([{ id: ID, config: Buffer.from('{}'), diffIds: [], tags: [] }], () => 0, 0)).toThrow('empty export - not implemented');
  });
});

describe('Go JSON', () => {
  it('escapes HTML characters, control bytes and lone surrogates like encoding/json', () => {
    expect(goString('a<b>&c\u2028"\\\n\x01\b')).toBe('"a\\u003cb\\u003e\\u0026c\\u2028\\"\\\\\\n\\u0001\\u0008"');
    expect(goString('\ud800x')).toBe('"\\ufffdx"');
    expect(goString('é😀')).toBe('"é😀"');
  });

  it('formats times as Go re-marshals them', () => {
    expect(goTime('2020-01-01T00:00:00.100000000Z')).toBe('"2020-01-01T00:00:00.1Z"');
    expect(goTime('2020-01-01T00:00:00+00:00')).toBe('"2020-01-01T00:00:00Z"');
    expect(goTime('2020-01-01T02:00:00.5+02:00')).toBe('"2020-01-01T02:00:00.5+02:00"');
    expect(goTime(undefined)).toBe('"0001-01-01T00:00:00Z"');
  });

  it('marshals container.Config with omitempty fields, sorted maps and string slices', () => {
    const out = goContainerConfig({ Cmd: 'sh', ExposedPorts: { '80/tcp': {}, '443/tcp': {} }, Labels: { b: '2', a: '1' }, Shell: [], StopTimeout: 0, Healthcheck: { Test: ['CMD', 'true'], Interval: 30000000000 }, env: ['A=1'] });
    expect(out).toBe(
      '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"443/tcp":{},"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["A=1"],"Cmd":["sh"],"Healthcheck":{"Test":["CMD","true"],"Interval":30000000000},"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{"a":"1","b":"2"},"StopTimeout":0}',
    );
  });
});
