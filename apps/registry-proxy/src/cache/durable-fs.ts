import { randomUUID, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

// registry-store.ts keeps its writeDurable/syncDir private; these are the cache's own,
// with the same contract: nothing becomes visible under its final name before it is on disk.

/** Large positional I/O: one syscall per MiB keeps a 100 MB pull at ~100 writes and reads per pass. */
export const IO_CHUNK_BYTES = 1024 * 1024;

/** fsyncs a directory so a rename into it survives a power loss, not only a process kill. */
export async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `path` atomically: a temp file in `tmpDir` (same filesystem), fsync, rename, fsync of the directory. */
export async function writeFileAtomic(tmpDir: string, path: string, data: Buffer | string): Promise<void> {
  const tmp = join(tmpDir, randomUUID());
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await mkdir(dirname(path), { recursive: true });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dirname(path));
}

/** Writes all of `bufs` at `position` (writev may write short on some filesystems). */
export async function writeAllAt(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let pos = position;
  let rest = bufs;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, pos);
    pos += bytesWritten;
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      next.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    if (bytesWritten === 0 && next.length > 0) throw new Error('write made no progress');
    rest = next;
  }
}

/** Feeds bytes [0, size) of `fh` into `hash` (resuming a partial download hashes what is already on disk). */
export async function hashFilePrefix(fh: FileHandle, size: number, hash: Hash): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(IO_CHUNK_BYTES, Math.max(size, 1)));
  let pos = 0;
  while (pos < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) throw new Error(`file ended at ${pos} of ${size} bytes`);
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/** True when `fh` holds exactly `data` at `position`. */
export async function fileMatchesAt(fh: FileHandle, data: Buffer, position: number): Promise<boolean> {
  const buf = Buffer.allocUnsafe(data.length);
  let got = 0;
  while (got < data.length) {
    const { bytesRead } = await fh.read(buf, got, data.length - got, position + got);
    if (bytesRead === 0) return false;
    got += bytesRead;
  }
  return buf.equals(data);
}

/** rm that ignores a missing file. */
export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
