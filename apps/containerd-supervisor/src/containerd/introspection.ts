import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import type { Client, Metadata, ServiceError } from '@grpc/grpc-js';
import { fromGrpcError } from '@drydock/errors';
import type { ContainerdClient } from './containerd-client';

/**
 * containerd's Introspection.Plugins, hand-encoded: the generated @drydock/proto has no
 * introspection service and only the few fields below are needed
 * (api/services/introspection/v1/introspection.proto: PluginsRequest.filters = 1;
 * PluginsResponse.plugins = 1; Plugin.type = 1, id = 2, exports = 5 map<string,string>).
 */
const PLUGINS_PATH = '/containerd.services.introspection.v1.Introspection/Plugins';

export interface PluginInfo {
  type: string;
  id: string;
  exports: Record<string, string>;
}

export function encodePluginsRequest(filters: string[]): Uint8Array {
  const w = new BinaryWriter();
  for (const f of filters) w.uint32(10).string(f);
  return w.finish();
}

export function decodePluginsResponse(bytes: Uint8Array): PluginInfo[] {
  const r = new BinaryReader(bytes);
  const plugins: PluginInfo[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) plugins.push(decodePlugin(r.bytes()));
    else r.skip(tag & 7);
  }
  return plugins;
}

function decodePlugin(bytes: Uint8Array): PluginInfo {
  const r = new BinaryReader(bytes);
  const p: PluginInfo = { type: '', id: '', exports: {} };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === 2) p.type = r.string();
    else if (field === 2 && (tag & 7) === 2) p.id = r.string();
    else if (field === 5 && (tag & 7) === 2) {
      const e = new BinaryReader(r.bytes());
      let key = '';
      let value = '';
      while (e.pos < e.len) {
        const t = e.uint32();
        if (t === 10) key = e.string();
        else if (t === 18) value = e.string();
        else e.skip(t & 7);
      }
      p.exports[key] = value;
    } else r.skip(tag & 7);
  }
  return p;
}

/** The plugins matching containerd filters (e.g. `type==io.containerd.content.v1`). */
export function introspectPlugins(cc: ContainerdClient, filters: string[]): Promise<PluginInfo[]> {
  // Any client of the shared channel can carry a generic unary call.
  const client = cc.version as unknown as Client;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<string[], PluginInfo[]>(
      PLUGINS_PATH,
      (f) => Buffer.from(encodePluginsRequest(f)),
      (b) => decodePluginsResponse(b),
      filters,
      cc.metadata() as Metadata,
      { deadline: cc.deadline() },
      (err: ServiceError | null, res?: PluginInfo[]) => (err ? reject(fromGrpcError(err)) : resolve(res ?? [])),
    );
  });
}

/** Root directory of containerd's local content store, as its content plugin exports it; undefined if not reported. */
export async function contentStoreRoot(cc: ContainerdClient): Promise<string | undefined> {
  const plugins = await introspectPlugins(cc, ['type==io.containerd.content.v1']);
  return plugins.find((p) => p.id === 'content')?.exports.root || undefined;
}
