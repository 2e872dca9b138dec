import { InvalidArgumentError } from '@drydock/errors';

/** The config blob's media type in a plugin's manifest (moby plugin/fetch_linux.go). */
export const PLUGIN_CONFIG_MEDIA_TYPE = 'application/vnd.docker.plugin.v1+json';

/** Interface capabilities dockerd knows (api/types/plugin_responses.go and the drivers that ask for them). */
const KNOWN_CAPABILITIES = new Set(['volumedriver', 'networkdriver', 'ipamdriver', 'authz', 'logdriver', 'metricscollector']);

export interface PluginMount {
  Name: string;
  Description: string;
  Settable: string[] | null;
  Source: string | null;
  Destination: string;
  Type: string;
  Options: string[] | null;
}
export interface PluginEnv {
  Name: string;
  Description: string;
  Settable: string[] | null;
  Value: string | null;
}
export interface PluginDevice {
  Name: string;
  Description: string;
  Settable: string[] | null;
  Path: string | null;
}

/** types.PluginConfig as dockerd answers it (field names and nulls as Go's encoder writes them). */
export interface PluginConfig {
  DockerVersion: string;
  Description: string;
  Documentation: string;
  Interface: { Types: string[]; Socket: string; ProtocolScheme: string };
  Entrypoint: string[] | null;
  WorkDir: string;
  User: { UID?: number; GID?: number };
  Network: { Type: string };
  Linux: { Capabilities: string[] | null; AllowAllDevices: boolean; Devices: PluginDevice[] | null };
  PropagatedMount: string;
  IpcHost: boolean;
  PidHost: boolean;
  Mounts: PluginMount[] | null;
  Env: PluginEnv[] | null;
  Args: { Name: string; Description: string; Settable: string[] | null; Value: string[] | null };
  rootfs?: { type: string; diff_ids: string[] };
}

/** types.PluginSettings: what `set` changes, what the plugin runs with. */
export interface PluginSettings {
  Mounts: PluginMount[];
  Env: string[];
  Args: string[];
  Devices: PluginDevice[];
}

export interface PluginPrivilege {
  Name: string;
  Description: string;
  Value: string[];
}

type Obj = Record<string, unknown>;

