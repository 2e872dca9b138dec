import { FailedPreconditionError } from '@drydock/errors';

/**
 * Whether a plugin backs a volume this node knows. dockerd keeps a reference on a plugin for
 * each of its volumes and refuses `plugin rm` and `plugin disable` (without -f) while any exists;
 * the managed-plugin work asks this before removing or disabling one.
 */
export interface VolumePluginUsage {
  inUse(pluginName: string): Promise<boolean>;
}

/** dockerd's text (plugin/errors.go inUseError), a conflict (409). */
export function pluginInUseError(pluginName: string): FailedPreconditionError {
  return new FailedPreconditionError(`plugin ${pluginName} is in use`);
}
