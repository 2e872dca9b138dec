import { InternalError } from '@drydock/errors';

/**
 * Tar headers exactly as dockerd's `docker save` writes them: Go's archive/tar
 * in USTAR form (moby's archive.Tar asks for PAX, which Go only uses when a
 * field does not fit USTAR, never the case for save's short names), files owned
 * by root:root with user and group names, mode with Go's file type bits, mtime
 * in whole seconds. No blocking-factor padding: the archive ends with two zero
 * blocks, as Go's tar.Writer.Close does.
 */

export const BLOCK = 512;
/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

export type EntryKind = 'file' | 'directory' | 'symlink';

export interface EntryHeader {
  /** Path inside the archive; directories end with "/". */
  name: string;
  kind: EntryKind;
  /** Permission bits (0o644, 0o755, 0o777). */
  mode: number;
  size: number;
  /** Unix seconds. */
  mtime: number;
  linkname?: string;
}

/** Go's mode type bits (c_ISREG, c_ISDIR, c_ISLNK) that fillGo18FileTypeBits adds. */
const TYPE_BITS: Record<EntryKind, number> = { file: 0o100000, directory: 0o40000, symlink: 0o120000 };
const TYPE_FLAG: Record<EntryKind, string> = { file: '0', directory: '5', symlink: '2' };

function putString(buf: Buffer, offset: number, length: number, s: string): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > length) throw new InternalError(`tar field too long: ${s}`);
  b.copy(buf, offset);
}

/** Go's formatOctal: zero-padded digits filling the field but its last byte, which stays NUL. */
function putOctal(buf: Buffer, offset: number, length: number, n: number): void {
  const digits = n.toString(8);
  if (digits.length > length - 1) throw new InternalError(`tar number too large: ${n}`);
  putString(buf, offset, length - 1, digits.padStart(length - 1, '0'));
}

/** One 512-byte USTAR header block. */
export function tarHeader(h: EntryHeader): Buffer {
  const buf = Buffer.alloc(BLOCK);
  putString(buf, 0, 100, h.name);
  putOctal(buf, 100, 8, TYPE_BITS[h.kind] | h.mode);
  putOctal(buf, 108, 8, 0);
  putOctal(buf, 116, 8, 0);
  putOctal(buf, 124, 12, h.kind === 'file' ? h.size : 0);
  putOctal(buf, 136, 12, h.mtime);
  buf[156] = TYPE_FLAG[h.kind].charCodeAt(0);
  if (h.linkname) putString(buf, 157, 100, h.linkname);
  putString(buf, 257, 6, 'ustar\0');
  putString(buf, 263, 2, '00');
  putString(buf, 265, 32, 'root');
  putString(buf, 297, 32, 'root');
  putOctal(buf, 329, 8, 0);
  putOctal(buf, 337, 8, 0);
  // checksum: the sum of all bytes with the checksum field read as spaces, "%06o\0 "
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of buf) sum += b;
  putString(buf, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return buf;
}

/** Zero bytes completing a member of `size` bytes to the block size. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}
