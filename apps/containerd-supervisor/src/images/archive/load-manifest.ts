import { InvalidArgumentError } from '@drydock/errors';
import { goField, goScan, goSyntaxError, goTypeError } from './go-json-decode';

/** One image of a `docker save` archive's manifest.json. */
export interface ManifestItem {
  config: string;
  repoTags: string[];
  layers: string[];
}

/** What `docker load` needs from an image config (the blob itself is stored verbatim). */
export interface LoadConfig {
  os: string;
  diffIds: string[];
  /** History entries that are not empty_layer: more than diffIds is refused, as dockerd's image store does. */
  nonEmptyHistory: number;
  /** config.Labels, for the "load" event. */
  labels: Record<string, string>;
}

const fail = (msg: string): never => {
  throw new InvalidArgumentError(msg);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A []string field: null is empty; anything else than strings is Go's type error. */
function stringList(v: unknown, where: string, elemWhere: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) return fail(goTypeError(v, where));
  return v.map((x) => (x === null ? '' : typeof x === 'string' ? x : fail(goTypeError(x, elemWhere))));
}

/** json.NewDecoder(f).Decode(&[]manifestItem) with dockerd's error texts. */
export function parseManifest(buf: Buffer): ManifestItem[] {
  const scan = goScan(buf, true);
  if (scan.error) fail(scan.error);
  // the decoder reads one value and ignores what follows it
  const v = JSON.parse(buf.subarray(0, scan.end).toString('utf8')) as unknown;
  if (v === null) return [];
  if (!Array.isArray(v)) return fail(goTypeError(v, 'Go value of type []tarexport.manifestItem'));
  return v.map((item) => {
    if (item === null) return { config: '', repoTags: [], layers: [] };
    if (!isObject(item)) return fail(goTypeError(item, 'Go value of type tarexport.manifestItem'));
    const config = goField(item, 'Config');
    if (config !== undefined && config !== null && typeof config !== 'string') fail(goTypeError(config, 'Go struct field manifestItem.Config of type string'));
    const parent = goField(item, 'Parent');
    if (parent !== undefined && parent !== null && typeof parent !== 'string') fail(goTypeError(parent, 'Go struct field manifestItem.Parent of type image.ID'));
    return {
      config: typeof config === 'string' ? config : '',
      repoTags: stringList(goField(item, 'RepoTags'), 'Go struct field manifestItem.RepoTags of type []string', 'Go struct field manifestItem.RepoTags of type string'),
      layers: stringList(goField(item, 'Layers'), 'Go struct field manifestItem.Layers of type []string', 'Go struct field manifestItem.Layers of type string'),
    };
  });
}

/** image.NewFromJSON plus the checks dockerd's image store makes on Create. */
export function parseLoadConfig(buf: Buffer): LoadConfig {
  const syntax = goSyntaxError(buf, false);
  if (syntax) fail(syntax);
  const v = JSON.parse(buf.toString('utf8')) as unknown;
  if (!isObject(v)) {
    if (v === null) fail('invalid image JSON, no RootFS key');
    return fail(goTypeError(v, 'Go value of type image.Image'));
  }
  const os = goField(v, 'os');
  if (os !== undefined && os !== null && typeof os !== 'string') fail(goTypeError(os, 'Go struct field Image.os of type string'));
  const rootfs = goField(v, 'rootfs');
  if (rootfs !== undefined && rootfs !== null && !isObject(rootfs)) fail(goTypeError(rootfs, 'Go struct field Image.rootfs of type image.RootFS'));
  if (!isObject(rootfs)) return fail('invalid image JSON, no RootFS key');
  const type = goField(rootfs, 'type');
  if (type !== undefined && type !== null && typeof type !== 'string') fail(goTypeError(type, 'Go struct field RootFS.rootfs.type of type string'));
  const diffIds = stringList(goField(rootfs, 'diff_ids'), 'Go struct field RootFS.rootfs.diff_ids of type []layer.DiffID', 'Go struct field RootFS.rootfs.diff_ids of type layer.DiffID');
  const history = goField(v, 'history');
  if (history !== undefined && history !== null && !Array.isArray(history)) fail(goTypeError(history, 'Go struct field Image.history of type []image.History'));
  let nonEmptyHistory = 0;
  for (const h of Array.isArray(history) ? history : []) {
    if (h !== null && !isObject(h)) fail(goTypeError(h, 'Go struct field Image.history of type image.History'));
    const empty = isObject(h) ? goField(h, 'empty_layer') : undefined;
    if (empty !== undefined && empty !== null && typeof empty !== 'boolean') fail(goTypeError(empty, 'Go struct field History.history.empty_layer of type bool'));
    if (empty !== true) nonEmptyHistory++;
  }
  const osName = typeof os === 'string' ? os : '';
  // checkCompatibleOS on a Linux daemon
  if (osName === 'windows') fail('cannot load windows image on linux');
  if (osName !== '' && osName !== 'linux') fail(`unsupported os ${osName}`);
  if (nonEmptyHistory > diffIds.length) fail('too many non-empty layers in History section');
  const runConfig = goField(v, 'config');
  const rawLabels = isObject(runConfig) ? goField(runConfig, 'Labels') : undefined;
  const labels: Record<string, string> = {};
  if (isObject(rawLabels)) for (const [k, l] of Object.entries(rawLabels)) if (typeof l === 'string') labels[k] = l;
  return { os: osName, diffIds, nonEmptyHistory, labels };
}
