import { DrydockError, InternalError, errorFromCode, errorCode } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { PluginDirectory, PluginEndpoint } from '@drydock/plugins';
import { VOLUME_DRIVER, volumeDriverFor, type VolumeDriverAdapter, type VolumeDriverDeadlines } from './volume-driver';

/**
 * Volume drivers by name, from a plugin directory. Adapters are kept per address, so a driver's
 * Capabilities are asked once, and made again when its plugin moves (a new socket).
 */
export class VolumeDrivers {
  private readonly adapters = new Map<string, { key: string; adapter: VolumeDriverAdapter }>();
  private readonly log: Logger;

  constructor(
    private readonly directory: PluginDirectory,
    private readonly deadlines: VolumeDriverDeadlines,
    private readonly connectRetryMs: number,
    logger: Logger,
  ) {
    this.log = logger;
  }

  /** The driver; errors carry dockerd's "error looking up volume plugin NAME: ..." text and class. */
  async get(name: string): Promise<VolumeDriverAdapter> {
    let ep: PluginEndpoint;
    try {
      ep = await this.directory.get(name, VOLUME_DRIVER);
    } catch (err) {
      throw lookupError(name, err);
    }
    return this.adapterFor(ep);
  }

  /** Every volume plugin that answers its handshake. */
  async all(): Promise<VolumeDriverAdapter[]> {
    return (await this.directory.all(VOLUME_DRIVER)).map((ep) => this.adapterFor(ep));
  }

  private adapterFor(ep: PluginEndpoint): VolumeDriverAdapter {
    const key = `${ep.socket ?? ''}|${ep.url ?? ''}`;
    const have = this.adapters.get(ep.name);
    if (have && have.key === key) return have.adapter;
    const adapter = volumeDriverFor(ep, this.deadlines, this.connectRetryMs, this.log);
    this.adapters.set(ep.name, { key, adapter });
    return adapter;
  }
}

/** dockerd's volume/drivers lookup wrap, keeping the cause's class (a missing plugin stays 404). */
function lookupError(name: string, err: unknown): DrydockError {
  const msg = `error looking up volume plugin ${name}: ${err instanceof Error ? err.message : String(err)}`;
  return err instanceof DrydockError ? errorFromCode(errorCode(err), msg, err) : new InternalError(msg, { cause: err });
}
