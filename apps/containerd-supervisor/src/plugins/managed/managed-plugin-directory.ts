import { isAbsolute, join, relative } from 'node:path';
import { FailedPreconditionError } from '@drydock/errors';
import { pluginNotFound, type PluginDirectory, type PluginEndpoint } from '@drydock/plugins';
import { interfaceCapability } from './plugin-config';
import type { PluginRecord } from './plugin-store';

/** What dockerd's handshake would have answered, from Interface.Types (docker.volumedriver/1.0 -> VolumeDriver). */
const IMPLEMENTS: Record<string, string> = {
  volumedriver: 'VolumeDriver',
  networkdriver: 'NetworkDriver',
  ipamdriver: 'IpamDriver',
  authz: 'authz',
  logdriver: 'LogDriver',
  metricscollector: 'MetricsCollector',
};

/** What the directory needs of the managed plugins: their records and where they live. */
export interface ManagedPlugins {
  lookup(refOrId: string): PluginRecord | undefined;
  enabled(): PluginRecord[];
}
export interface ManagedPluginPaths {
  rootfs(id: string): string;
  propagatedMount(id: string): string;
  socketPath(r: PluginRecord): string;
}

/**
 * Managed plugins as a PluginDirectory, first in the supervisor's composite (dockerd's plugin
 * store answers v2 plugins before falling back to v1): names as `plugin ls` shows them or
 * as users type them (`x/p` is `x/p:latest`), enabled ones only (`plugin X found but disabled`).
 */
export class ManagedPluginDirectory implements PluginDirectory {
  constructor(
    private readonly plugins: ManagedPlugins,
    private readonly paths: ManagedPluginPaths,
  ) {}

  async get(name: string, capability: string): Promise<PluginEndpoint> {
    const r = this.plugins.lookup(name);
    if (!r || !implementsOf(r).includes(capability)) throw pluginNotFound(name);
    if (!r.Enabled) throw new FailedPreconditionError(`plugin ${r.Name} found but disabled`);
    return this.endpointOf(r);
  }

  async all(capability: string): Promise<PluginEndpoint[]> {
    return this.plugins.enabled().filter((r) => implementsOf(r).includes(capability)).map((r) => this.endpointOf(r));
  }

  private endpointOf(r: PluginRecord): PluginEndpoint {
    const rootfs = this.paths.rootfs(r.Id);
    const prop = r.Config.PropagatedMount;
    const propRoot = this.paths.propagatedMount(r.Id);
    return {
      name: r.Name,
      socket: this.paths.socketPath(r),
      implements: implementsOf(r),
      managed: true,
      // dockerd's ScopedPath: under PropagatedMount the host's propagated-mount dir, else the rootfs
      scopePath: (p: string) => {
        if (prop) {
          const rel = relative(prop, p);
          if (!rel.startsWith('..') && !isAbsolute(rel)) return join(propRoot, rel);
        }
        return join(rootfs, p);
      },
    };
  }
}

export function implementsOf(r: PluginRecord): string[] {
  return r.Config.Interface.Types.map((t) => IMPLEMENTS[interfaceCapability(t).capability]).filter(Boolean);
}
