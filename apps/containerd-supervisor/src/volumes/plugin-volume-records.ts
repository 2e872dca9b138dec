import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What this node knows of a plugin's volume (dockerd keeps the same in volumes/metadata.db). */
export interface PluginVolumeRecord {
  name: string;
  driver: string;
  /** RFC 3339. */
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * One JSON file per plugin volume, written atomically (temp file + rename). These records are
 * what lets `-v name:/path`, `docker ps` and local-only calls know a volume's driver without
 * asking any plugin, and what `volume ls` shows for a plugin that does not answer.
 */
export class PluginVolumeRecords {
  constructor(readonly dir: string) {}

  async get(name: string): Promise<PluginVolumeRecord | undefined> {
    if (!NAME_RE.test(name)) return undefined;
    try {
      return JSON.parse(await readFile(join(this.dir, `${name}.json`), 'utf8')) as PluginVolumeRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(): Promise<PluginVolumeRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: PluginVolumeRecord[] = [];
    for (const n of names.sort()) {
      if (!n.endsWith('.json')) continue;
      const r = await this.get(n.slice(0, -5));
      if (r) out.push(r);
    }
    return out;
  }

  async put(r: PluginVolumeRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const final = join(this.dir, `${r.name}.json`);
    const tmp = `${final}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(r), { mode: 0o600 });
    await rename(tmp, final);
  }

  async remove(name: string): Promise<void> {
    if (NAME_RE.test(name)) await rm(join(this.dir, `${name}.json`), { force: true });
  }
}
