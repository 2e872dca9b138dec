import { InvalidArgumentError } from '@drydock/errors';
import type { supervisorV1 } from '@drydock/proto';
import type { PluginPrivilege } from '../plugins/managed/plugin-config';
import type { PluginSource, ProgressSink } from '../plugins/managed/plugin-fetch';
import { ProgressChannel, type Progress } from '../images/distribution';
import { toMessage } from './images-distribution.service';
import type { PluginManager } from '../plugins/managed/plugin-manager';
import type { Handlers } from './handlers';

/** The privileges body: a JSON array of {Name, Description, Value} (dockerd's decode, 400 when bad). */
function privilegesOf(json: string | undefined): PluginPrivilege[] {
  if (!json) return [];
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw new InvalidArgumentError('failed to parse privileges');
  }
  if (v === null) return [];
  if (!Array.isArray(v)) throw new InvalidArgumentError('invalid privileges');
  return v.map((p) => {
    const o = (p ?? {}) as { Name?: unknown; Description?: unknown; Value?: unknown };
    const value = Array.isArray(o.Value) ? o.Value.filter((x): x is string => typeof x === 'string') : [];
    return { Name: typeof o.Name === 'string' ? o.Name : '', Description: typeof o.Description === 'string' ? o.Description : '', Value: value };
  });
}

/**
 * A domain call that reports progress through a sink, as a server stream: its messages as
 * they come, its failure after them (before any message, the stream fails without one, which
 * the gateway answers as a plain HTTP error).
 */
async function* progressOf(run: (emit: ProgressSink) => Promise<unknown>): AsyncIterable<supervisorV1.ImageProgress> {
  const ch = new ProgressChannel<Progress>();
  run((p) => ch.push(p)).then(
    () => ch.close(),
    (err) => ch.close(err),
  );
  for await (const p of ch) yield toMessage(p);
}

const filter = (fs: supervisorV1.Filter[] | undefined, key: string) => (fs ?? []).filter((f) => f.key === key).flatMap((f) => f.values ?? []);

/** Thin gRPC adapter over the PluginManager (drydock.supervisor.v1.Plugins). */
export function pluginsService(plugins: PluginManager, registry: PluginSource, opts: { gzipLevel: number }, h: Handlers): supervisorV1.PluginsServer {
  return {
    listPlugins: h.unary('ListPlugins', async (req: supervisorV1.ListPluginsRequest) => {
      for (const f of req.filters ?? []) {
        // dockerd's invalidFilter text
        if (f.key !== 'capability' && f.key !== 'enabled') throw new InvalidArgumentError(`Invalid filter '${f.key}'`);
      }
      return { pluginsJson: JSON.stringify(plugins.list({ capability: filter(req.filters, 'capability'), enabled: filter(req.filters, 'enabled') })) };
    }),
    inspectPlugin: h.unary('InspectPlugin', async (req: supervisorV1.InspectPluginRequest) => ({ pluginJson: JSON.stringify(plugins.find(req.name ?? '')) })),
    pluginPrivileges: h.unary('PluginPrivileges', async (req: supervisorV1.PluginPrivilegesRequest) => ({
      privilegesJson: JSON.stringify(await plugins.privileges(req.remote ?? '', { auth: req.registryAuth || undefined })),
    })),
    pullPlugin: h.serverStream('PullPlugin', (req: supervisorV1.PullPluginRequest, signal) => {
      const granted = privilegesOf(req.privilegesJson);
      return progressOf((emit) => plugins.pull(req.remote ?? '', req.name || undefined, granted, { auth: req.registryAuth || undefined, signal }, emit));
    }),
    enablePlugin: h.unary('EnablePlugin', async (req: supervisorV1.EnablePluginRequest) => (await plugins.enable(req.name ?? ''), {})),
    disablePlugin: h.unary('DisablePlugin', async (req: supervisorV1.DisablePluginRequest) => (await plugins.disable(req.name ?? '', !!req.force), {})),
    setPlugin: h.unary('SetPlugin', async (req: supervisorV1.SetPluginRequest) => (await plugins.set(req.name ?? '', req.args ?? []), {})),
    removePlugin: h.unary('RemovePlugin', async (req: supervisorV1.RemovePluginRequest) => (await plugins.remove(req.name ?? '', !!req.force), {})),
    upgradePlugin: h.serverStream('UpgradePlugin', (req: supervisorV1.UpgradePluginRequest, signal) => {
      const granted = privilegesOf(req.privilegesJson);
      return progressOf((emit) => plugins.upgrade(req.name ?? '', req.remote ?? '', granted, { auth: req.registryAuth || undefined, signal }, emit));
    }),
    pushPlugin: h.serverStream('PushPlugin', (req: supervisorV1.PushPluginRequest, signal) =>
      progressOf((emit) => plugins.push(req.name ?? '', registry, { auth: req.registryAuth || undefined, gzipLevel: opts.gzipLevel, signal }, emit)),
    ),
    createPlugin: h.unary('CreatePlugin', async (req: supervisorV1.CreatePluginRequest) => {
      const tar = Buffer.from(req.tar ?? new Uint8Array());
      await plugins.create(req.name ?? '', (async function* () {
        yield tar;
      })());
      return {};
    }),
  };
}
