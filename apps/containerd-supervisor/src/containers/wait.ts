import { isRunning, type ContainerContext } from './container-context';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/**
 * docker wait: registers a waiter; `registered` resolves once it can no longer
 * miss the exit, `result` with the exit code.
 */
export function waitContainer(ctx: ContainerContext, ref: string, condition: WaitCondition): { registered: Promise<void>; result: Promise<number>; cancel: () => void } {
  const e = ctx.resolve(ref);
  let cancel = () => {};
  const result = new Promise<number>((resolve) => {
    if (condition === 'not-running' && !isRunning(e) && e.rt.task !== 'stopped' && !e.rt.starting && !e.c.state.restarting) {
      resolve(e.c.state.exitCode);
      return;
    }
    const list = condition === 'removed' ? e.rt.removeWaiters : e.rt.exitWaiters;
    list.push(resolve);
    cancel = () => {
      const i = list.indexOf(resolve);
      if (i >= 0) list.splice(i, 1);
    };
  });
  return { registered: Promise.resolve(), result, cancel };
}
