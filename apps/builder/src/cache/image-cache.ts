import type { ImageConfig, ImageRunConfig } from '@drydock/oci-spec';
import type { BuildBackend } from '../backend/ports';

/** image/cache/compare.go: the fields the legacy cache compares (WorkingDir, Shell, Healthcheck are not). */
export function compareConfigs(a: ImageRunConfig | undefined, b: ImageRunConfig | undefined): boolean {
  if (!a || !b || a.OpenStdin || b.OpenStdin) return false;
  if (!!a.AttachStdout !== !!b.AttachStdout || !!a.AttachStderr !== !!b.AttachStderr || (a.User ?? '') !== (b.User ?? '') || !!a.Tty !== !!b.Tty) return false;
  const arr = (x: string[] | null | undefined) => x ?? [];
  const obj = <T>(x: Record<string, T> | null | undefined) => x ?? {};
  const eqList = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  if (!eqList(arr(a.Cmd), arr(b.Cmd)) || !eqList(arr(a.Env), arr(b.Env)) || !eqList(arr(a.Entrypoint), arr(b.Entrypoint))) return false;
  const la = obj(a.Labels);
  const lb = obj(b.Labels);
  if (Object.keys(la).length !== Object.keys(lb).length || Object.entries(la).some(([k, v]) => lb[k] !== v)) return false;
  const pa = Object.keys(obj(a.ExposedPorts));
  const pb = obj(b.ExposedPorts);
  if (pa.length !== Object.keys(pb).length || pa.some((k) => !(k in pb))) return false;
  const va = Object.keys(obj(a.Volumes));
  const vb = obj(b.Volumes);
  if (va.length !== Object.keys(vb).length || va.some((k) => !(k in vb))) return false;
  return true;
}

type Candidate = { id: string; config: ImageConfig; parent: string };

/**
 * The build cache lookups of one stage (dockerd's imageProber over its LocalImageCache / ImageCache).
 * A stage's steps are looked up in one listing: at its first probe, the images up to `steps`
 * generations below the stage's image; a parent deeper than that is asked for on its own.
 */
export class ImageProber {
  private busted = false;
  private sources?: Promise<(ImageConfig & { id: string })[]>;
  private steps = 1;
  private listing?: { children: Map<string, Candidate[]>; depthOf: Map<string, number> };

  constructor(
    private readonly backend: BuildBackend,
    private readonly cacheFrom: string[],
    private readonly noCache: boolean,
  ) {}

  /** At each FROM: the first miss of a stage busts the rest of that stage only; `steps` it may probe. */
  reset(steps = 1): void {
    this.busted = false;
    this.steps = Math.max(1, steps);
    this.listing = undefined;
  }

  private async children(parentId: string): Promise<Candidate[]> {
    if (!this.listing) {
      const rows = await this.backend.childImages(parentId, this.steps);
      const children = new Map<string, Candidate[]>();
      const depthOf = new Map<string, number>([[parentId, 0]]);
      // rows come a generation at a time: a parent's depth is known before its children's
      for (const r of rows) {
        depthOf.set(r.id, (depthOf.get(r.parent) ?? 0) + 1);
        const list = children.get(r.parent);
        if (list) list.push(r);
        else children.set(r.parent, [r]);
      }
      this.listing = { children, depthOf };
    }
    const d = this.listing.depthOf.get(parentId);
    // the listing holds every child of the images above its last generation
    if (d !== undefined && d < this.steps) return this.listing.children.get(parentId) ?? [];
    return this.backend.childImages(parentId);
  }

  /** The image to reuse for a step on `parentId` whose container config is `runConfig`, or undefined. */
  async probe(parentId: string, runConfig: ImageRunConfig): Promise<string | undefined> {
    if (this.noCache || this.busted) return undefined;
    const hit = await this.lookup(parentId, runConfig);
    if (!hit) this.busted = true;
    return hit;
  }

  private async lookup(parentId: string, cfg: ImageRunConfig): Promise<string | undefined> {
    const children = await this.children(parentId);
    let match: { id: string; created: number } | undefined;
    for (const c of children) {
      if (!compareConfigs(c.config.container_config, cfg)) continue;
      const created = Date.parse(c.config.created ?? '') || 0;
      if (!match || match.created < created) match = { id: c.id, created };
    }
    if (this.cacheFrom.length === 0) return match?.id;
    // --cache-from: a local hit counts only inside the history of a given image; otherwise an image given
    // whose history continues the parent's with this step is reused (its last step only).
    const sources = await (this.sources ??= this.loadSources());
    if (match) {
      for (const s of sources) if (await this.isAncestor(s.id, match.id)) return match.id;
    }
    const parent = parentId ? await this.backend.inspectImage(parentId) : undefined;
    const lenHistory = parent?.config.history?.length ?? 0;
    for (const t of sources) {
      const h = t.history ?? [];
      if (h.length !== lenHistory + 1) continue;
      if (parent && JSON.stringify(parent.config.history ?? []) !== JSON.stringify(h.slice(0, lenHistory))) continue;
      if ((cfg.Cmd ?? []).join(' ') === (h[lenHistory].created_by ?? '')) return t.id;
    }
    return undefined;
  }

  private async loadSources(): Promise<(ImageConfig & { id: string })[]> {
    const out: (ImageConfig & { id: string })[] = [];
    for (const ref of this.cacheFrom) {
      const img = await this.backend.inspectImage(ref).catch(() => undefined);
      if (img) out.push({ ...img.config, id: img.id });
    }
    return out;
  }

  private async isAncestor(imageId: string, ancestor: string): Promise<boolean> {
    let id = imageId;
    for (let i = 0; i < 1000 && id; i++) {
      const img = await this.backend.inspectImage(id);
      if (!img?.parent) return false;
      if (img.parent === ancestor) return true;
      id = img.parent;
    }
    return false;
  }
}
