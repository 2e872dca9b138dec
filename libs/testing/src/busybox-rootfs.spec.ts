import { createReadStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { buildBusyboxRootfsTar, isStaticElf } from './busybox-rootfs';
import { makeTempDir } from './temp-dir';

async function entries(path: string): Promise<Map<string, { type: string; linkname?: string; uid: number; mode: number; body: string }>> {
  const out = new Map();
  const ex = extract();
  createReadStream(path).pipe(ex as unknown as NodeJS.WritableStream);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    const h = e.header;
    out.set(h.name, { type: h.type, linkname: h.linkname, uid: h.uid, mode: h.mode, body: h.type === 'file' && h.size < 4096 ? Buffer.concat(chunks).toString() : '' });
  }
  return out;
}

describe('buildBusyboxRootfsTar', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('bbtar');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes busybox, applet links and the users; the same input gives the same digest', async () => {
    const a = await buildBusyboxRootfsTar(join(dir, 'a.tar'));
    const b = await buildBusyboxRootfsTar(join(dir, 'b.tar'));
    expect(a.diffId).toBe(b.diffId);
    const e = await entries(a.path);
    expect(e.get('bin/busybox')).toMatchObject({ type: 'file', mode: 0o755 });
    for (const applet of ['sh', 'sleep', 'whoami', 'tee']) expect(e.get(`bin/${applet}`)).toMatchObject({ type: 'symlink', linkname: 'busybox' });
    expect(e.get('tmp/')).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(e.get('home/app/')).toMatchObject({ uid: 1000 });
    expect(e.get('etc/passwd')!.body).toMatch(/^root:x:0:0:/m);
    expect(e.get('etc/passwd')!.body).toMatch(/^app:x:1000:1000:/m);
    expect(e.get('etc/passwd')!.body).toMatch(/^nobody:x:65534:65534:/m);
    expect(e.get('etc/group')!.body).toMatch(/^app:x:1000:$/m);
  });

  it('names the Debian package when busybox is missing or dynamically linked', async () => {
    await expect(buildBusyboxRootfsTar(join(dir, 'c.tar'), join(dir, 'no-busybox'))).rejects.toThrow(/install the Debian package busybox-static/);
    await expect(buildBusyboxRootfsTar(join(dir, 'd.tar'), process.execPath)).rejects.toThrow(/statically linked.*busybox-static/);
  });

  it('tells static from dynamic ELF binaries', () => {
    expect(isStaticElf(readFileSync('/bin/busybox'))).toBe(true);
    expect(isStaticElf(readFileSync(process.execPath))).toBe(false);
    writeFileSync(join(dir, 'text'), '#!/bin/sh\n');
    expect(isStaticElf(readFileSync(join(dir, 'text')))).toBe(false);
  });
});
