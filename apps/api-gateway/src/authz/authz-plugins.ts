import { join } from 'node:path';
import { FailedPreconditionError, isNotFound } from '@drydock/errors';
import { PluginClient, pluginNotFound, type PluginAddress, type PluginDirectory } from '@drydock/plugins';
import type { AuthzPlugin } from './authz';

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

/**
 * Finds authz plugins by name as dockerd does (managed first, then legacy) and caches each
 * address; a call that fails forgets it, so a plugin reinstalled elsewhere is found again.
 * Connection failures are not retried: a request waits for no plugin restart, it is denied.
 */
export class AuthzPlugins {
  private readonly cache = new Map<string, Promise<PluginAddress>>();

  constructor(
    private readonly opts: AuthzPluginsOptions,
    /** The local supervisor's InspectPlugin (types.Plugin JSON); NotFoundError when it has none. */
    private readonly inspectManaged: (name: string) => Promise<ManagedPluginJson>,
    private readonly legacy: PluginDirectory,
  ) {}

  resolve = async (name: string): Promise<AuthzPlugin> => {
    let found = this.cache.get(name);
    if (!found) {
      found = this.find(name);
      this.cache.set(name, found);
      found.catch(() => this.cache.get(name) === found && this.cache.delete(name));
    }
    const address = await found;
    const client = new PluginClient(address, { connectRetryMs: 0 });
    return {
      name,
      call: (method, body) =>
        client.call(method, body, this.opts.timeoutMs).catch((err) => {
          if (this.cache.get(name) === found) this.cache.delete(name);
          throw err;
        }),
    };
  };

  private async find(name: string): Promise<PluginAddress> {
    let managed: ManagedPluginJson | undefined;
    try {
      managed = await this.inspectManaged(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (managed) {
      if (!managed.Config?.Interface?.Types?.some((t) => typeCapability(t) === AUTHZ_CAPABILITY)) throw pluginNotFound(name);
      if (!managed.Enabled) throw new FailedPreconditionError(`plugin ${name} found but disabled`);
      const socket = managed.Config.Interface.Socket;
      if (!managed.Id || !socket) throw pluginNotFound(name);
      return { name, socket: join(this.opts.runDir, managed.Id.slice(0, 12), socket) };
    }
    const ep = await this.legacy.get(name, AUTHZ_CAPABILITY);
    return { name, socket: ep.socket, url: ep.url };
  }
}
