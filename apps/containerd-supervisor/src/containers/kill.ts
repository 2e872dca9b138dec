import { FailedPreconditionError } from '@drydock/errors';
import { parseSignal } from '@drydock/oci-spec';
import { actor, isRunning, type ContainerContext } from './container-context';

/** docker kill: any signal; the stopping ones count as a manual stop for the restart policy. */
export async function killContainer(ctx: ContainerContext, ref: string, signal: string): Promise<void> {
  const e = ctx.resolve(ref);
  const sig = parseSignal(signal || 'SIGKILL');
  await ctx.lock.run(e.c.spec.id, async () => {
    if (!isRunning(e)) throw new FailedPreconditionError(`Cannot kill container: ${ref}: Container ${e.c.spec.id} is not running`);
    if (sig === 9 || sig === 15 || sig === 2) {
      e.c.state.manuallyStopped = true;
      await ctx.saveState(e);
    }
    await ctx.signal(e, sig, sig === 9);
    ctx.events.container('kill', actor(e.c), { signal: String(sig) });
  });
}
