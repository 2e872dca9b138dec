import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@drydock/logging';
import type { PluginConfig, PluginSettings } from './plugin-config';

/** One installed plugin: types.Plugin as dockerd answers it, plus where it came from. */
export interface PluginRecord {
  Id: string;
  /** `name:tag` (dockerd's p.Name()). */
  Name: string;
  Enabled: boolean;
  Settings: PluginSettings;
  /** The reference it was pulled from (the alias may differ). */
  PluginReference: string;
  Config: PluginConfig;
}

/**
 * Installed plugins on disk, as dockerd keeps /var/lib/docker/plugins/<id>/: a record
 * (plugin.json) and the unpacked rootfs beside it. An install is staged in `.staging/` and
 * renamed into place whole, so a failure at any point leaves nothing half-installed; record
 * updates are write-then-rename.
 */
export class PluginStore {
  private readonly records = new Map<string, PluginRecord>();
  private readonly log: Logger;

  constructor(
    readonly root: string,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'plugin-store' });
  }

  async load(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    // staging left by a crash mid-install is not a plugin
    await rm(join(this.root, '.staging'), { recursive: true, force: true });
    for (const id of await readdir(this.root)) {
      if (id.startsWith('.')) continue;
      try {
        const r = JSON.parse(await readFile(join(this.root, id, 'plugin.json'), 'utf8')) as PluginRecord;
        this.records.set(r.Id, r);
      } catch (err) {
        this.log.warn({ err, id }, 'plugin record unreadable; left out');
      }
    }
  }

  list(): PluginRecord[] {
    return [...this.records.values()];
  }

  byId(id: string): PluginRecord | undefined {
    return this.records.get(id);
  }

  rootfs(id: string): string {
    return join(this.root, id, 'rootfs');
  }

  /** The plugin's stdout and stderr (appended by the shim; kept across restarts, gone with the plugin). */
  logFile(id: string): string {
    return join(this.root, id, 'plugin.log');
  }

  propagatedMount(id: string): string {
    return join(this.root, id, 'propagated-mount');
  }

  /** A fresh staging directory (with rootfs/) for an install; `commit` or `abort` it. */
  async stage(): Promise<Staging> {
    const dir = join(this.root, '.staging', randomBytes(8).toString('hex'));
    await mkdir(join(dir, 'rootfs'), { recursive: true });
    return {
      dir,
      rootfs: join(dir, 'rootfs'),
      commit: async (r) => {
        await writeFile(join(dir, 'plugin.json'), JSON.stringify(r));
        await rename(dir, join(this.root, r.Id));
        this.records.set(r.Id, r);
      },
      abort: () => rm(dir, { recursive: true, force: true }).catch(() => undefined),
    };
  }

  /** Replaces a record (enable state, settings, name). */
  async save(r: PluginRecord): Promise<void> {
    const file = join(this.root, r.Id, 'plugin.json');
    await writeFile(`${file}.tmp`, JSON.stringify(r));
    await rename(`${file}.tmp`, file);
    this.records.set(r.Id, r);
  }

  /** Swaps a plugin's rootfs and config for a staged one (upgrade), keeping its id. */
  async replace(r: PluginRecord, staged: Staging): Promise<void> {
    const dir = join(this.root, r.Id);
    const old = join(this.root, '.staging', `old-${randomBytes(6).toString('hex')}`);
    await writeFile(join(staged.dir, 'plugin.json'), JSON.stringify(r));
    await rename(dir, old);
    await rename(staged.dir, dir);
    this.records.set(r.Id, r);
    await rm(old, { recursive: true, force: true });
  }

  async remove(id: string): Promise<void> {
    const dir = join(this.root, id);
    // out of the way first: a crash mid-delete leaves staging, cleared at load
    const gone = join(this.root, '.staging', `rm-${id}`);
    await mkdir(join(this.root, '.staging'), { recursive: true });
    await rename(dir, gone);
    this.records.delete(id);
    await rm(gone, { recursive: true, force: true });
  }
}

export interface Staging {
  dir: string;
  rootfs: string;
  commit(r: PluginRecord): Promise<void>;
  abort(): Promise<void>;
}
