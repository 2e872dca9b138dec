import { chainIds, sha256Digest } from '@drydock/oci-spec';
import { InternalError } from '@drydock/errors';
import type { EntryHeader } from './docker-tar';
import { goMtime, goObject, goSortedObject, goString, goV1ImageMembers } from './go-json';

/**
 * What `docker save` writes, decided before the first byte (moby v20.10
 * image/tarexport/save.go): per image the legacy layer directories
 * `<v1 id>/{VERSION,json,layer.tar}`, the config verbatim as `<id hex>.json`,
 * then `manifest.json` and `repositories`, all in the lexical order in which
 * moby's archive.Tar walks its temporary directory.
 */

/** One image to save, with the tags it is saved under. */
export interface SaveImage {
  /** `sha256:<hex>`: the config digest. */
  id: string;
  /** The config blob, verbatim. */
  config: Buffer;
  diffIds: string[];
  /** Tags in the order given, as repository (familiar name) and tag. */
  tags: { familiarName: string; tag: string }[];
}

/** Where a layer.tar's bytes come from: layer `layer` of image `image` of the plan's input. */
export interface LayerSource {
  image: number;
  layer: number;
  diffId: string;
}

export type PlannedEntry = EntryHeader & ({ data: Buffer; layer?: undefined } | { layer: LayerSource; data?: undefined } | { data?: undefined; layer?: undefined });

export interface SavePlan {
  entries: PlannedEntry[];
  /** Per input image: the v1 ids of its layers, lowest first. */
  layerIds: string[][];
}

const hex = (digest: string) => digest.slice(digest.indexOf(':') + 1);

/**
 * moby's v1.CreateID: the V1Image JSON without id, as a sorted map plus
 * `layer_id` (the chain id) and `parent` (the parent's v1 id as a digest).
 */
export function v1LayerId(members: [string, string][], chainId: string, parent: string | undefined): string {
  const m = members.filter(([k]) => k !== 'id');
  m.push(['layer_id', goString(chainId)]);
  if (parent) {
    const i = m.findIndex(([k]) => k === 'parent');
    if (i >= 0) m.splice(i, 1);
    m.push(['parent', goString(parent)]);
  }
  return sha256Digest(goSortedObject(m));
}

/**
 * Plans the archive. `layerSize(image, layer)` is the uncompressed size of a
 * layer tar; `now` stamps what dockerd leaves with the time of the save (the
 * directory of a layer whose tar is a symlink to an equal one saved earlier).
 */
export function planSave(images: SaveImage[], layerSize: (image: number, layer: number) => number, now: number): SavePlan {
  const entries: PlannedEntry[] = [];
  const savedLayers = new Set<string>();
  const diffIdPaths = new Map<string, string>();
  const layerIds: string[][] = [];
  const manifest: string[] = [];
  const repos = new Map<string, Map<string, string>>();

  for (const [imageIndex, img] of images.entries()) {
    if (img.diffIds.length === 0) throw new InternalError('empty export - not implemented');
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(img.config.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new InternalError(`image ${img.id}: config is not JSON`, { cause: err });
    }
    const os = typeof config.os === 'string' ? config.os : '';
    const created = typeof config.created === 'string' ? config.created : undefined;
    const mtime = goMtime(created);
    const chains = chainIds(img.diffIds);
    const ids: string[] = [];
    let parent: string | undefined;
    for (const [i, diffId] of img.diffIds.entries()) {
      const top = i === img.diffIds.length - 1;
      // lower layers are empty V1Images created at the epoch; the top one carries the image's own fields
      const base = top ? goV1ImageMembers({ config, os }) : goV1ImageMembers({});
      const v1Id = v1LayerId(base, chains[i], parent);
      const id = hex(v1Id);
      ids.push(id);
      if (!savedLayers.has(id)) {
        savedLayers.add(id);
        const json = Buffer.from(goObject(goV1ImageMembers({ id, parent: parent && hex(parent), config: top ? config : undefined, os })));
        const earlier = diffIdPaths.get(diffId);
        const t = earlier ? now : mtime;
        entries.push({ name: `${id}/`, kind: 'directory', mode: 0o755, size: 0, mtime: t });
        entries.push({ name: `${id}/VERSION`, kind: 'file', mode: 0o644, size: 3, mtime: t, data: Buffer.from('1.0') });
        entries.push({ name: `${id}/json`, kind: 'file', mode: 0o644, size: json.length, mtime: t, data: json });
        if (earlier) {
          entries.push({ name: `${id}/layer.tar`, kind: 'symlink', mode: 0o777, size: 0, mtime: now, linkname: `../${earlier}/layer.tar` });
        } else {
          entries.push({ name: `${id}/layer.tar`, kind: 'file', mode: 0o644, size: layerSize(imageIndex, i), mtime, layer: { image: imageIndex, layer: i, diffId } });
          diffIdPaths.set(diffId, id);
        }
      }
      parent = v1Id;
    }
    layerIds.push(ids);
    entries.push({ name: `${hex(img.id)}.json`, kind: 'file', mode: 0o644, size: img.config.length, mtime, data: img.config });
    const top = ids[ids.length - 1];
    const repoTags: string[] = [];
    for (const t of img.tags) {
      let tags = repos.get(t.familiarName);
      if (!tags) repos.set(t.familiarName, (tags = new Map()));
      tags.set(t.tag, top);
      repoTags.push(`${t.familiarName}:${t.tag}`);
    }
    manifest.push(
      goObject([
        ['Config', goString(`${hex(img.id)}.json`)],
        ['RepoTags', repoTags.length > 0 ? '[' + repoTags.map(goString).join(',') + ']' : 'null'],
        ['Layers', '[' + ids.map((id) => goString(`${id}/layer.tar`)).join(',') + ']'],
      ]),
    );
  }

  if (repos.size > 0) {
    const sorted = (m: Map<string, string>) => goSortedObject([...m].map(([k, v]) => [k, goString(v)]));
    const body = Buffer.from(goSortedObject([...repos].map(([name, tags]) => [name, sorted(tags)])) + '\n');
    entries.push({ name: 'repositories', kind: 'file', mode: 0o644, size: body.length, mtime: 0, data: body });
  }
  const body = Buffer.from((images.length > 0 ? '[' + manifest.join(',') + ']' : 'null') + '\n');
  entries.push({ name: 'manifest.json', kind: 'file', mode: 0o644, size: body.length, mtime: 0, data: body });

  return { entries: sortLikeWalk(entries), layerIds };
}

/** filepath.Walk order: siblings sorted by name bytes, a directory's entries right after it. */
function sortLikeWalk(entries: PlannedEntry[]): PlannedEntry[] {
  const key = (e: PlannedEntry) => {
    const name = e.name.replace(/\/$/, '');
    const slash = name.indexOf('/');
    return slash < 0 ? [name, ''] : [name.slice(0, slash), name.slice(slash + 1)];
  };
  return [...entries].sort((a, b) => {
    const [ta, ra] = key(a);
    const [tb, rb] = key(b);
    return Buffer.compare(Buffer.from(ta), Buffer.from(tb)) || Buffer.compare(Buffer.from(ra), Buffer.from(rb));
  });
}
