import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, NotImplementedError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { KeyedLock } from '../containers/keyed-lock';

/** A named volume (Docker's `docker volume inspect` fields); VolumeStore makes the local ones. */
export interface VolumeInfo {
  name: string;
  /** "local" or a volume plugin's name. */
  driver: string;
  /** Host directory holding the data: `<root>/<name>/_data` for a local volume, the plugin's path otherwise. */
  mountpoint: string;
  /** RFC 3339. */
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** "local", or "global" for a plugin whose Capabilities say so. */
  scope: string;
  /** A plugin volume's Status (VolumeDriver.Get). */
  status?: Record<string, unknown>;
}

export interface CreateVolumeOptions {
  name?: string;
  driver?: string;
  driverOpts?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface VolumeFilter {
  key: string;
  values: string[];
}

/** Who uses a volume: ids of the containers mounting it (the container manager knows). */
export type VolumeUsers = (name: string) => string[];

/** What opts.json holds next to `_data`. */
interface VolumeMeta {
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker 20.10's text for a bad local volume name. */
export function validateVolumeName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new InvalidArgumentError(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/**
 * Local named volumes (driver "local") under `<root>/<name>/_data`, with their
 * metadata in `<root>/<name>/opts.json` (written atomically: temp file + rename,
 * so a crash never leaves a half-written one). The directory is the source of
 * truth: a volume exists iff its `_data` exists. Usage (RefCount, "in use") is
 * not stored: callers pass who uses a volume, computed from the containers.
 */
export class VolumeStore {
  private readonly lock = new KeyedLock();
  private readonly log: Logger;

  constructor(
    readonly root: string,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'volume-store' });
  }

  dataPath(name: string): string {
    return join(this.root, name, '_data');
  }

  /** `docker volume create`: idempotent for an existing name (returns that volume, as Docker does). */
  async create(opts: CreateVolumeOptions): Promise<{ volume: VolumeInfo; created: boolean }> {
    const driver = opts.driver || 'local';
    if (driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    for (const k of Object.keys(opts.driverOpts ?? {})) {
      if (!['type', 'o', 'device'].includes(k)) throw new InvalidArgumentError(`invalid option key: "${k}"`);
    }
    if (Object.keys(opts.driverOpts ?? {}).length > 0) {
      // The local driver would mount `device` with `type`/`o`: not done on this node yet.
      throw new NotImplementedError('local volume driver options (type, o, device) are not supported on this node yet');
    }
    const name = opts.name || randomBytes(32).toString('hex');
    validateVolumeName(name);
    return this.lock.run(name, async () => {
      const existing = await this.read(name);
      if (existing) return { volume: existing, created: false };
      const meta: VolumeMeta = { createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), labels: opts.labels ?? {}, options: opts.driverOpts ?? {} };
      await mkdir(this.dataPath(name), { recursive: true, mode: 0o755 });
      await this.writeMeta(name, meta);
      this.log.info({ volume: name }, 'volume created');
      return { volume: this.info(name, meta), created: true };
    });
  }

  /** The volume, created if missing (a container's `-v name:/path`). */
  ensure(name: string): Promise<{ volume: VolumeInfo; created: boolean }> {
    return this.create({ name });
  }

  /** The local volume, undefined when there is none. */
  find(name: string): Promise<VolumeInfo | undefined> {
    return NAME_RE.test(name) ? this.read(name) : Promise.resolve(undefined);
  }

  async get(name: string): Promise<VolumeInfo> {
    const v = NAME_RE.test(name) ? await this.read(name) : undefined;
    if (!v) throw new NotFoundError(`get ${name}: no such volume`);
    return v;
  }

  async list(): Promise<VolumeInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: VolumeInfo[] = [];
    for (const n of names.sort()) {
      if (!NAME_RE.test(n)) continue;
      const v = await this.read(n);
      if (v) out.push(v);
    }
    return out;
  }

  /** `docker volume ls` filters: name, label, dangling, driver (Docker's texts for bad ones). */
  async listFiltered(filters: VolumeFilter[], users: VolumeUsers): Promise<VolumeInfo[]> {
    const pred = volumeFilter(filters, ['name', 'label', 'dangling', 'driver']);
    return (await this.list()).filter((v) => pred(v, users(v.name).length > 0));
  }

  /**
   * `docker volume rm`: refused while a container uses it (force does not
   * override that in Docker 20.10; it only ignores a missing volume).
   */
  async remove(name: string, users: VolumeUsers, force = false): Promise<void> {
    await this.lock.run(name, async () => {
      const v = NAME_RE.test(name) ? await this.read(name) : undefined;
      if (!v) {
        if (force) return;
        throw new NotFoundError(`get ${name}: no such volume`);
      }
      const using = users(name);
      if (using.length > 0) throw new FailedPreconditionError(`remove ${name}: volume is in use - [${using.join(', ')}]`);
      await this.removeDir(name);
    });
  }

