import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { CallOptions } from '../../images/distribution/registry-client';
import { pluginNotFound } from '@drydock/plugins';
import { pluginInUseError, type VolumePluginUsage } from '../volume-usage';
import { applySettings, computePrivileges, initialSettings, interfaceCapability, validatePrivileges, type PluginPrivilege } from './plugin-config';
import { readFile, rm } from 'node:fs/promises';
import { extractInto } from '../../archives/tar-extract';
import { maybeGunzip, pluginReference, pushPlugin, type PluginFetcher, type PluginSource, type ProgressSink, type ResolvedPlugin } from './plugin-fetch';
import { parsePluginConfig } from './plugin-config';
import type { PluginRuntime } from './plugin-runtime';
import type { PluginRecord, PluginStore } from './plugin-store';
import { KeyedLock } from '../../containers/keyed-lock';


/** What a pull installed, and what it fetched (for dockerd's progress lines). */
export interface Pulled {
  plugin: PluginRecord;
  /** The manifest's digest. */
  digest: string;
  /** Its layers' digests. */
  layers: string[];
}

export interface PluginManagerOptions {
  /** Restart backoff of a plugin that died (as `--restart always`: doubling from this, capped at 1 min). */
  restartBackoffMs: number;
}

/**
 * Managed plugins, as dockerd's plugin.Manager: install (privileges, pull), enable, disable,
 * set, rm, and boot (every enabled plugin running and answering before user containers are
 * restarted). A plugin that dies while enabled is restarted with `--restart always`'s backoff.
 */
export class PluginManager {
  private readonly log: Logger;
  private readonly watched = new Set<string>();
  /** Plugins being disabled or removed: their exit is expected. */
  private readonly stopping = new Set<string>();
  private readonly locks = new KeyedLock();
  private closed = false;
  private usage?: VolumePluginUsage;

