import { actor, type ContainerContext } from './container-context';
import { startLocked } from './start';
import { stopLocked } from './stop';

/** docker restart: stop and start in one hold of the container's lock; clears a manual stop. */
export async function restartContainer(ctx: ContainerContext, ref: string, timeoutSeconds?: number): Promise<void> {
  const e = ctx.resolve(ref);
  await ctx.lock.run(e.c.spec.id, async () => {
    await stopLocked(ctx, e, timeoutSeconds);
    e.c.state.manuallyStopped = false;
    await startLocked(ctx, e);
  });
  ctx.events.container('restart', actor(e.c));
}
