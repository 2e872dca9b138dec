import { InvalidArgumentError } from '@drydock/errors';
import { actor, hookContainer, type ContainerContext } from './container-context';
import { nameConflict } from './create';
import { normalizeName } from './names';

/** docker rename: under the name lock create also takes, so a name is never given twice. */
export async function renameContainer(ctx: ContainerContext, ref: string, newName: string): Promise<void> {
  const e = ctx.resolve(ref);
  const name = normalizeName(newName);
  await ctx.nameLock.run('create', async () => {
    if (e.c.name === name) throw new InvalidArgumentError('Renaming a container with the same name as its current name');
    const owner = ctx.nameOwner(name);
    if (owner) throw nameConflict(name, owner.c.spec.id);
    const old = e.c.name;
    const holder = await ctx.names.take(name, e.c.spec.id);
    if (holder) throw nameConflict(name, holder);
    try {
      await ctx.store.rename(e.c.spec.id, name);
    } catch (err) {
      await ctx.names.release(name, e.c.spec.id);
      throw err;
    }
    e.c.name = name;
    await ctx.names.release(old, e.c.spec.id);
    ctx.events.container('rename', actor(e.c), { oldName: `/${old}` });
  });
  await ctx.hooks.renamed(hookContainer(e));
}