  constructor(
    private readonly store: PluginStore,
    private readonly fetcher: PluginFetcher,
    private readonly runtime: PluginRuntime,
    private readonly opts: PluginManagerOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'plugin-manager' });
  }

  /** The volume service answers whether a plugin backs volumes (it is built after the directory that needs us). */
  setVolumeUsage(u: VolumePluginUsage): void {
    this.usage = u;
  }

  /**
   * Boot: every enabled plugin runs (adopted when its task survived a supervisor restart) and
   * answers on its socket before this resolves, so restart policies find their plugins.
   */
  async boot(): Promise<void> {
    await this.store.load();
    // a crash between starting a plugin and recording it enabled (or the reverse for disable) leaves a task
    // the record does not want: stopped, as the record says
    await Promise.all(
      this.store.list().filter((r) => !r.Enabled).map(async (r) => {
        if (await this.runtime.running(r.Id).catch(() => false)) await this.stopPlugin(r).catch((err) => this.log.warn({ err, plugin: r.Name }, 'stray plugin task not stopped'));
      }),
    );
    await Promise.all(
      this.store.list().filter((r) => r.Enabled).map(async (r) => {
        try {
          if (await this.runtime.running(r.Id)) {
            this.log.info({ plugin: r.Name }, 'plugin adopted');
            this.watch(r.Id);
            if (await this.runtime.awaitSocket(r)) return;
          }
          await this.startAndCheck(r);
        } catch (err) {
          // dockerd leaves such a plugin disabled
          this.log.error({ err, plugin: r.Name }, 'plugin failed to start at boot; disabled');
          await this.store.save({ ...r, Enabled: false }).catch(() => undefined);
        }
      }),
    );
  }

  list(filters: { capability?: string[]; enabled?: string[] } = {}): PluginRecord[] {
    for (const v of filters.enabled ?? []) if (v !== 'true' && v !== 'false') throw new InvalidArgumentError(`Invalid filter 'enabled=[${v}]'`);
    return this.store.list().filter((r) => {
      if (filters.enabled?.length && !filters.enabled.includes(String(r.Enabled))) return false;
      if (filters.capability?.length) {
        const caps = r.Config.Interface.Types.map((t) => interfaceCapability(t).capability);
        if (!filters.capability.some((c) => caps.includes(c))) return false;
      }
      return true;
    });
  }

  /** dockerd's GetV2Plugin: a full name (normalized, `:latest` added) or an unambiguous id prefix. */
  find(refOrId: string): PluginRecord {
    let name: string | undefined;
    try {
      name = pluginReference(refOrId).name;
    } catch {
      name = undefined;
    }
    const all = this.store.list();
    const byName = all.find((r) => r.Name === name);
    if (byName) return byName;
    if (/^[a-f0-9]+$/.test(refOrId)) {
      const hits = all.filter((r) => r.Id.startsWith(refOrId));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1) throw new InvalidArgumentError(`multiple plugins found for "${refOrId}"`);
    }
    throw pluginNotFound(refOrId);
  }

  async privileges(remote: string, o: CallOptions): Promise<PluginPrivilege[]> {
    return computePrivileges((await this.fetcher.resolve(remote, o)).config);
  }

  /**
   * POST /plugins/pull: the granted privileges must be what the config needs; installed disabled.
   * Progress goes to `emit` as the layers arrive; nothing is emitted before the checks that
   * dockerd answers as HTTP errors (already exists, privileges, unknown manifest) have passed.
   */
  async pull(remote: string, alias: string | undefined, granted: PluginPrivilege[], o: CallOptions, emit: ProgressSink = () => undefined): Promise<Pulled> {
    const name = alias ? pluginReference(alias).name : pluginReference(remote).name;
    if (this.store.list().some((r) => r.Name === name)) throw new AlreadyExistsError(`plugin ${name} already exists`);
    const p = await this.fetcher.resolve(remote, o);
    validatePrivileges(computePrivileges(p.config), granted);
    return this.locked(name, async () => {
      if (this.store.list().some((r) => r.Name === name)) throw new AlreadyExistsError(`plugin ${name} already exists`);
      const staged = await this.store.stage();
      try {
        await this.fetchInto(p, staged.rootfs, o, emit);
        const r: PluginRecord = { Id: randomBytes(32).toString('hex'), Name: name, Enabled: false, Settings: initialSettings(p.config), PluginReference: p.name, Config: p.config };
        await staged.commit(r);
        emit({ id: '', status: `Status: Downloaded newer image for ${name}` });
        this.log.info({ plugin: name, id: r.Id }, 'plugin installed');
        return { plugin: r, digest: p.digest, layers: p.layers.map((l) => l.digest) };
      } catch (err) {
        await staged.abort();
        throw err;
      }
    });
  }

  async set(refOrId: string, args: string[]): Promise<void> {
    const r = this.find(refOrId);
    await this.locked(r.Id, async () => {
      const cur = this.store.byId(r.Id)!;
      if (cur.Enabled) throw new FailedPreconditionError('cannot set on an active plugin, disable plugin before setting');
      await this.store.save({ ...cur, Settings: applySettings(cur.Config, cur.Settings, args) });
    });
  }

  async enable(refOrId: string): Promise<void> {
    const r = this.find(refOrId);
    await this.locked(r.Id, async () => {
      const cur = this.store.byId(r.Id)!;
      if (cur.Enabled) throw new FailedPreconditionError(`plugin ${cur.Name} is already enabled`);
      await this.startAndCheck(cur);
    });
  }

  async disable(refOrId: string, force: boolean): Promise<void> {
    const r = this.find(refOrId);
    await this.locked(r.Id, async () => {
      const cur = this.store.byId(r.Id)!;
      if (!force && (await this.usage?.inUse(cur.Name))) throw pluginInUseError(cur.Name);
      if (!cur.Enabled) throw new FailedPreconditionError(`plugin ${cur.Name} is already disabled`);
      await this.stopPlugin(cur);
      await this.store.save({ ...cur, Enabled: false });
    });
  }

  async remove(refOrId: string, force: boolean): Promise<void> {
    const r = this.find(refOrId);
    await this.locked(r.Id, async () => {
      const cur = this.store.byId(r.Id)!;
      if (!force) {
        if (await this.usage?.inUse(cur.Name)) throw pluginInUseError(cur.Name);
        if (cur.Enabled) throw new FailedPreconditionError(`plugin ${cur.Name} is enabled`);
      }
      if (cur.Enabled) await this.stopPlugin(cur);
      await this.store.remove(cur.Id);
      this.log.info({ plugin: cur.Name }, 'plugin removed');
    });
  }

  /**
   * dockerd's Upgrade: a disabled plugin's rootfs and config replaced by `remote`'s (staged, then
   * swapped whole); id, name and settings kept.
   */
  async upgrade(refOrId: string, remote: string, granted: PluginPrivilege[], o: CallOptions, emit: ProgressSink = () => undefined): Promise<{ digest: string; layers: string[] }> {
    const r = this.find(refOrId);
    if (r.Enabled) throw new FailedPreconditionError(`plugin must be disabled before upgrading: plugin ${r.Name} is enabled`);
    const p = await this.fetcher.resolve(remote, o);
    validatePrivileges(computePrivileges(p.config), granted);
    await this.locked(r.Id, async () => {
      const cur = this.store.byId(r.Id)!;
      if (cur.Enabled) throw new FailedPreconditionError(`plugin must be disabled before upgrading: plugin ${cur.Name} is enabled`);
      const staged = await this.store.stage();
      try {
        await this.fetchInto(p, staged.rootfs, o, emit);
        await this.store.replace({ ...cur, Config: p.config, PluginReference: p.name }, staged);
        emit({ id: '', status: `Status: Downloaded newer image for ${cur.Name}` });
      } catch (err) {
        await staged.abort();
        throw err;
      }
    });
    return { digest: p.digest, layers: p.layers.map((l) => l.digest) };
  }

  /** dockerd's Push: the plugin under its own name (a registry reference). */
  async push(refOrId: string, registry: PluginSource, o: CallOptions & { gzipLevel: number }, emit?: ProgressSink): Promise<{ digest: string; size: number }> {
    const r = this.find(refOrId);
    return pushPlugin(registry, r.Name, r.Config, this.store.rootfs(r.Id), o, emit);
  }

  /** dockerd's CreateFromContext: a tar of config.json and rootfs/ installed (disabled) as `name`. */
  async create(name: string, tar: AsyncIterable<Buffer>): Promise<PluginRecord> {
    const n = pluginReference(name).name;
    if (pluginReference(name).ref.digest) throw new InvalidArgumentError('canonical references are not permitted');
    return this.locked(n, async () => {
      if (this.store.list().some((x) => x.Name === n)) throw new AlreadyExistsError(`plugin ${n} already exists`);
      const staged = await this.store.stage();
      try {
        await extractInto(staged.dir, '/', maybeGunzip(tar), { noOverwriteDirNonDir: false, copyUidGid: true });
        let raw: Buffer;
        try {
          raw = await readFile(`${staged.dir}/config.json`);
        } catch {
          // dockerd's text when the context has no config.json
          throw new InvalidArgumentError('config not found');
        }
        const config = parsePluginConfig(raw);
        await rm(`${staged.dir}/config.json`);
        const r: PluginRecord = { Id: randomBytes(32).toString('hex'), Name: n, Enabled: false, Settings: initialSettings(config), PluginReference: '', Config: config };
        await staged.commit(r);
        return r;
      } catch (err) {
        await staged.abort();
        throw err;
      }
    });
  }

  /** An installed plugin's record (the directory's view), undefined when there is none. */
  lookup(refOrId: string): PluginRecord | undefined {
    try {
      return this.find(refOrId);
    } catch {
      return undefined;
    }
  }

  enabled(): PluginRecord[] {
    return this.store.list().filter((r) => r.Enabled);
  }

  /** Stops watching; running plugins keep running (a supervisor restart adopts them). */
  close(): void {
    this.closed = true;
  }

  /**
   * dockerd's plugin fetch messages (plugin/fetch_linux.go withFetchProgress): the manifest's
   * "Pulling from" and "Digest:", then the layers' progress; the caller says "Status:" once
   * the plugin is committed.
   */
  private async fetchInto(p: ResolvedPlugin, rootfs: string, o: CallOptions, emit: ProgressSink): Promise<void> {
    emit({ id: p.ref.tag ?? 'latest', status: `Pulling from ${p.ref.familiarName}` });
    emit({ id: '', status: `Digest: ${p.digest}` });
    await this.fetcher.unpack(p, rootfs, o, emit);
  }

  private async startAndCheck(r: PluginRecord): Promise<void> {
    await this.runtime.start(r, this.store.rootfs(r.Id), this.store.propagatedMount(r.Id), this.store.logFile(r.Id));
    if (!(await this.runtime.awaitSocket(r))) {
      await this.stopPlugin(r);
      await this.store.save({ ...r, Enabled: false });
      throw new UnavailableError(`plugin ${r.Name} did not create its socket ${r.Config.Interface.Socket} in time; it was left disabled`);
    }
    await this.store.save({ ...r, Enabled: true });
    this.watch(r.Id);
    this.log.info({ plugin: r.Name }, 'plugin enabled');
  }

  private async stopPlugin(r: PluginRecord): Promise<void> {
    this.stopping.add(r.Id);
    try {
      await this.runtime.stop(r.Id);
    } finally {
      this.stopping.delete(r.Id);
    }
  }

  /** Follows the plugin's task; an exit nobody asked for restarts it, doubling the wait each time. */
  private watch(id: string): void {
    if (this.watched.has(id)) return;
    this.watched.add(id);
    void (async () => {
      let backoff = this.opts.restartBackoffMs;
      try {
        for (;;) {
          const status = await this.runtime.wait(id);
          if (this.closed || this.stopping.has(id)) return;
          const r = this.store.byId(id);
          if (!r || !r.Enabled) return;
          this.log.warn({ plugin: r.Name, status }, 'plugin exited; restarting');
          await new Promise((res) => setTimeout(res, backoff));
          backoff = Math.min(backoff * 2, 60_000);
          if (this.closed || this.stopping.has(id)) return;
          await this.locked(id, async () => {
            const cur = this.store.byId(id);
            if (!cur || !cur.Enabled || this.stopping.has(id)) return;
            await this.runtime.start(cur, this.store.rootfs(id), this.store.propagatedMount(id), this.store.logFile(id));
            if (await this.runtime.awaitSocket(cur)) backoff = this.opts.restartBackoffMs;
          }).catch((err) => this.log.error({ err, plugin: r.Name }, 'plugin restart failed'));
        }
      } finally {
        this.watched.delete(id);
      }
    })();
  }

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(key, fn);
  }
}
