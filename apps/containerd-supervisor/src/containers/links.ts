import { InternalError } from '@drydock/errors';
import type { ContainerContext, Entry } from './container-context';

/** opts.ParseLink: `name[:alias]` (a leading `/` on the name is dropped; the alias defaults to the name). */
export function parseLink(l: string): { name: string; alias: string } {
  const [raw, alias] = l.split(':');
  const name = raw.replace(/^\//, '');
  return { name, alias: alias || name };
}

/**
 * dockerd's full link name (its name registry's key for the link): `/<parent>/<alias>`,
 * what inspect's HostConfig.Links, the `<ALIAS>_NAME` variable and `docker rm -l` use.
 */
export const linkName = (parent: string, alias: string): string => `/${parent}/${alias}`;

/** The link `/<parent>/<alias>` names: its parent and the container it links to. */
function findLink(ctx: ContainerContext, ref: string): { parent: Entry; index: number } | undefined {
  const full = ref.startsWith('/') ? ref : `/${ref}`;
  const i = full.lastIndexOf('/');
  if (i <= 0) return undefined;
  const parent = ctx.nameOwner(full.slice(1, i));
  const alias = full.slice(i + 1);
  const index = (parent?.c.spec.hostConfig.links ?? []).findIndex((l) => parseLink(l).alias === alias && ctx.entries.has(resolveId(ctx, parseLink(l).name)));
  return parent && index >= 0 ? { parent, index } : undefined;
}

function resolveId(ctx: ContainerContext, ref: string): string {
  try {
    return ctx.resolve(ref).c.spec.id;
  } catch {
    return '';
  }
}

/**
 * docker rm -l (dockerd's ContainerRm with RemoveLink): a link name loses its link; a
 * container's own name is refused; anything else is "No such container", as dockerd's
 * name registry answers. The parent's next run has neither the hosts entry nor the variables.
 */
export async function removeLink(ctx: ContainerContext, ref: string): Promise<void> {
  const found = findLink(ctx, ref);
  if (!found) {
    ctx.resolve(ref);
    throw new InternalError('Conflict, cannot remove the default link name of the container');
  }
  const { parent } = found;
  await ctx.lock.run(parent.c.spec.id, async () => {
    const again = findLink(ctx, ref);
    if (!again) return;
    const links = (parent.c.spec.hostConfig.links ?? []).filter((_, i) => i !== again.index);
    const spec = { ...parent.c.spec, hostConfig: { ...parent.c.spec.hostConfig, links } };
    // the spec's link variables go now, so a start without links finds none left
    const oci = ctx.specs.forRun(await ctx.store.ociSpec<object>(spec.id), spec, {});
    await ctx.store.saveSpec(spec.id, spec, oci);
    parent.c.spec = spec;
  });
}

/** inspect's HostConfig.Links as dockerd shows its link graph: `/<target>:/<parent>/<alias>`, live targets only. */
export function dockerLinks(ctx: ContainerContext, e: Entry): string[] {
  return (e.c.spec.hostConfig.links ?? []).flatMap((l) => {
    const { name, alias } = parseLink(l);
    try {
      return [`/${ctx.resolve(name).c.name}:${linkName(e.c.name, alias)}`];
    } catch {
      return [];
    }
  });
}
