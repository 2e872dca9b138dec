import type { ImageStore, ResolvedImage } from '../image-store';

export interface BuildCacheRecord {
  id: string;
  parent: string;
  description: string;
  inUse: boolean;
  shared: boolean;
  size: number;
  created: string;
}

/**
 * The legacy build cache as `docker system df` and `docker builder prune` see it: the untagged images a
 * build committed (metadata label `build`). A record is in use while a tagged image or a container's
 * image descends from it.
 */
export async function buildCacheRecords(images: ImageStore, usedByContainers: (id: string) => boolean): Promise<BuildCacheRecord[]> {
  const all = await Promise.all((await images.listImages({ all: true })).map((r) => images.resolveImage(r.id)));
  const byId = new Map(all.map((i) => [i.id, i]));
  const needed = new Set<string>();
  for (const img of all) {
    if (img.repoTags.length === 0 && img.repoDigests.length === 0 && !usedByContainers(img.id)) continue;
    for (let p: ResolvedImage | undefined = img; p; p = p.parent ? byId.get(p.parent) : undefined) needed.add(p.id);
  }
  const out: BuildCacheRecord[] = [];
  for (const img of all) {
    if (img.metadata.build !== '1' || img.repoTags.length > 0) continue;
    const parent = img.parent ? byId.get(img.parent) : undefined;
    const ownLayer = img.diffIds.length > (parent?.diffIds.length ?? 0) ? img.layerSizes[img.layerSizes.length - 1] ?? 0 : 0;
    const inUse = needed.has(img.id);
    out.push({ id: img.id, parent: img.parent ?? '', description: img.config.history?.at(-1)?.created_by ?? '', inUse, shared: inUse, size: ownLayer, created: img.created });
  }
  return out;
}

/** builder prune: records not in use (with `all`, every record no container uses), leaves first. */
export async function pruneBuildCache(
  images: ImageStore,
  usedByContainers: (id: string) => boolean,
  all: boolean,
  remove: (id: string) => Promise<void>,
): Promise<{ deleted: string[]; spaceReclaimed: number }> {
  const records = await buildCacheRecords(images, usedByContainers);
  const doomed = records.filter((r) => (all ? !usedByContainers(r.id) : !r.inUse));
  const ids = new Set(doomed.map((r) => r.id));
  // children before their parents
  const order: BuildCacheRecord[] = [];
  const visit = (r: BuildCacheRecord) => {
    if (order.includes(r)) return;
    for (const c of doomed) if (c.parent === r.id) visit(c);
    order.push(r);
  };
  for (const r of doomed) visit(r);
  const deleted: string[] = [];
  let spaceReclaimed = 0;
  for (const r of order) {
    if (!ids.has(r.id)) continue;
    try {
      await remove(r.id);
      deleted.push(r.id);
      spaceReclaimed += r.size;
    } catch {
      // gone meanwhile or taken by a container: prune skips it
    }
  }
  return { deleted, spaceReclaimed };
}
