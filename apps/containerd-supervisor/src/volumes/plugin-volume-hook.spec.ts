import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@drydock/logging';
import type { HookContainer } from '../containers/lifecycle-hooks';
import { tempDir } from '@drydock/plugins/testing';
import { PluginVolumeHook, type PluginVolumeMounter } from './plugin-volume-hook';

const logger = createLogger({ service: 'test', level: 'silent' });

function container(id: string, mounts: { source: string; target: string; driver?: string; type?: string }[]): HookContainer {
  return { id, name: id, spec: { hostConfig: { mounts: mounts.map((m) => ({ type: 'volume', ...m })) } } as unknown as HookContainer['spec'] };
}

describe('PluginVolumeHook', () => {
  const t = tempDir('hook');
  afterAll(() => t.cleanup());
  const calls: string[] = [];
  let failOn = '';
  const mounter: PluginVolumeMounter = {
    mount: async (name, driver, id) => {
      calls.push(`mount ${driver}/${name} ${id}`);
      if (name === failOn) throw new Error(`error while mounting volume '${name}': boom`);
      return `/plugin/${name}`;
    },
    unmount: async (name, driver, id) => void calls.push(`unmount ${driver}/${name} ${id}`),
  };
  const hook = new PluginVolumeHook(mounter, join(t.dir, 'mounts'), logger);
  beforeEach(() => {
    calls.length = 0;
    failOn = '';
  });

  it('leaves containers without plugin volumes alone', async () => {
    await expect(hook.runSpec(container('c0', [{ source: 'loc', target: '/l' }, { source: 'loc2', target: '/m', driver: 'local' }]))).resolves.toBeUndefined();
    await hook.release(container('c0', []));
    expect(calls).toEqual([]);
    expect(existsSync(join(t.dir, 'mounts', 'c0.json'))).toBe(false);
  });

  it('mounts with the container id before the run, unmounts once after it', async () => {
    const c = container('c1', [{ source: 'a', target: '/a', driver: 'p' }, { source: 'loc', target: '/l' }, { source: 'b', target: '/b', driver: 'q' }]);
    await expect(hook.runSpec(c)).resolves.toEqual({ mountSources: { '/a': '/plugin/a', '/b': '/plugin/b' } });
    expect(existsSync(join(t.dir, 'mounts', 'c1.json'))).toBe(true);
    await hook.release(c);
    await hook.release(c);
    expect(calls).toEqual(['mount p/a c1', 'mount q/b c1', 'unmount q/b c1', 'unmount p/a c1']);
  });

  it('a failed mount unmounts the ones done and fails the start with its error', async () => {
    failOn = 'b';
    const c = container('c2', [{ source: 'a', target: '/a', driver: 'p' }, { source: 'b', target: '/b', driver: 'p' }]);
    await expect(hook.runSpec(c)).rejects.toThrow("error while mounting volume 'b': boom");
    await hook.release(c);
    expect(calls).toEqual(['mount p/a c2', 'mount p/b c2', 'unmount p/a c2']);
  });

  it('a run never released (a crash) is unmounted before the next one mounts', async () => {
    const c = container('c3', [{ source: 'a', target: '/a', driver: 'p' }]);
    await hook.runSpec(c);
    await hook.runSpec(c);
    expect(calls).toEqual(['mount p/a c3', 'unmount p/a c3', 'mount p/a c3']);
  });
});
