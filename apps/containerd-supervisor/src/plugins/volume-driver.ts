import { InternalError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { PluginClient } from '@drydock/plugins';
import type { PluginEndpoint } from '@drydock/plugins';

/** The capability a volume plugin's handshake names (config.json: docker.volumedriver/1.0). */
export const VOLUME_DRIVER = 'VolumeDriver';

/** Deadlines of volume calls (dockerd's volume/drivers/proxy.go: 2 minutes and 1 minute). */
export interface VolumeDriverDeadlines {
  /** Create and Mount. */
  longMs: number;
  /** Every other call. */
  shortMs: number;
}

/** One volume as a plugin describes it (Get, List). */
export interface PluginVolume {
  name: string;
  mountpoint: string;
  createdAt?: string;
  status?: Record<string, unknown>;
}

interface ErrAnswer {
  Err?: unknown;
}

/**
 * dockerd's volumeDriverProxy + volumeDriverAdapter over the VolumeDriver protocol: each method
 * is one call with its deadline; an `Err` in the answer becomes the error's text as the plugin
 * wrote it. Capabilities are asked once and kept (dockerd caches them per driver).
 */
export class VolumeDriverAdapter {
  private scopeCache?: 'local' | 'global';
  private readonly log: Logger;

  constructor(
    readonly endpoint: PluginEndpoint,
    private readonly client: PluginClient,
    private readonly deadlines: VolumeDriverDeadlines,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'volume-driver', driver: endpoint.name });
  }

  get name(): string {
    return this.endpoint.name;
  }

  async create(name: string, opts: Record<string, string>): Promise<void> {
    await this.call<ErrAnswer>('Create', { Name: name, Opts: opts }, this.deadlines.longMs);
  }

  async remove(name: string): Promise<void> {
    await this.call<ErrAnswer>('Remove', { Name: name }, this.deadlines.shortMs);
  }

  /** The host path the plugin mounted the volume at, for the container `id`. */
  async mount(name: string, id: string): Promise<string> {
    const r = await this.call<ErrAnswer & { Mountpoint?: unknown }>('Mount', { Name: name, ID: id }, this.deadlines.longMs);
    return this.mountpoint('Mount', r.Mountpoint);
  }

  async unmount(name: string, id: string): Promise<void> {
    await this.call<ErrAnswer>('Unmount', { Name: name, ID: id }, this.deadlines.shortMs);
  }

  async path(name: string): Promise<string> {
    const r = await this.call<ErrAnswer & { Mountpoint?: unknown }>('Path', { Name: name }, this.deadlines.shortMs);
    return typeof r.Mountpoint === 'string' && r.Mountpoint !== '' ? this.scoped(r.Mountpoint) : '';
  }

  /** The volume, or undefined when the plugin answers none and no error (dockerd: "no such volume"). */
  async get(name: string): Promise<PluginVolume | undefined> {
    const r = await this.call<ErrAnswer & { Volume?: unknown }>('Get', { Name: name }, this.deadlines.shortMs);
    return r.Volume ? this.scopedVolume(volumeOf('Get', r.Volume)) : undefined;
  }

  async list(): Promise<PluginVolume[]> {
    const r = await this.call<ErrAnswer & { Volumes?: unknown }>('List', {}, this.deadlines.shortMs);
    if (r.Volumes === undefined || r.Volumes === null) return [];
    if (!Array.isArray(r.Volumes)) throw new InternalError(`VolumeDriver.List: plugin "${this.name}" answered Volumes that is not a list`);
    return r.Volumes.map((v) => this.scopedVolume(volumeOf('List', v)));
  }

  /**
   * The driver's scope. Capabilities is optional: any failure means "local", as in dockerd, and
   * is not kept, so a plugin that was only slow is asked again next time.
   */
  async scope(): Promise<'local' | 'global'> {
    if (this.scopeCache) return this.scopeCache;
    try {
      const r = await this.call<ErrAnswer & { Capabilities?: { Scope?: unknown } }>('Capabilities', {}, this.deadlines.shortMs);
      const s = typeof r.Capabilities?.Scope === 'string' ? r.Capabilities.Scope.toLowerCase() : '';
      if (s && s !== 'local' && s !== 'global') this.log.warn({ scope: s }, 'volume driver returned an invalid scope');
      this.scopeCache = s === 'global' ? 'global' : 'local';
      return this.scopeCache;
    } catch (err) {
      this.log.debug({ err }, 'volume driver capabilities failed; local scope assumed');
      return 'local';
    }
  }

  private async call<T extends ErrAnswer>(verb: string, args: unknown, deadlineMs: number): Promise<T> {
    const r = await this.client.call<T | undefined>(`VolumeDriver.${verb}`, args, deadlineMs);
    if (r === undefined || r === null || typeof r !== 'object' || Array.isArray(r)) {
      throw new InternalError(`VolumeDriver.${verb}: plugin "${this.name}" answered something that is not a JSON object`);
    }
    if (typeof r.Err === 'string' && r.Err !== '') throw new InternalError(r.Err);
    return r;
  }

  private mountpoint(verb: string, v: unknown): string {
    if (typeof v !== 'string' || !v.startsWith('/')) throw new InternalError(`VolumeDriver.${verb}: plugin "${this.name}" answered no absolute Mountpoint`);
    return this.scoped(v);
  }

  private scopedVolume(v: PluginVolume): PluginVolume {
    return v.mountpoint ? { ...v, mountpoint: this.scoped(v.mountpoint) } : v;
  }

  private scoped(p: string): string {
    return this.endpoint.scopePath ? this.endpoint.scopePath(p) : p;
  }
}

function volumeOf(verb: string, v: unknown): PluginVolume {
  const o = v as { Name?: unknown; Mountpoint?: unknown; CreatedAt?: unknown; Status?: unknown };
  if (!o || typeof o !== 'object' || typeof o.Name !== 'string' || o.Name === '') throw new InternalError(`VolumeDriver.${verb}: plugin answered a volume without a Name`);
  return {
    name: o.Name,
    mountpoint: typeof o.Mountpoint === 'string' ? o.Mountpoint : '',
    createdAt: typeof o.CreatedAt === 'string' ? o.CreatedAt : undefined,
    status: o.Status && typeof o.Status === 'object' && !Array.isArray(o.Status) ? (o.Status as Record<string, unknown>) : undefined,
  };
}

/** An adapter over a plugin endpoint with its own client. */
export function volumeDriverFor(ep: PluginEndpoint, deadlines: VolumeDriverDeadlines, connectRetryMs: number, logger: Logger): VolumeDriverAdapter {
  return new VolumeDriverAdapter(ep, new PluginClient({ name: ep.name, socket: ep.socket, url: ep.url }, { connectRetryMs }), deadlines, logger);
}
