import { createLogger } from '@drydock/logging';
import { LifecycleHooks, type ContainerLifecycleHook, type HookContainer } from './lifecycle-hooks';

const c: HookContainer = { id: 'c1', name: 'web', spec: {} as HookContainer['spec'] };
const logger = createLogger({ service: 'test', level: 'silent' });

function recorder(calls: string[], name: string, failPrepare = false, failRelease = false): ContainerLifecycleHook {
  return {
    name,
    async prepare(run) {
      calls.push(`prepare ${name} ${run.pid}`);
      if (failPrepare) throw new Error(`${name} failed`);
    },
    async release(_c, reason) {
      calls.push(`release ${name} ${reason}`);
      if (failRelease) throw new Error(`${name} release failed`);
    },
  };
}

describe('LifecycleHooks', () => {
  it('prepares in order and releases in reverse order', async () => {
    const calls: string[] = [];
    const hooks = new LifecycleHooks([recorder(calls, 'a'), recorder(calls, 'b')], logger);
    await hooks.prepare({ ...c, pid: 42 });
    await hooks.release(c, 'exit');
    expect(calls).toEqual(['prepare a 42', 'prepare b 42', 'release b exit', 'release a exit']);
  });

  it('a failed prepare releases what was prepared before it and fails the start with its error', async () => {
    const calls: string[] = [];
    const hooks = new LifecycleHooks([recorder(calls, 'a'), recorder(calls, 'b', true), recorder(calls, 'c')], logger);
    await expect(hooks.prepare({ ...c, pid: 1 })).rejects.toThrow('b failed');
    expect(calls).toEqual(['prepare a 1', 'prepare b 1', 'release a start-failed']);
  });

  it('release never throws and still reaches every hook', async () => {
    const calls: string[] = [];
    const hooks = new LifecycleHooks([recorder(calls, 'a'), recorder(calls, 'b', false, true)], logger);
    await expect(hooks.release(c, 'remove')).resolves.toBeUndefined();
    expect(calls).toEqual(['release b remove', 'release a remove']);
  });

  it('hooks may implement only one side', async () => {
    const hooks = new LifecycleHooks([{ name: 'none' }], logger);
    await hooks.prepare({ ...c, pid: 1 });
    await hooks.release(c, 'exit');
  });

  it('runSpec merges the hooks\' patches (env lists joined), undefined when none has one', async () => {
    const none = new LifecycleHooks([{ name: 'a' }, { name: 'b', runSpec: async () => undefined }], logger);
    await expect(none.runSpec(c)).resolves.toBeUndefined();
    const hooks = new LifecycleHooks(
      [
        { name: 'a', runSpec: async () => ({ env: ['A=1'], hostname: 'x' }) },
        { name: 'b', runSpec: async () => ({ env: ['B=2'], netnsPath: '/proc/7/ns/net' }) },
      ],
      logger,
    );
    await expect(hooks.runSpec(c)).resolves.toEqual({ env: ['A=1', 'B=2'], hostname: 'x', netnsPath: '/proc/7/ns/net' });
    // plugin volumes' bind sources from two hooks are joined
    const mounts = new LifecycleHooks(
      [
        { name: 'net', runSpec: async () => ({ hostname: 'y' }) },
        { name: 'v1', runSpec: async () => ({ mountSources: { '/a': '/p/a' } }) },
        { name: 'v2', runSpec: async () => ({ mountSources: { '/b': '/p/b' } }) },
      ],
      logger,
    );
    await expect(mounts.runSpec(c)).resolves.toEqual({ env: [], hostname: 'y', mountSources: { '/a': '/p/a', '/b': '/p/b' } });
  });
});
