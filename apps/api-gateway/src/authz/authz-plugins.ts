import { join } from 'node:path';
import { FailedPreconditionError, isNotFound } from '@drydock/errors';
import { PluginClient, pluginNotFound, type PluginAddress, type PluginDirectory } from '@drydock/plugins';
import { DROPPED, type AuthzPlugin } from './authz';

/** The capability an authz plugin declares (legacy: Implements; managed: Interface.Types docker.authz/1.0). */
export const AUTHZ_CAPABILITY = 'authz';

/** What the gateway needs of a managed plugin (types.Plugin JSON from the supervisor's Plugins service). */
export interface ManagedPluginJson {
  Id?: string;
  Name?: string;
  Enabled?: boolean;
  /** Types as dockerd's JSON has them ("docker.authz/1.0"), which is what the supervisor sends. */
  Config?: { Interface?: { Socket?: string; Types?: (string | { Capability?: string })[] } };
}

/** The capability of an interface type: "docker.authz/1.0" is authz (dockerd's PluginInterfaceType split). */
export function typeCapability(t: string | { Capability?: string }): string | undefined {
  if (typeof t !== 'string') return t.Capability;
  const name = t.split('/')[0];
  return name.slice(name.lastIndexOf('.') + 1);
}

export interface AuthzPluginsOptions {
  /** One call's deadline. */
  timeoutMs: number;
  /** Managed plugin sockets: <runDir>/<id12>/<Socket> (the supervisor's DRYDOCK_PLUGIN_RUN_DIR). */
  runDir: string;
}

/** A found plugin: where it answers, its name in dockerd's texts, and whether it is managed. */
interface Found {
  address: PluginAddress;
  name: string;
  managed: boolean;
}

/**
 * Finds authz plugins by name as dockerd does (managed first, then legacy) and caches each
 * address; a call that fails forgets it, so a plugin reinstalled elsewhere is found again.
 * Connection failures are not retried: a request waits for no plugin restart, it is denied.
 *
 * A managed plugin disabled after this gateway used it is dropped from the chain for good, as
 * dockerd's Disable drops it (RemovePlugin; only a reload brings it back, here a gateway restart).
 * The disable may come through any door, so it is noticed where it shows: the plugin found
 * disabled, or a failed call after which the supervisor says it is disabled. One never seen
 * enabled stays an error (fail closed; dockerd refuses to start with it).
 */
export class AuthzPlugins {
  private readonly cache = new Map<string, Promise<Found>>();
  private readonly used = new Set<string>();
  private readonly dropped = new Set<string>();

  constructor(
    private readonly opts: AuthzPluginsOptions,
    /** The local supervisor's InspectPlugin (types.Plugin JSON); NotFoundError when it has none. */
    private readonly inspectManaged: (name: string) => Promise<ManagedPluginJson>,
    private readonly legacy: PluginDirectory,
  ) {}

  resolve = async (name: string): Promise<AuthzPlugin | typeof DROPPED> => {
    if (this.dropped.has(name)) return DROPPED;
    let found = this.cache.get(name);
    if (!found) {
      found = this.find(name);
      this.cache.set(name, found);
      found.catch(() => this.cache.get(name) === found && this.cache.delete(name));
    }
    let f: Found;
    try {
      f = await found;
    } catch (err) {
      if (this.dropped.has(name)) return DROPPED;
      throw err;
    }
    const client = new PluginClient(f.address, { connectRetryMs: 0 });
    return {
      name: f.name,
      call: (method, body) =>
        client.call(method, body, this.opts.timeoutMs).catch(async (err) => {
          if (this.cache.get(name) === found) this.cache.delete(name);
          if (f.managed && (await this.disabledNow(name))) return DROPPED;
          throw err;
        }),
    };
  };

  /** After a failed call: whether the supervisor now has the plugin disabled (then it is dropped). */
  private async disabledNow(name: string): Promise<boolean> {
    try {
      const p = await this.inspectManaged(name);
      if (p.Enabled !== false) return false;
    } catch {
      return false;
    }
    this.dropped.add(name);
    return true;
  }

  private async find(name: string): Promise<Found> {
    let managed: ManagedPluginJson | undefined;
    try {
      managed = await this.inspectManaged(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (managed) {
      if (!managed.Config?.Interface?.Types?.some((t) => typeCapability(t) === AUTHZ_CAPABILITY)) throw pluginNotFound(name);
      if (!managed.Enabled) {
        if (this.used.has(name)) this.dropped.add(name);
        throw new FailedPreconditionError(`plugin ${name} found but disabled`);
      }
      const socket = managed.Config.Interface.Socket;
      if (!managed.Id || !socket) throw pluginNotFound(name);
      this.used.add(name);
      return { address: { name, socket: join(this.opts.runDir, managed.Id.slice(0, 12), socket) }, name: managed.Name || name, managed: true };
    }
    const ep = await this.legacy.get(name, AUTHZ_CAPABILITY);
    return { address: { name, socket: ep.socket, url: ep.url }, name, managed: false };
  }
}
