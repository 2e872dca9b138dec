import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@drydock/logging';
import type { ContainerLifecycleHook, HookContainer, RunSpecPatch } from '../containers/lifecycle-hooks';

/** The part of the volume service a run needs. */
export interface PluginVolumeMounter {
  mount(name: string, driver: string, containerId: string): Promise<string>;
  unmount(name: string, driver: string, containerId: string): Promise<void>;
}

interface Mounted {
  name: string;
  driver: string;
  target: string;
}

/** A plugin volume mount of a container record (a local one has driver "" or "local"). */
export function pluginMounts(c: HookContainer): Mounted[] {
  return (c.spec.hostConfig.mounts ?? [])
    .filter((m) => m.type === 'volume' && !!m.driver && m.driver !== 'local')
    .map((m) => ({ name: m.source ?? '', driver: m.driver!, target: m.target ?? '' }));
}

/**
 * Plugin volumes join the container lifecycle as networking does: VolumeDriver.Mount with the
 * container's id before each run's spec is written (the bind source is the path the plugin
 * answers), Unmount after the run ends or its start fails. What is mounted is written down
 * before Mount is called (<dir>/<container id>.json), so a supervisor that crashed or
 * restarted still unmounts, and a second release does nothing.
 */
export class PluginVolumeHook implements ContainerLifecycleHook {
  readonly name = 'plugin-volumes';
  private readonly log: Logger;

  constructor(
    private readonly volumes: PluginVolumeMounter,
    private readonly dir: string,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'plugin-volume-hook' });
  }

  async runSpec(c: HookContainer): Promise<RunSpecPatch | undefined> {
    const mounts = pluginMounts(c);
    // containers without plugin volumes never touch a plugin or this hook's files
    if (mounts.length === 0) return undefined;
    // a run whose release never came (a crash between mount and exit): unmount it first
    await this.release(c);
    await this.write(c.id, mounts);
    const sources: Record<string, string> = {};
    const done: Mounted[] = [];
    try {
      for (const m of mounts) {
        sources[m.target] = await this.volumes.mount(m.name, m.driver, c.id);
        done.push(m);
      }
    } catch (err) {
      await this.unmountAll(c.id, done);
      await rm(this.file(c.id), { force: true });
      throw err;
    }
    return { mountSources: sources };
  }

  async release(c: HookContainer): Promise<void> {
    const mounted = await this.read(c.id);
    if (!mounted) return;
    await this.unmountAll(c.id, mounted);
    await rm(this.file(c.id), { force: true });
  }

  private async unmountAll(id: string, mounts: Mounted[]): Promise<void> {
    // one after another, in reverse: a stuck plugin holds only this container's release, to its deadline
    for (const m of [...mounts].reverse()) {
      await this.volumes.unmount(m.name, m.driver, id).catch((err) => this.log.warn({ err, containerId: id, volume: m.name, driver: m.driver }, 'plugin volume unmount failed'));
    }
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  private async read(id: string): Promise<Mounted[] | undefined> {
    try {
      return JSON.parse(await readFile(this.file(id), 'utf8')) as Mounted[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.log.warn({ err, containerId: id }, 'unreadable plugin volume mount record');
      return undefined;
    }
  }

  private async write(id: string, mounts: Mounted[]): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(id)}.tmp`;
    await writeFile(tmp, JSON.stringify(mounts), { mode: 0o600 });
    await rename(tmp, this.file(id));
  }
}
