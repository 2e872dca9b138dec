import { InvalidArgumentError } from '@drydock/errors';
import { goQuoteSlice } from './go-compat';

/**
 * `-v/--volume` and `--tmpfs` specs and human-readable sizes, with Docker 20.10's Linux rules
 * (volume/mounts/linux_parser.go, moby/sys/mount MergeTmpfsOptions, go-units).
 */

/** Linux bind propagation modes. */
export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

/** Docker's default bind propagation on Linux. */
export const DEFAULT_PROPAGATION: Propagation = 'rprivate';

const propagationModes = new Set<string>(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const rwModes = new Set(['rw', 'ro']);
const labelModes = new Set(['z', 'Z']);
const consistencyModes = new Set(['consistent', 'cached', 'delegated']);

/** A host path bound into the container (`/src:/dst[:opts]`). */
export interface BindSpec {
  type: 'bind';
  /** Cleaned absolute host path. */
  source: string;
  /** Cleaned absolute container path. */
  destination: string;
  readOnly: boolean;
  /** Given propagation, else `rprivate`. */
  propagation: Propagation;
  /** The raw mode string after the second colon ("" if none). */
  mode: string;
}

/** A named (`name:/dst`) or anonymous (`/dst`) volume. */
export interface VolumeSpec {
  type: 'volume';
  /** Undefined for an anonymous volume (Docker generates a random 64-hex name). */
  name?: string;
  destination: string;
  readOnly: boolean;
  /** Copy image content into an empty volume on first use (false with `nocopy`). */
  copyData: boolean;
  mode: string;
}

export type MountSpec = BindSpec | VolumeSpec;

const invalidSpec = (raw: string) => `invalid volume specification: '${raw}'`;

// path.Clean for slash-separated paths.
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  let rw = 0;
  let label = 0;
  let prop = 0;
  let copy = 0;
  let consistency = 0;
  for (const o of mode.split(',')) {
    if (rwModes.has(o)) rw++;
    else if (labelModes.has(o)) label++;
    else if (propagationModes.has(o)) prop++;
    else if (o === 'nocopy') copy++;
    else if (consistencyModes.has(o)) consistency++;
    else return false;
  }
  return rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && consistency <= 1;
}

function validateMountTarget(type: 'bind' | 'volume', target: string): string | undefined {
  const t = target.replace(/\\/g, '/');
  if (cleanPath(t) === '/') return `invalid mount config for type "${type}": invalid specification: destination can't be '/'`;
  if (!t.startsWith('/')) return `invalid mount config for type "${type}": invalid mount path: '${t}' mount path must be absolute`;
  return undefined;
}

/**
 * Parses a `-v` / HostConfig.Binds entry like Docker's Linux parser (ParseMountRaw):
 * `/dst` (anonymous volume), `name:/dst[:mode]` (named volume: the source is not an absolute
 * path), `/src:/dst[:mode]` (bind). Mode is a comma list of at most one each of `ro|rw`, `z|Z`
 * (SELinux relabel, accepted and ignored), a propagation, `nocopy`, and a consistency
 * (`consistent|cached|delegated`, ignored on Linux).
 * Errors (InvalidArgumentError) use Docker's texts, e.g. `invalid volume specification: 'x'`,
 * `invalid mode: x`, and `invalid volume specification: '/a:b': invalid mount config for type
 * "bind": invalid mount path: 'b' mount path must be absolute`.
 * Bind sources are not checked for existence (Docker does not for -v either; it creates them).
 */
export function parseBind(raw: string): MountSpec {
  if ((raw.match(/:/g) ?? []).length > 2) throw new InvalidArgumentError(invalidSpec(raw));
  const arr = raw.split(':');
  if (arr[0] === '') throw new InvalidArgumentError(invalidSpec(raw));

  let source = '';
  let target: string;
  let mode = '';
  if (arr.length === 1) {
    target = arr[0];
  } else if (arr.length === 2) {
    // "/foo:rw" is a destination with a mode, which volumes cannot have.
    if (validMountMode(arr[1])) throw new InvalidArgumentError(invalidSpec(raw));
    source = arr[0];
    target = arr[1];
  } else {
    source = arr[0];
    target = arr[1];
    mode = arr[2];
  }
  if (!validMountMode(mode)) throw new InvalidArgumentError(`invalid mode: ${mode}`);

  const opts = mode === '' ? [] : mode.split(',');
  const readOnly = opts.includes('ro');
  const isBind = source.startsWith('/');
  const type = isBind ? 'bind' : 'volume';
  const nocopy = opts.includes('nocopy');

  const fail = (msg: string): never => {
    throw new InvalidArgumentError(`${invalidSpec(raw)}: ${msg}`);
  };
  if (target === '') fail(`invalid mount config for type "${type}": field Target must not be empty`);
  const targetErr = validateMountTarget(type, target);
  if (targetErr) fail(targetErr);

  const destination = cleanPath(target.replace(/\\/g, '/'));
  if (isBind) {
    // nocopy sets VolumeOptions, which a bind must not have.
    if (nocopy) fail('invalid mount config for type "bind": field VolumeOptions must not be specified');
    const propagation = (opts.find((o) => propagationModes.has(o)) as Propagation | undefined) ?? DEFAULT_PROPAGATION;
    return { type: 'bind', source: cleanPath(source), destination, readOnly, propagation, mode };
  }
  // Binds options (propagation) on a volume are rejected by Docker's validation.
  if (opts.some((o) => propagationModes.has(o))) {
    fail('invalid mount config for type "volume": field BindOptions must not be specified');
  }
  if (source === '' && readOnly) {
    fail('invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes');
  }
  const vol: VolumeSpec = { type: 'volume', destination, readOnly, copyData: !nocopy, mode };
  if (source !== '') vol.name = source;
  return vol;
}

