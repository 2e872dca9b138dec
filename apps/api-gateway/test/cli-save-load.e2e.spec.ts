// docker save and docker load through the real docker CLI.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { extract, pack } from 'tar-stream';
import { ctr } from '@drydock/testing';
import { useDockerStack } from './support/stack';
import { eventually, out } from './support/expect';

async function untar(buf: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const x = extract();
  const done = (async () => {
    for await (const e of x) {
      const parts: Buffer[] = [];
      for await (const c of e) parts.push(c as Buffer);
      files.set(e.header.name, Buffer.concat(parts));
    }
  })();
  x.end(buf);
  await done;
  return files;
}

async function tarOf(entries: { name: string; content: string | Buffer }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) await new Promise<void>((res, rej) => p.entry({ name: e.name, mode: 0o644 }, e.content, (err) => (err ? rej(err) : res())));
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

describe('docker CLI: save and load', () => {
  const s = useDockerStack('e2esl');
  const imageId = async (ref: string) => (await s.docker(['image', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();

  it('save -o writes Docker\'s archive: manifest, repositories, config and the layer', async () => {
    const id = await imageId('busybox');
    const file = join(s.dir('save'), 'busybox.tar');
    expect(out(await s.docker(['save', '-o', file, 'busybox']))).toEqual({ code: 0, stdout: '', stderr: '' });
    const files = await untar(readFileSync(file));
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    expect(manifest).toHaveLength(1);
    expect(manifest[0]).toMatchObject({ Config: `${id.slice(7)}.json`, RepoTags: ['busybox:latest'] });
    expect(manifest[0].Layers).toHaveLength(1);
    expect(files.get(manifest[0].Layers[0])!.equals(readFileSync(s.busyboxTar()))).toBe(true);
    expect(JSON.parse(files.get('repositories')!.toString())).toEqual({ busybox: { latest: manifest[0].Layers[0].split('/')[0] } });
    expect(files.get(`${id.slice(7)}.json`)!.length).toBeGreaterThan(0);
  });

  it('load -i restores a removed image with its id and tags, and it runs', async () => {
    const id = await imageId('busybox');
    await s.docker(['tag', 'busybox', 'e2e/saved:1']);
    const file = join(s.dir('save'), 'two.tar');
    expect((await s.docker(['save', '-o', file, 'busybox', 'e2e/saved:1'])).code).toBe(0);
    expect((await s.docker(['rmi', 'busybox', 'e2e/saved:1'])).code).toBe(0);
    expect((await s.docker(['image', 'inspect', id])).code).toBe(1);
    expect(out(await s.docker(['load', '-i', file]))).toEqual({ code: 0, stdout: 'Loaded image: busybox:latest\nLoaded image: e2e/saved:1\n', stderr: '' });
    expect(await imageId('e2e/saved:1')).toBe(id);
    expect(await imageId('busybox')).toBe(id);
    expect(out(await s.docker(['run', '--rm', '--network', 'none', 'e2e/saved:1', '/bin/busybox', 'echo', 'loaded'], { timeoutMs: 60000 }))).toEqual({ code: 0, stdout: 'loaded\n', stderr: '' });
  });

  it('save | load through a pipe, and an untagged image by id', async () => {
    const id = await imageId('busybox');
    const r = await s.spawnCli([], { shell: `'${s.dockerBin}' save ${id.slice(7, 19)} | '${s.dockerBin}' load` }).done;
    expect(out(r)).toEqual({ code: 0, stdout: `Loaded image ID: ${id}\n`, stderr: '' });
    const r2 = await s.spawnCli([], { shell: `'${s.dockerBin}' save e2e/saved:1 | '${s.dockerBin}' load` }).done;
    expect(out(r2)).toEqual({ code: 0, stdout: 'Loaded image: e2e/saved:1\n', stderr: '' });
  });

  it('load from stdin of a tag that points elsewhere moves it', async () => {
    const file = join(s.dir('save'), 'saved.tar');
    expect((await s.docker(['save', '-o', file, 'e2e/saved:1'])).code).toBe(0);
    const id = await imageId('e2e/saved:1');
    await s.docker(['import', s.busyboxTar(), 'e2e/saved:1']);
    const other = await imageId('e2e/saved:1');
    expect(other).not.toBe(id);
    const r = await s.docker(['load'], { input: readFileSync(file) });
    expect(out(r)).toEqual({ code: 0, stdout: `The image e2e/saved:1 already exists, renaming the old one with ID ${other} to empty string\nLoaded image: e2e/saved:1\n`, stderr: '' });
    expect(await imageId('e2e/saved:1')).toBe(id);
    // the image that lost its tag is still there, untagged
    expect((await s.docker(['image', 'inspect', other])).code).toBe(0);
  });

  it('save errors are dockerd\'s', async () => {
    expect(out(await s.docker(['save', 'nosuch']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: No such image: nosuch\n' });
    expect(out(await s.docker(['save', '-o', join(s.dir('save'), 'x.tar'), 'nosuch:1']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: reference does not exist\n' });
  });

  it('bad archives fail with dockerd\'s words and load nothing', async () => {
    const dir = s.dir('bad');
    const before = (await s.docker(['images', '-a', '-q', '--no-trunc'])).stdout;
    const notTar = join(dir, 'not.tar');
    writeFileSync(notTar, 'this is not a tar'.repeat(100));
    expect(out(await s.docker(['load', '-i', notTar]))).toEqual({ code: 1, stdout: '', stderr: 'Error processing tar file(exit status 1): archive/tar: invalid tar header\n' });
    const bogus = join(dir, 'bogus.tar');
    writeFileSync(bogus, await tarOf([{ name: 'manifest.json', content: '{not json' }]));
    expect(out(await s.docker(['load', '-i', bogus]))).toEqual({ code: 1, stdout: '', stderr: "invalid character 'n' looking for beginning of object key string\n" });
    const escape = join(dir, 'escape.tar');
    writeFileSync(escape, await tarOf([{ name: '../evil', content: 'x' }, { name: 'manifest.json', content: '[]' }]));
    expect(out(await s.docker(['load', '-i', escape]))).toEqual({ code: 1, stdout: '', stderr: 'invalid tar: entry "../evil" escapes the root\n' });
    expect((await s.docker(['images', '-a', '-q', '--no-trunc'])).stdout).toBe(before);
  });

  it('an upload cut off mid-way loads nothing and leaves no lease or content behind', async () => {
    const file = join(s.dir('save'), 'cut.tar');
    await s.docker(['tag', 'busybox', 'e2e/cut:1']);
    expect((await s.docker(['save', '-o', file, 'e2e/cut:1'])).code).toBe(0);
    expect((await s.docker(['rmi', 'e2e/cut:1'])).code).toBe(0);
    const addr = s.infra.containerd!.address;
    const contentBefore = await ctr(addr, ['content', 'ls', '-q'], 'drydock');
    const archive = readFileSync(file);
    await new Promise<void>((resolve) => {
      const req = request({ socketPath: s.socket, method: 'POST', path: '/v1.41/images/load?quiet=1', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': String(archive.length) } });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(archive.subarray(0, archive.length >> 1), () => setTimeout(() => req.destroy(), 300));
    });
    // the supervisor deletes its lease (and with it what it wrote) once it sees the cancellation
    await eventually(async () => (await ctr(addr, ['leases', 'ls', '-q'], 'drydock')).trim(), (v) => v === '', 20000, 'load lease gone');
    expect(await ctr(addr, ['content', 'ls', '-q'], 'drydock')).toBe(contentBefore);
    expect((await s.docker(['image', 'inspect', 'e2e/cut:1'])).code).toBe(1);
  });

  it('the engine API answers /images/{name}/get and a 404 before any byte', async () => {
    const r = await s.raw('GET', '/v1.41/images/nosuch/get');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toEqual({ message: 'No such image: nosuch' });
    const ok = await s.raw('GET', '/v1.41/images/busybox/get');
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/x-tar');
  });
});