  /** `docker volume prune` (20.10: every unused local volume matching the label filters). */
  async prune(filters: VolumeFilter[], users: VolumeUsers): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const pred = volumeFilter(filters, ['label', 'label!']);
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const v of await this.list()) {
      if (!pred(v, false)) continue;
      await this.lock.run(v.name, async () => {
        if (users(v.name).length > 0) return;
        const size = await dirSize(this.dataPath(v.name));
        await this.removeDir(v.name);
        deleted.push(v.name);
        spaceReclaimed += size;
      });
    }
    return { deleted, spaceReclaimed };
  }

  /** Bytes of regular files in the volume (hard links counted once), as Docker's system df. */
  size(name: string): Promise<number> {
    return dirSize(this.dataPath(name));
  }

  /** Whether the volume's data directory is empty (copy-up of image content applies only then). */
  async isEmpty(name: string): Promise<boolean> {
    return (await readdir(this.dataPath(name))).length === 0;
  }

  private async removeDir(name: string): Promise<void> {
    // Rename first so a crash mid-delete never leaves a half-deleted volume that still looks valid.
    const trash = join(this.root, `.rm-${name}-${randomBytes(4).toString('hex')}`);
    await rename(join(this.root, name), trash);
    await rm(trash, { recursive: true, force: true });
    this.log.info({ volume: name }, 'volume removed');
  }

  private async read(name: string): Promise<VolumeInfo | undefined> {
    try {
      const st = await lstat(this.dataPath(name));
      if (!st.isDirectory()) return undefined;
      let meta: VolumeMeta;
      try {
        meta = JSON.parse(await readFile(join(this.root, name, 'opts.json'), 'utf8')) as VolumeMeta;
      } catch {
        // created by an older supervisor (plain mkdir): derive what we can
        meta = { createdAt: st.birthtime.toISOString().replace(/\.\d+Z$/, 'Z'), labels: {}, options: {} };
      }
      return this.info(name, meta);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private info(name: string, meta: VolumeMeta): VolumeInfo {
    return { name, driver: 'local', mountpoint: this.dataPath(name), createdAt: meta.createdAt, labels: meta.labels ?? {}, options: meta.options ?? {}, scope: 'local' };
  }

  private async writeMeta(name: string, meta: VolumeMeta): Promise<void> {
    const final = join(this.root, name, 'opts.json');
    const tmp = `${final}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(meta), { mode: 0o600 });
    await rename(tmp, final);
  }
}

/**
 * Docker's volume filters. `name` and `driver` are regular expressions matched
 * anywhere (filters.Match), `label` is `key` or `key=value`, `dangling` a boolean.
 */
export function volumeFilter(filters: VolumeFilter[], allowed: string[]): (v: VolumeInfo, inUse: boolean) => boolean {
  const checks: ((v: VolumeInfo, inUse: boolean) => boolean)[] = [];
  for (const f of filters) {
    if (!allowed.includes(f.key)) throw new InvalidArgumentError(`Invalid filter '${f.key}'`);
    const values = f.values;
    if (values.length === 0) continue;
    switch (f.key) {
      case 'name':
        checks.push((v) => values.some((x) => regexMatch(x, v.name)));
        break;
      case 'driver':
        checks.push((v) => values.some((x) => regexMatch(x, v.driver)));
        break;
      case 'label':
        checks.push((v) => values.every((x) => labelMatch(x, v.labels)));
        break;
      case 'label!':
        checks.push((v) => !values.some((x) => labelMatch(x, v.labels)));
        break;
      case 'dangling': {
        const want = values.map((x) => x.toLowerCase());
        for (const w of want) if (!['true', 'false', '1', '0'].includes(w)) throw new InvalidArgumentError(`Invalid filter 'dangling=${w}'`);
        checks.push((_v, inUse) => want.some((w) => (w === 'true' || w === '1' ? !inUse : inUse)));
        break;
      }
      default:
        break;
    }
  }
  return (v, inUse) => checks.every((c) => c(v, inUse));
}

function regexMatch(pattern: string, s: string): boolean {
  try {
    return new RegExp(pattern).test(s);
  } catch {
    return s.includes(pattern);
  }
}

function labelMatch(spec: string, labels: Record<string, string>): boolean {
  const i = spec.indexOf('=');
  if (i < 0) return spec in labels;
  return labels[spec.slice(0, i)] === spec.slice(i + 1);
}

/** Sum of regular file sizes under dir (hard links once); 0 for a missing dir. */
export async function dirSize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (p: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw err;
    }
    for (const n of names) {
      const child = join(p, n);
      let st;
      try {
        st = await lstat(child);
      } catch {
        continue; // vanished meanwhile
      }
      if (st.isDirectory()) await walk(child);
      else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1) {
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += st.size;
      }
    }
  };
  await walk(dir);
  return total;
}
