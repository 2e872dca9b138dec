import { constants } from 'node:fs';

/** Go's os.FileMode type bits (what Docker puts in X-Docker-Container-Path-Stat). */
export const GoMode = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
} as const;

/** Unix st_mode -> Go os.FileMode, as os.Lstat fills it (permission bits in the low 9 bits). */
export function goFileMode(stMode: number): number {
  let m = stMode & 0o777;
  switch (stMode & constants.S_IFMT) {
    case constants.S_IFDIR:
      m += GoMode.dir;
      break;
    case constants.S_IFLNK:
      m += GoMode.symlink;
      break;
    case constants.S_IFBLK:
      m += GoMode.device;
      break;
    case constants.S_IFCHR:
      m += GoMode.device + GoMode.charDevice;
      break;
    case constants.S_IFIFO:
      m += GoMode.namedPipe;
      break;
    case constants.S_IFSOCK:
      m += GoMode.socket;
      break;
    default:
      break;
  }
  if (stMode & 0o4000) m += GoMode.setuid;
  if (stMode & 0o2000) m += GoMode.setgid;
  if (stMode & 0o1000) m += GoMode.sticky;
  return m;
}

/** Go's time.RFC3339Nano in UTC: fraction without trailing zeros, none when zero. */
export function rfc3339Nano(ns: bigint): string {
  const secs = ns / 1000000000n;
  const frac = ns % 1000000000n;
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  const f = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${f}Z`;
}