/** Go's encoding/json matching: an exact key wins, else the first key equal ignoring case. */
function field(o: Obj, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function bad(what: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid plugin config: ${what}`);
}

function str(o: Obj, name: string, path: string): string {
  const v = field(o, name);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw bad(`${path}${name} must be a string`);
  return v;
}
function bool(o: Obj, name: string, path: string): boolean {
  const v = field(o, name);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw bad(`${path}${name} must be a boolean`);
  return v;
}
function strs(o: Obj, name: string, path: string): string[] | null {
  const v = field(o, name);
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`${path}${name} must be a list of strings`);
  return v as string[];
}
function optStr(o: Obj, name: string, path: string): string | null {
  const v = field(o, name);
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw bad(`${path}${name} must be a string`);
  return v;
}
function obj(o: Obj, name: string, path: string): Obj {
  const v = field(o, name);
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(`${path}${name} must be an object`);
  return v as Obj;
}
function list(o: Obj, name: string, path: string): Obj[] | null {
  const v = field(o, name);
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((x) => !x || typeof x !== 'object' || Array.isArray(x))) throw bad(`${path}${name} must be a list of objects`);
  return v as Obj[];
}

/** dockerd's PluginInterfaceType.UnmarshalJSON split: prefix up to the last '.' before '/', capability, version. */
export function interfaceCapability(t: string): { prefix: string; capability: string; version: string } {
  let prefixIndex = 0;
  let versionIndex = t.length;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '.') prefixIndex = i;
    else if (t[i] === '/') {
      versionIndex = i;
      break;
    }
  }
  return { prefix: t.slice(0, prefixIndex), capability: t.slice(prefixIndex + 1, versionIndex), version: t.slice(versionIndex + 1) };
}

const isAbs = (p: string) => p.startsWith('/');
const plainName = (s: string) => s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !s.includes('\0');

/**
 * Reads a plugin's config.json as dockerd does (keys in any letter case, unknown keys ignored)
 * and refuses what dockerd would fail on later or what would let a plugin reach past what it
 * declared: unknown interface types, a socket that is not a plain file name, relative mount
 * destinations, settable fields dockerd does not allow.
 */
export function parsePluginConfig(raw: Buffer | string): PluginConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    // dockerd's text (plugin/manager_linux.go)
    throw new InvalidArgumentError('invalid config json');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidArgumentError('invalid config json');
  const d = doc as Obj;
  const iface = obj(d, 'Interface', '');
  const types = strs(iface, 'Types', 'Interface.') ?? [];
  if (types.length === 0) throw bad('Interface.Types is empty');
  for (const t of types) {
    const c = interfaceCapability(t);
    if (c.prefix !== 'docker' || !KNOWN_CAPABILITIES.has(c.capability) || !/^\d+\.\d+$/.test(c.version)) throw bad(`unknown interface type "${t}"`);
  }
  const socket = str(iface, 'Socket', 'Interface.');
  if (!plainName(socket)) throw bad(`Interface.Socket must be a file name, not "${socket}"`);
  const scheme = str(iface, 'ProtocolScheme', 'Interface.');
  if (scheme !== '' && scheme !== 'moby.plugins.http/v1') throw bad(`unknown Interface.ProtocolScheme "${scheme}"`);

  const settable = (o: Obj, path: string, allowed: string): string[] | null => {
    const s = strs(o, 'Settable', path);
    for (const f of s ?? []) if (f !== allowed) throw bad(`${path}Settable: "${f}" cannot be settable (only "${allowed}")`);
    return s;
  };
  const mounts = list(d, 'Mounts', '')?.map((m, i): PluginMount => {
    const p = `Mounts[${i}].`;
    const mount: PluginMount = {
      Name: str(m, 'Name', p),
      Description: str(m, 'Description', p),
      Settable: settable(m, p, 'source'),
      Source: optStr(m, 'Source', p),
      Destination: str(m, 'Destination', p),
      Type: str(m, 'Type', p),
      Options: strs(m, 'Options', p),
    };
    if (!isAbs(mount.Destination)) throw bad(`${p}Destination must be an absolute path`);
    if (mount.Source !== null && mount.Type === 'bind' && !isAbs(mount.Source)) throw bad(`${p}Source must be an absolute path`);
    return mount;
  }) ?? null;
  const env = list(d, 'Env', '')?.map((e, i): PluginEnv => {
    const p = `Env[${i}].`;
    const name = str(e, 'Name', p);
    if (name === '' || name.includes('=')) throw bad(`${p}Name "${name}" is not a variable name`);
    return { Name: name, Description: str(e, 'Description', p), Settable: settable(e, p, 'value'), Value: optStr(e, 'Value', p) };
  }) ?? null;
  const args = obj(d, 'Args', '');
  const linux = obj(d, 'Linux', '');
  const devices = list(linux, 'Devices', 'Linux.')?.map((v, i): PluginDevice => {
    const p = `Linux.Devices[${i}].`;
    const dev: PluginDevice = { Name: str(v, 'Name', p), Description: str(v, 'Description', p), Settable: settable(v, p, 'path'), Path: optStr(v, 'Path', p) };
    if (dev.Path !== null && !dev.Path.startsWith('/dev/')) throw bad(`${p}Path must be under /dev/`);
    return dev;
  }) ?? null;
  const caps = strs(linux, 'Capabilities', 'Linux.');
  const network = obj(d, 'Network', '');
  const netType = str(network, 'Type', 'Network.');
  if (!['', 'host', 'bridge', 'none', 'null'].includes(netType)) throw bad(`unknown Network.Type "${netType}"`);
  const propagated = str(d, 'PropagatedMount', '');
  if (propagated !== '' && !isAbs(propagated)) throw bad('PropagatedMount must be an absolute path');
  const workDir = str(d, 'WorkDir', '');
  if (workDir !== '' && !isAbs(workDir)) throw bad('WorkDir must be an absolute path');
  const entrypoint = strs(d, 'Entrypoint', '');
  if (!entrypoint || entrypoint.length === 0) throw bad('Entrypoint is empty');
  const user = obj(d, 'User', '');
  const num = (k: string) => {
    const v = field(user, k);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(`User.${k} must be a number`);
    return v;
  };
  const rootfs = obj(d, 'rootfs', '');
  return {
    DockerVersion: str(d, 'DockerVersion', ''),
    Description: str(d, 'Description', ''),
    Documentation: str(d, 'Documentation', ''),
    Interface: { Types: types, Socket: socket, ProtocolScheme: scheme },
    Entrypoint: entrypoint,
    WorkDir: workDir,
    User: { ...(num('UID') !== undefined ? { UID: num('UID') } : {}), ...(num('GID') !== undefined ? { GID: num('GID') } : {}) },
    Network: { Type: netType },
    Linux: { Capabilities: caps, AllowAllDevices: bool(linux, 'AllowAllDevices', 'Linux.'), Devices: devices },
    PropagatedMount: propagated,
    IpcHost: bool(d, 'IpcHost', ''),
    PidHost: bool(d, 'PidHost', ''),
    Mounts: mounts,
    Env: env,
    Args: { Name: str(args, 'Name', 'Args.'), Description: str(args, 'Description', 'Args.'), Settable: settable(args, 'Args.', 'value'), Value: strs(args, 'Value', 'Args.') },
    ...(Object.keys(rootfs).length ? { rootfs: { type: str(rootfs, 'type', 'rootfs.'), diff_ids: strs(rootfs, 'diff_ids', 'rootfs.') ?? [] } } : {}),
  };
}

/** dockerd's computePrivileges (plugin/backend_linux.go), in its order. */
export function computePrivileges(c: PluginConfig): PluginPrivilege[] {
  const out: PluginPrivilege[] = [];
  const t = c.Network.Type;
  if (t !== 'null' && t !== 'bridge' && t !== '') out.push({ Name: 'network', Description: 'permissions to access a network', Value: [t] });
  if (c.IpcHost) out.push({ Name: 'host ipc namespace', Description: 'allow access to host ipc namespace', Value: ['true'] });
  if (c.PidHost) out.push({ Name: 'host pid namespace', Description: 'allow access to host pid namespace', Value: ['true'] });
  for (const m of c.Mounts ?? []) if (m.Source !== null) out.push({ Name: 'mount', Description: 'host path to mount', Value: [m.Source] });
  for (const d of c.Linux.Devices ?? []) if (d.Path !== null) out.push({ Name: 'device', Description: 'host device to access', Value: [d.Path] });
  if (c.Linux.AllowAllDevices) out.push({ Name: 'allow-all-devices', Description: "allow 'rwm' access to all devices", Value: ['true'] });
  if (c.Linux.Capabilities && c.Linux.Capabilities.length > 0) out.push({ Name: 'capabilities', Description: 'list of additional capabilities required', Value: c.Linux.Capabilities });
  return out;
}

const privKey = (p: PluginPrivilege) => `${p.Name}\0${[...p.Value].sort().join('\0')}`;

/**
 * dockerd's validatePrivileges: the granted list must be the required one (any order).
 * dockerd answers 500 for this client mistake; Drydock answers 400 with its text.
 */
export function validatePrivileges(required: PluginPrivilege[], granted: PluginPrivilege[]): void {
  const a = required.map(privKey).sort();
  const b = granted.map(privKey).sort();
  if (a.length !== b.length || a.some((k, i) => k !== b[i])) throw new InvalidArgumentError('incorrect privileges');
}

/** The settings a freshly installed plugin starts with (dockerd's v2 Plugin.InitEmptySettings). */
export function initialSettings(c: PluginConfig): PluginSettings {
  return {
    Mounts: (c.Mounts ?? []).map((m) => ({ ...m })),
    Env: (c.Env ?? []).filter((e) => e.Value !== null).map((e) => `${e.Name}=${e.Value}`),
    Args: [...(c.Args.Value ?? [])],
    Devices: (c.Linux.Devices ?? []).map((d) => ({ ...d })),
  };
}

interface Settable {
  name: string;
  field: string;
  value: string;
}

/** dockerd's newSettable: `name[.field][=value]`. */
function parseSettable(arg: string): Settable {
  const i = arg.indexOf('=');
  if (i === 0) throw new InvalidArgumentError('invalid format, must be <name>[.<field>][=<value>]');
  let name = i < 0 ? arg : arg.slice(0, i);
  const value = i < 0 ? '' : arg.slice(i + 1);
  let fieldName = '';
  const dot = name.lastIndexOf('.');
  if (dot > 0) {
    fieldName = name.slice(dot + 1);
    name = name.slice(0, dot);
  }
  return { name, field: fieldName, value };
}

/** dockerd's isSettable: an unnamed field defaults to the only settable one. */
function isSettable(s: Settable, allowed: string, settable: string[] | null): boolean {
  if (s.field === '') {
    if (settable && settable.length === 1) s.field = settable[0];
    else if (settable && settable.length > 1) throw new InvalidArgumentError('multiple fields are settable, one must be specified');
  }
  return s.field === allowed && !!settable?.includes(s.field);
}

/**
 * dockerd's v2 Plugin.Set over a copy of the settings (so a refusal changes nothing): env
 * values, mount sources, device paths and args, each only where the config marks it settable.
 */
export function applySettings(c: PluginConfig, current: PluginSettings, args: string[]): PluginSettings {
  const next: PluginSettings = { Mounts: current.Mounts.map((m) => ({ ...m })), Env: [...current.Env], Args: [...current.Args], Devices: current.Devices.map((d) => ({ ...d })) };
  const pretty = (s: Settable) => (s.field ? `${s.name}.${s.field}` : s.name);
  for (const arg of args) {
    const s = parseSettable(arg);
    let found = false;
    for (const e of c.Env ?? []) {
      if (e.Name !== s.name) continue;
      found = true;
      if (!isSettable(s, 'value', e.Settable)) throw new InvalidArgumentError(`"${pretty(s)}" is not settable`);
      const at = next.Env.findIndex((kv) => kv.split('=')[0] === s.name);
      if (at >= 0) next.Env[at] = `${s.name}=${s.value}`;
      else next.Env.push(`${s.name}=${s.value}`);
    }
    for (const m of c.Mounts ?? []) {
      if (m.Name !== s.name) continue;
      found = true;
      if (!isSettable(s, 'source', m.Settable)) throw new InvalidArgumentError(`"${pretty(s)}" is not settable`);
      if (m.Source === null) throw new InvalidArgumentError('Plugin config has no mount source');
      if (m.Type === 'bind' && !isAbs(s.value)) throw new InvalidArgumentError(`mount source "${s.value}" must be an absolute path`);
      for (const sm of next.Mounts) if (sm.Name === s.name) sm.Source = s.value;
    }
    for (const d of c.Linux.Devices ?? []) {
      if (d.Name !== s.name) continue;
      found = true;
      if (!isSettable(s, 'path', d.Settable)) throw new InvalidArgumentError(`"${pretty(s)}" is not settable`);
      if (d.Path === null) throw new InvalidArgumentError('Plugin config has no device path');
      if (!s.value.startsWith('/dev/')) throw new InvalidArgumentError(`device path "${s.value}" must be under /dev/`);
      for (const sd of next.Devices) if (sd.Name === s.name) sd.Path = s.value;
    }
    if (c.Args.Name !== '' && c.Args.Name === s.name) {
      found = true;
      if (!isSettable(s, 'value', c.Args.Settable)) throw new InvalidArgumentError(`"${pretty(s)}" is not settable`);
      next.Args = s.value.split(/\s+/).filter(Boolean);
    }
    if (!found) throw new InvalidArgumentError(`setting "${s.name}" not found in the plugin configuration`);
  }
  return next;
}
