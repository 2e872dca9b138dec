import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { pack, type Header } from 'tar-stream';

type Headers = Partial<Header> & Pick<Header, 'name'>;
import { MissingDependencyError } from '@drydock/infra';
import { hashing } from './hashing';

/** Where Debian's busybox-static puts its binary. */
export const BUSYBOX_PATH = '/bin/busybox';

/** Applets linked in /bin: what tests and small images commonly call. */
export const BUSYBOX_APPLETS = [
  'sh', 'echo', 'cat', 'sleep', 'true', 'false', 'ls', 'ps', 'env', 'id', 'hostname', 'yes', 'head', 'tail', 'seq',
  'printf', 'kill', 'top', 'wc', 'mkdir', 'touch', 'rm', 'date', 'grep', 'whoami', 'tee', 'test', 'pwd', 'uname',
  'cp', 'mv', 'ln', 'chmod', 'sed', 'stat', 'readlink', 'dd', 'mkfifo', 'nproc', 'sort', 'tr', 'cut', 'xargs', 'find',
];

// Fixed metadata: the same busybox gives the same tar, so digests are stable across runs.
const MTIME = new Date('2024-01-01T00:00:00Z');

export interface RootfsTar {
  path: string;
  /** sha256 of the uncompressed tar: the layer's diff ID. */
  diffId: string;
  size: number;
}

/** Whether an ELF binary has no program interpreter, i.e. runs without a libc in the rootfs. */
export function isStaticElf(bin: Buffer): boolean {
  if (bin.length < 64 || bin.readUInt32BE(0) !== 0x7f454c46 || bin[4] !== 2 || bin[5] !== 1) return false; // ELF64 little-endian only
  const phoff = Number(bin.readBigUInt64LE(32));
  const phentsize = bin.readUInt16LE(54);
  const phnum = bin.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    if (bin.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  }
  return true;
}

function readBusybox(path: string): Buffer {
  if (!existsSync(path)) throw new MissingDependencyError(path, 'busybox-static');
  const bin = readFileSync(path);
  if (!isStaticElf(bin)) {
    throw new MissingDependencyError(`a statically linked ${path} (this one needs a libc)`, 'busybox-static');
  }
  return bin;
}

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');
const GROUP = ['root:x:0:', 'app:x:1000:', 'nogroup:x:65534:', ''].join('\n');

/**
 * Writes an uncompressed tar of a minimal rootfs made from Debian's busybox-static:
 * /bin/busybox and applet symlinks, /etc/passwd (root 0, app 1000, nobody 65534),
 * /etc/group, /etc/hostname and the empty mount points. Usable as an image layer.
 */
export async function buildBusyboxRootfsTar(path: string, busyboxPath = BUSYBOX_PATH): Promise<RootfsTar> {
  const busybox = readBusybox(busyboxPath);
  const p = pack();
  const add = (h: Headers, content?: string | Buffer) =>
    new Promise<void>((resolve, reject) => {
      const header: Headers = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: MTIME, ...h };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content === undefined) p.entry(header, cb);
      else p.entry(header, content, cb);
    });
  const dir = (name: string, mode = 0o755, owner?: { id: number; name: string }) =>
    add({ name: name + '/', type: 'directory', mode, ...(owner && { uid: owner.id, gid: owner.id, uname: owner.name, gname: owner.name }) });
  const file = (name: string, content: string | Buffer, mode = 0o644) => add({ name, type: 'file', mode }, content);

  const { tap, digest, size } = hashing();
  // tar-stream's pack is a streamx Readable, which node's pipeline drives like its own.
  const written = pipeline(p as unknown as NodeJS.ReadableStream, tap, createWriteStream(path));

  for (const d of ['bin', 'dev', 'etc', 'home', 'proc', 'sys', 'usr', 'usr/bin', 'var']) await dir(d);
  await dir('root', 0o700);
  await dir('tmp', 0o1777);
  await dir('var/tmp', 0o1777);
  await dir('home/app', 0o755, { id: 1000, name: 'app' });
  await file('bin/busybox', busybox, 0o755);
  for (const applet of BUSYBOX_APPLETS) await add({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mode: 0o777 });
  // #!/usr/bin/env scripts
  await add({ name: 'usr/bin/env', type: 'symlink', linkname: '/bin/busybox', mode: 0o777 });
  await file('etc/passwd', PASSWD);
  await file('etc/group', GROUP);
  await file('etc/hostname', 'drydock\n');
  await file('etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  await file('etc/resolv.conf', '');
  p.finalize();
  await written;
  return { path, diffId: digest(), size: size() };
}
