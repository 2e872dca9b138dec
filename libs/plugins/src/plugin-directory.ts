import { NotFoundError, isNotFound } from '@drydock/errors';

/**
 * A plugin Drydock can call: where it answers and what it implements. Legacy plugins are found
 * on the host (sockets, spec files); managed plugins (installed from a registry, run as
 * containers) come from their own directory and join through CompositePluginDirectory.
 */
export interface PluginEndpoint {
  /** The name users give it (`-d NAME`, `--volume-driver NAME`). */
  name: string;
  /** A unix socket path; set unless `url` is. */
  socket?: string;
  /** An http(s):// or tcp:// address from a spec file (tcp:// is plain HTTP, as dockerd dials it). */
  url?: string;
  /** What the plugin implements, as its handshake answered ("VolumeDriver", "authz", ...). */
  implements: string[];
  /** Installed and run by Drydock (true) or found on the host (false). */
  managed: boolean;
  /**
   * A path the plugin answered (a Mountpoint) as the host sees it: a managed plugin answers
   * paths inside its own rootfs (dockerd's v2 Plugin.ScopedPath). Absent: paths are the host's.
   */
  scopePath?: (path: string) => string;
}

/** Finds plugins by name and capability. Implementations must give each call a deadline. */
export interface PluginDirectory {
  /**
   * The plugin `name` implementing `capability`; NotFoundError(`plugin "NAME" not found`) when
   * there is none, another error when one was found but cannot be used.
   */
  get(name: string, capability: string): Promise<PluginEndpoint>;
  /** Every plugin implementing `capability` that answers; plugins that fail are left out. */
  all(capability: string): Promise<PluginEndpoint[]>;
}

/** dockerd's text for a plugin no directory knows (plugin/errors.go errNotFound). */
export function pluginNotFound(name: string): NotFoundError {
  return new NotFoundError(`plugin "${name}" not found`);
}

/**
 * Directories asked in order (managed first, then legacy, as dockerd's plugin store falls back
 * to v1 plugins): the first that knows a name answers; `all` merges, earlier ones winning a name.
 */
export class CompositePluginDirectory implements PluginDirectory {
  constructor(private readonly dirs: readonly PluginDirectory[]) {}

  async get(name: string, capability: string): Promise<PluginEndpoint> {
    for (const d of this.dirs) {
      try {
        return await d.get(name, capability);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    throw pluginNotFound(name);
  }

  async all(capability: string): Promise<PluginEndpoint[]> {
    const lists = await Promise.all(this.dirs.map((d) => d.all(capability).catch(() => [] as PluginEndpoint[])));
    const out = new Map<string, PluginEndpoint>();
    for (const list of lists) for (const p of list) if (!out.has(p.name)) out.set(p.name, p);
    return [...out.values()];
  }
}