/** A parsed `--tmpfs` entry. */
export interface TmpfsSpec {
  destination: string;
  /** The raw option string after the colon. */
  data: string;
  /** The options Docker puts on the spec mount: noexec,nosuid,nodev,rprivate merged with `data`. */
  options: string[];
}

/**
 * Parses `--tmpfs /path[:opts]` (the CLI splits at the first colon; the daemon checks the path).
 * Options are Docker's defaults `noexec,nosuid,nodev,rprivate` merged with the user's, later ones
 * winning per flag (`exec` clears `noexec`); sizes stay as given (`size=64m`) for the kernel.
 * Errors: `invalid specification: destination can't be '/'`, `invalid mount path: 'x' mount path
 * must be absolute`, `invalid tmpfs option ["x"]`.
 */
export function parseTmpfs(raw: string): TmpfsSpec {
  const i = raw.indexOf(':');
  const destination = i >= 0 ? raw.slice(0, i) : raw;
  const data = i >= 0 ? raw.slice(i + 1) : '';
  validateTmpfsDestination(destination);
  const base = ['noexec', 'nosuid', 'nodev', DEFAULT_PROPAGATION];
  return { destination, data, options: mergeTmpfsOptions(data === '' ? base : [...base, ...data.split(',')]) };
}

/** Docker's ValidateTmpfsMountDestination (InvalidArgumentError with Docker's text). */
export function validateTmpfsDestination(dest: string): void {
  const p = dest.replace(/\\/g, '/');
  if (cleanPath(p) === '/') throw new InvalidArgumentError("invalid specification: destination can't be '/'");
  if (!p.startsWith('/')) throw new InvalidArgumentError(`invalid mount path: '${p}' mount path must be absolute`);
}

// Flags that collide with each other (moby/sys/mount flags table): same key, last one wins.
const flagKeys: Record<string, string> = {
  ro: 'rdonly', rw: 'rdonly',
  suid: 'nosuid', nosuid: 'nosuid',
  dev: 'nodev', nodev: 'nodev',
  exec: 'noexec', noexec: 'noexec',
  sync: 'sync', async: 'sync',
  dirsync: 'dirsync',
  remount: 'remount',
  mand: 'mand', nomand: 'mand',
  atime: 'noatime', noatime: 'noatime',
  diratime: 'nodiratime', nodiratime: 'nodiratime',
  relatime: 'relatime', norelatime: 'relatime',
  strictatime: 'strictatime', nostrictatime: 'strictatime',
  // All propagation/bind flags share one key.
  bind: 'propagation', rbind: 'propagation', unbindable: 'propagation', runbindable: 'propagation',
  private: 'propagation', rprivate: 'propagation', shared: 'propagation', rshared: 'propagation',
  slave: 'propagation', rslave: 'propagation',
};
const tmpfsDataKeys = new Set(['', 'size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/**
 * moby/sys/mount MergeTmpfsOptions: removes duplicates keeping the LAST occurrence of each flag
 * family and each `key=value` key, in their original relative order; `defaults` is dropped.
 * Unknown options throw InvalidArgumentError `invalid tmpfs option ["x"]` (Go's %q of the split).
 */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const seenFlags = new Set<string>();
  const seenData = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const option = options[i];
    if (option === 'defaults') continue;
    const key = Object.prototype.hasOwnProperty.call(flagKeys, option) ? flagKeys[option] : undefined;
    if (key !== undefined) {
      if (!seenFlags.has(key)) {
        out.unshift(option);
        seenFlags.add(key);
      }
      continue;
    }
    const eq = option.indexOf('=');
    const parts = eq < 0 ? [option] : [option.slice(0, eq), option.slice(eq + 1)];
    if (parts.length !== 2 || !tmpfsDataKeys.has(parts[0])) {
      throw new InvalidArgumentError(`invalid tmpfs option ${goQuoteSlice(parts)}`);
    }
    if (!seenData.has(parts[0])) {
      out.unshift(option);
      seenData.add(parts[0]);
    }
  }
  return out;
}

const sizeRegex = /^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const binaryUnits: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
const decimalUnits: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

function parseSize(s: string, units: Record<string, number>): number {
  const m = sizeRegex.exec(s);
  if (!m) throw new InvalidArgumentError(`invalid size: '${s}'`);
  if (!/^\d+(\.\d+)?$/.test(m[1])) {
    throw new InvalidArgumentError(`strconv.ParseFloat: parsing "${m[1]}": invalid syntax`);
  }
  let size = Number(m[1]);
  const unit = (m[3] ?? '').toLowerCase();
  if (unit) size *= units[unit];
  return Math.trunc(size);
}

/**
 * go-units RAMInBytes, what Docker uses for -m, --memory-swap, --shm-size: binary units
 * (`64m` = 67108864, `1.5g`, `10KiB`, `512` bytes), case-insensitive, optional space, `b`/`ib`.
 * InvalidArgumentError `invalid size: 'x'` otherwise.
 */
export function parseBytes(s: string): number {
  return parseSize(s, binaryUnits);
}

/** go-units FromHumanSize: the same syntax with decimal units (`1k` = 1000). */
export function parseHumanSize(s: string): number {
  return parseSize(s, decimalUnits);
}
