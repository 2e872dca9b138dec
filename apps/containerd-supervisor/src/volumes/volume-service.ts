import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, DrydockError, InternalError, NotFoundError, FailedPreconditionError, errorCode, errorFromCode } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { KeyedLock } from '../containers/keyed-lock';
import type { VolumeOps } from '../containers/ports';
import type { VolumeDriverAdapter } from '../plugins/volume-driver';
import type { VolumeDrivers } from '../plugins/volume-drivers';
import type { VolumePluginUsage } from '../plugins/volume-usage';
import type { PluginVolumeRecord, PluginVolumeRecords } from './plugin-volume-records';
import { validateVolumeName, volumeFilter, type CreateVolumeOptions, type VolumeFilter, type VolumeInfo, type VolumeStore, type VolumeUsers } from './volume-store';

export interface VolumeServiceOptions {
  /**
   * How long `volume ls`, `volume inspect` of an unknown name, `volume prune` and `docker info`
   * wait for volume plugins. A plugin still silent then is named in Warnings and its volumes
   * are listed from this node's records (dockerd waits for each plugin's 1-minute deadline).
   */
  listBudgetMs: number;
}

const isLocal = (driver: string | undefined) => !driver || driver === 'local';
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** An error with `prefix: ` before its text, keeping its class (dockerd's OpErr). */
function opError(prefix: string, err: unknown): DrydockError {
  const msg = `${prefix}: ${err instanceof Error ? err.message : String(err)}`;
  return err instanceof DrydockError ? errorFromCode(errorCode(err), msg, err) : new InternalError(msg, { cause: err });
}

/** dockerd's errNameConflict text (volume/service/store.go checkConflict), a conflict (409). */
function nameConflict(name: string, hasDriver: string): AlreadyExistsError {
  return new AlreadyExistsError(`create ${name}: driver '${hasDriver}' already has volume '${name}': volume name must be unique`);
}

class BudgetExceeded extends Error {}

/** Settles with `p`, or rejects with BudgetExceeded after `ms` (p keeps running to its own deadline). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => (t = setTimeout(() => rej(new BudgetExceeded()), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/**
 * The node's volumes: local ones (VolumeStore) and volume plugins' ones, merged as dockerd's
 * volume service merges its drivers. Local calls never ask a plugin; a call that needs a
 * plugin waits for that plugin only, within its deadline.
 */
export class VolumeService implements VolumePluginUsage, VolumeOps {
  private readonly lock = new KeyedLock();
  private readonly log: Logger;

  constructor(
    readonly local: VolumeStore,
    private readonly records: PluginVolumeRecords,
    private readonly drivers: VolumeDrivers,
    private readonly opts: VolumeServiceOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'volume-service' });
  }

  /** `docker volume create [-d DRIVER]`: idempotent for a name the same driver has. */
  async create(opts: CreateVolumeOptions): Promise<VolumeInfo> {
    const driver = opts.driver || '';
    const name = opts.name || randomBytes(32).toString('hex');
    validateVolumeName(name);
    return this.lock.run(name, async () => {
      const rec = await this.records.get(name);
      if (isLocal(driver)) {
        if (rec) {
          // no driver asked: the existing volume, whoever has it (dockerd's create with driver "")
          if (!driver) return this.view(rec);
          throw nameConflict(name, rec.driver);
        }
        return (await this.local.create({ ...opts, name })).volume;
      }
      if (await this.local.find(name)) throw nameConflict(name, 'local');
      // a managed plugin answers under its full name (`x/p:latest` for `-d x/p`), which the record keeps, as dockerd's
      if (rec && rec.driver === driver) return this.view(rec);
      const d = await this.drivers.get(driver).catch((err) => {
        throw opError(`create ${name}`, err);
      });
      if (rec) {
        if (rec.driver !== d.name) throw nameConflict(name, rec.driver);
        return this.view(rec);
      }
      // dockerd asks Get first: a volume the plugin already has (made elsewhere) is adopted
      const existing = await d.get(name).catch(() => undefined);
      if (!existing) await d.create(name, opts.driverOpts ?? {}).catch((err) => {
        throw opError(`create ${name}`, err);
      });
      const record: PluginVolumeRecord = { name, driver: d.name, createdAt: existing?.createdAt ?? now(), labels: opts.labels ?? {}, options: opts.driverOpts ?? {} };
      await this.records.put(record);
      this.log.info({ volume: name, driver: d.name }, 'plugin volume created');
      const mountpoint = existing?.mountpoint || (await d.path(name).catch(() => ''));
      return { ...this.base(record), mountpoint, scope: await d.scope() };
    });
  }

  /** `docker volume inspect`. */
  async get(name: string): Promise<VolumeInfo> {
    const v = await this.local.find(name);
    if (v) return v;
    const rec = await this.records.get(name);
    if (rec) return this.view(rec);
    // a plugin's volume this node has no record of (made on another engine, a global plugin)
    const found = await this.askAll((d) => d.get(name).then((pv) => (pv ? { d, pv } : undefined))).catch(() => []);
    const hit = found.find((x) => x);
    if (!hit) throw new NotFoundError(`get ${name}: no such volume`);
    return { name, driver: hit.d.name, mountpoint: hit.pv.mountpoint, createdAt: hit.pv.createdAt ?? '', labels: {}, options: {}, scope: await hit.d.scope(), status: hit.pv.status };
  }

  /**
   * `docker volume ls`: local volumes, then each plugin's List. A plugin that fails or is still
   * silent after the budget gets a Warnings entry, and its volumes come from the records.
   */
  async list(filters: VolumeFilter[], users: VolumeUsers): Promise<{ volumes: VolumeInfo[]; warnings: string[] }> {
    const pred = volumeFilter(filters, ['name', 'label', 'dangling', 'driver']);
    const records = await this.records.list();
    const byName = new Map(records.map((r) => [r.name, r]));
    const out: VolumeInfo[] = await this.local.list();
    const warnings: string[] = [];
    const answered = new Set<string>();
    const deadline = performance.now() + this.opts.listBudgetMs;
    let drivers: VolumeDriverAdapter[] | undefined;
    try {
      drivers = await within(this.drivers.all(), this.opts.listBudgetMs);
    } catch (err) {
      if (!(err instanceof BudgetExceeded)) throw err;
      warnings.push(`list: volume plugins did not answer within ${this.opts.listBudgetMs / 1000} s`);
    }
    await Promise.all(
      (drivers ?? []).map(async (d) => {
        try {
          const [vols, scope] = await within(Promise.all([d.list(), d.scope()]), Math.max(0, deadline - performance.now()));
          for (const pv of vols) {
            const rec = byName.get(pv.name);
            out.push({ name: pv.name, driver: d.name, mountpoint: pv.mountpoint, createdAt: rec?.createdAt ?? pv.createdAt ?? '', labels: rec?.labels ?? {}, options: rec?.options ?? {}, scope, status: pv.status });
          }
          answered.add(d.name);
        } catch (err) {
          const why = err instanceof BudgetExceeded ? `plugin "${d.name}" did not answer within ${this.opts.listBudgetMs / 1000} s` : (err as Error).message;
          warnings.push(`list ${d.name}: ${why}`);
        }
      }),
    );
    // dockerd lists a bad driver's stored volumes; a plugin gone from the host is one too
    const found = new Set((drivers ?? []).map((d) => d.name));
    for (const drv of new Set(records.map((r) => r.driver))) {
      if (answered.has(drv)) continue;
      if (drivers && !found.has(drv)) warnings.push(`list ${drv}: error looking up volume plugin ${drv}: plugin "${drv}" not found`);
      for (const r of records) if (r.driver === drv) out.push({ ...this.base(r), mountpoint: '' });
    }
    const seen = new Set<string>();
    const volumes = out.filter((v) => !seen.has(`${v.driver}/${v.name}`) && !!seen.add(`${v.driver}/${v.name}`) && pred(v, users(v.name).length > 0));
    return { volumes, warnings: warnings.sort() };
  }

  /** `docker volume rm [-f]`: refused while a container uses it; -f forgets a plugin volume whose plugin fails. */
  async remove(name: string, users: VolumeUsers, force = false): Promise<void> {
    if (await this.local.find(name)) return this.local.remove(name, users, force);
    await this.lock.run(name, async () => {
      const rec = await this.records.get(name);
      if (!rec) {
        if (force) return;
        throw new NotFoundError(`get ${name}: no such volume`);
      }
      const using = users(name);
      if (using.length > 0) throw new FailedPreconditionError(`remove ${name}: volume is in use - [${using.join(', ')}]`);
      try {
        const d = await this.drivers.get(rec.driver).catch((err) => {
          throw opError(`remove ${rec.driver}`, err);
        });
        await d.remove(name).catch((err) => {
          throw opError(`remove ${name}`, err);
        });
      } catch (err) {
        // dockerd's PurgeOnError: a forced remove forgets the volume even when its plugin fails
        if (!force) throw err;
        this.log.warn({ err, volume: name, driver: rec.driver }, 'plugin volume forgotten after its driver failed');
      }
      await this.records.remove(name);
      this.log.info({ volume: name, driver: rec.driver }, 'plugin volume removed');
    });
  }

  /** `docker volume prune`: unused local volumes, then unused plugin volumes (a plugin's failure skips its volumes). */
  async prune(filters: VolumeFilter[], users: VolumeUsers): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const res = await this.local.prune(filters, users);
    const pred = volumeFilter(filters, ['label', 'label!']);
    for (const r of await this.records.list()) {
      if (!pred(this.base(r), false) || users(r.name).length > 0) continue;
      try {
        await within(this.remove(r.name, users), this.opts.listBudgetMs);
        res.deleted.push(r.name);
      } catch (err) {
        this.log.warn({ err: err instanceof BudgetExceeded ? 'plugin did not answer' : err, volume: r.name, driver: r.driver }, 'plugin volume not pruned');
      }
    }
    return res;
  }

  /**
   * "local" and the volume plugins that answer (docker info). dockerd lists the drivers it holds
   * without asking them; here a plugin is asked, for at most a second, so `docker info` never
   * waits long on one that is stuck.
   */
  async driverNames(): Promise<string[]> {
    const ds = await within(this.drivers.all(), Math.min(this.opts.listBudgetMs, 1000)).catch(() => [] as VolumeDriverAdapter[]);
    return ['local', ...ds.map((d) => d.name).sort()];
  }

  async inUse(pluginName: string): Promise<boolean> {
    return (await this.records.list()).some((r) => r.driver === pluginName);
  }

  // ---------------------------------------------------------------- containers (VolumeOps)

  get root(): string {
    return this.local.root;
  }

  dataPath(name: string): string {
    return this.local.dataPath(name);
  }

  ensure(name: string): Promise<{ created: boolean }> {
    return this.local.ensure(name);
  }

  isEmpty(name: string): Promise<boolean> {
    return this.local.isEmpty(name);
  }

  /**
   * The driver of a container's volume mount, creating a plugin volume that is missing. No
   * driver asked: the existing volume's, else "local" (never asks a plugin, unlike dockerd, so
   * `run -v new:/x` does not wait on every plugin).
   */
  async driverFor(name: string, driver: string, driverOpts: Record<string, string>): Promise<string> {
    if (!driver) return (await this.records.get(name))?.driver ?? 'local';
    if (isLocal(driver)) {
      const rec = await this.records.get(name);
      if (rec) throw nameConflict(name, rec.driver);
      return 'local';
    }
    return (await this.create({ name, driver, driverOpts })).driver;
  }

  /** VolumeDriver.Mount for container `id`: the host path to bind. */
  async mount(name: string, driver: string, id: string): Promise<string> {
    try {
      const d = await this.drivers.get(driver);
      return await d.mount(name, id);
    } catch (err) {
      throw opError(`error while mounting volume '${name}'`, err);
    }
  }

  async unmount(name: string, driver: string, id: string): Promise<void> {
    try {
      const d = await this.drivers.get(driver);
      await d.unmount(name, id);
    } catch (err) {
      throw opError(`error unmounting volume ${name}`, err);
    }
  }

  private base(r: PluginVolumeRecord): VolumeInfo {
    return { name: r.name, driver: r.driver, mountpoint: '', createdAt: r.createdAt, labels: r.labels, options: r.options, scope: 'local' };
  }

  /** A recorded plugin volume as its driver describes it now (Get, Capabilities). */
  private async view(r: PluginVolumeRecord): Promise<VolumeInfo> {
    const d = await this.drivers.get(r.driver).catch((err) => {
      throw opError(`get ${r.name}`, err);
    });
    const pv = await d.get(r.name).catch((err) => {
      throw opError(`get ${r.name}`, err);
    });
    if (!pv) throw new NotFoundError(`get ${r.name}: no such volume`);
    return { ...this.base(r), mountpoint: pv.mountpoint, status: pv.status, scope: await d.scope() };
  }

  /** `fn` on every driver within the budget; drivers that fail or stay silent give undefined. */
  private async askAll<T>(fn: (d: VolumeDriverAdapter) => Promise<T>): Promise<(T | undefined)[]> {
    const deadline = performance.now() + this.opts.listBudgetMs;
    const ds = await within(this.drivers.all(), this.opts.listBudgetMs);
    return Promise.all(ds.map((d) => within(fn(d), Math.max(0, deadline - performance.now())).catch(() => undefined)));
  }
}
