import { FailedPreconditionError } from '@drydock/errors';
import { actor, type ContainerContext } from './container-context';

/** docker pause (freezes the task's cgroup). */
export async function pauseContainer(ctx: ContainerContext, ref: string): Promise<void> {
  const e = ctx.resolve(ref);
  await ctx.lock.run(e.c.spec.id, async () => {
    if (e.rt.task === 'paused') throw new FailedPreconditionError(`Container ${e.c.spec.id} is already paused`);
    if (e.rt.task !== 'running') throw new FailedPreconditionError(`Container ${e.c.spec.id} is not running`);
    await ctx.cc.unary(ctx.cc.tasks, ctx.cc.tasks.pause, { containerId: e.c.spec.id });
    e.rt.task = 'paused';
    ctx.events.container('pause', actor(e.c));
  });
}

/** docker unpause. */
export async function unpauseContainer(ctx: ContainerContext, ref: string): Promise<void> {
  const e = ctx.resolve(ref);
  await ctx.lock.run(e.c.spec.id, async () => {
    if (e.rt.task !== 'paused') throw new FailedPreconditionError(`Container ${e.c.spec.id} is not paused`);
    await ctx.resumeTask(e.c.spec.id);
    e.rt.task = 'running';
    ctx.events.container('unpause', actor(e.c));
  });
}
