import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, type Header, type Pack } from 'tar-stream';

export type EntryHeader = Partial<Header> & Pick<Header, 'name'>;

const CHUNK = 64 * 1024;

/**
 * Streams a tar of host directory trees, entry by entry (never a whole file in
 * memory). Each `source` is written under `name` (a file as that single entry,
 * a directory as `name/` then its content); `name` '' writes a directory's
 * content at the top (docker export). Symlinks are stored, never followed;
 * hard links within the archive become link entries; sockets are skipped as
 * Docker does. A file that changes size while read (a running container) is
 * cut or zero-padded to the size in its header, so the tar stays valid.
 */
export async function* tarTree(sources: { hostPath: string; name: string }[], signal?: AbortSignal): AsyncIterable<Buffer> {
  const p = pack();
  let failed: Error | undefined;
  const producer = (async () => {
    const links = new Map<string, string>();
    for (const s of sources) await addTree(p, s.hostPath, s.name, links, signal);
    p.finalize();
  })().catch((err: Error) => {
    failed = err;
    p.destroy(err);
  });
  try {
    for await (const chunk of p as AsyncIterable<Buffer>) {
      if (signal?.aborted) break;
      yield chunk;
    }
    await producer;
    if (failed) throw failed;
  } finally {
    // A consumer that stopped early: end the producer before the caller releases the
    // mount, so no file of it is still open (the umount would be busy).
    if (!p.destroyed) p.destroy();
    await Promise.race([producer, new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}

async function addTree(p: Pack, host: string, name: string, links: Map<string, string>, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new Error('archive cancelled');
  const st = await lstat(host);
  const base: EntryHeader = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
  if (st.isDirectory()) {
    if (name !== '') await entry(p, { ...base, name: `${name}/`, type: 'directory' });
    for (const child of (await readdir(host)).sort()) {
      await addTree(p, join(host, child), name === '' ? child : `${name}/${child}`, links, signal).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err; // vanished while walking a running container
      });
    }
    return;
  }
  if (st.isSymbolicLink()) return entry(p, { ...base, type: 'symlink', linkname: await readlink(host) });
  if (st.isFile()) {
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first) return entry(p, { ...base, type: 'link', linkname: first, size: 0 });
      links.set(key, name);
    }
    return fileEntry(p, { ...base, type: 'file', size: st.size }, host);
  }
  const devmajor = Math.floor(st.rdev / 256) & 0xfff;
  const devminor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  if (st.isCharacterDevice()) return entry(p, { ...base, type: 'character-device', devmajor, devminor });
  if (st.isBlockDevice()) return entry(p, { ...base, type: 'block-device', devmajor, devminor });
  if (st.isFIFO()) return entry(p, { ...base, type: 'fifo' });
  // sockets: Docker's archiver skips them
}

/** Writes one entry without content (directory, link, device, fifo, empty file). */
export function entry(p: Pack, h: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => p.entry({ ...h, size: 0 }, (err) => (err ? reject(err) : resolve())));
}

/** Writes a regular file entry, streaming `host` in chunks. */
export async function fileEntry(p: Pack, h: EntryHeader, host: string): Promise<void> {
  const size = h.size ?? 0;
  if (size === 0) {
    await new Promise<void>((resolve, reject) => p.entry(h, Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
    return;
  }
  const fh = await open(host, 'r');
  try {
    await new Promise<void>((resolve, reject) => {
      const sink = p.entry(h, (err) => (err ? reject(err) : resolve()));
      (async () => {
        let left = size;
        while (left > 0) {
          const buf = Buffer.alloc(Math.min(CHUNK, left));
          const { bytesRead } = await fh.read(buf, 0, buf.length, size - left);
          // shrunk meanwhile: pad with zeros to the announced size
          const chunk = bytesRead === 0 ? buf : buf.subarray(0, bytesRead);
          left -= chunk.length;
          if (!sink.write(chunk)) {
            // 'close' too: a consumer that stopped reading destroys the pack and its sinks
            await new Promise<void>((r) => {
              const done = () => {
                sink.off('drain', done);
                sink.off('close', done);
                r();
              };
              sink.on('drain', done);
              sink.on('close', done);
            });
            if (sink.destroyed) throw new Error('archive cancelled');
          }
        }
        sink.end(undefined as unknown as Buffer);
      })().catch((err) => {
        sink.destroy(err);
        reject(err);
      });
    });
  } finally {
    await fh.close();
  }
}
