import { performance } from 'node:perf_hooks';
// Legacy volume plugins through the real docker CLI: volume create -d, run -v, volume ls/inspect/rm,
// in-use errors, docker info's Plugins.Volume, and a stuck plugin that blocks only what needs it.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildVolumePlugin, makeTempDir, TestVolumePlugin } from '@drydock/testing';
import { useDockerStack } from './support/stack';
import { eventually, FULL_ID, out } from './support/expect';

describe('docker CLI: volume plugins', () => {
  let dir = '';
  let plugin: TestVolumePlugin;
  let stuck: TestVolumePlugin;
  // registered before the stack's hooks: the supervisor's plugin directories are private to this file
  beforeAll(async () => {
    dir = await makeTempDir('e2evp');
    mkdirSync(join(dir, 'run'));
    const bin = buildVolumePlugin(join(dir, 'bin'));
    plugin = await new TestVolumePlugin(bin, join(dir, 'run', 'e2etp.sock'), join(dir, 'e2etp')).start();
    stuck = await new TestVolumePlugin(bin, join(dir, 'run', 'e2estuck.sock'), join(dir, 'e2estuck')).start();
    s.supervisorEnv = {
      DRYDOCK_PLUGIN_SOCKETS_DIR: join(dir, 'run'),
      DRYDOCK_PLUGIN_SPECS_DIRS: join(dir, 'etc'),
      DRYDOCK_PLUGIN_LONG_TIMEOUT_MS: '4000',
      DRYDOCK_PLUGIN_SHORT_TIMEOUT_MS: '3000',
      DRYDOCK_PLUGIN_RETRY_MS: '500',
      DRYDOCK_VOLUME_LIST_BUDGET_MS: '1000',
    };
  });
  afterAll(async () => {
    await plugin?.stop();
    await stuck?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const s = useDockerStack('e2evp');

  it('volume create -d, inspect, ls (merged with local volumes) and info', async () => {
    expect(out(await s.docker(['volume', 'create', '-d', 'e2etp', '-o', 'size=1g', '--label', 'team=a', 'vp1']))).toEqual({ code: 0, stdout: 'vp1\n', stderr: '' });
    expect((await s.docker(['volume', 'create', 'loc1'])).code).toBe(0);
    const inspect = JSON.parse((await s.docker(['volume', 'inspect', 'vp1'])).stdout);
    expect(inspect).toEqual([
      expect.objectContaining({ Name: 'vp1', Driver: 'e2etp', Mountpoint: join(plugin.dir, 'volumes', 'vp1'), Scope: 'local', Labels: { team: 'a' }, Options: { size: '1g' }, Status: { backend: 'test-plugin' } }),
    ]);
    const ls = await s.docker(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
    expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['e2etp vp1', 'local loc1']));
    const filtered = await s.docker(['volume', 'ls', '-q', '--filter', 'driver=e2etp']);
    expect(out(filtered)).toEqual({ code: 0, stdout: 'vp1\n', stderr: '' });
    const info = await s.docker(['info', '--format', '{{json .Plugins.Volume}}']);
    expect(JSON.parse(info.stdout)).toEqual(['local', 'e2estuck', 'e2etp']);
  });

  it("answers dockerd's text for a plugin that is not there", async () => {
    const r = await s.docker(['volume', 'create', '-d', 'nosuch', 'vx']);
    expect(out(r)).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: create vx: error looking up volume plugin nosuch: plugin "nosuch" not found\n' });
  });

  it('run -v mounts the plugin volume with the container id and unmounts it at exit', async () => {
    const r = await s.docker(['run', '--name', 'vpw', '-v', 'vp1:/data', 'busybox', 'sh', '-c', 'echo from-cli > /data/f && cat /data/f']);
    expect(out(r)).toEqual({ code: 0, stdout: 'from-cli\n', stderr: '' });
    expect(readFileSync(join(plugin.dir, 'volumes', 'vp1', 'f'), 'utf8')).toBe('from-cli\n');
    const id = (await s.docker(['inspect', '-f', '{{.Id}}', 'vpw'])).stdout.trim();
    expect(id).toMatch(FULL_ID);
    expect(plugin.calls()).toContain(`Mount vp1 ${id}`);
    // as in dockerd, the exit is reported first and the volume unmounted right after (daemon.Cleanup)
    await eventually(async () => plugin.calls(), (calls) => calls.includes(`Unmount vp1 ${id}`), 5000, 'unmount');
    const mounts = JSON.parse((await s.docker(['inspect', '-f', '{{json .Mounts}}', 'vpw'])).stdout);
    expect(mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: 'vp1', Driver: 'e2etp', Destination: '/data' })]);

    // in use while the container exists (dockerd's text), removed once it is gone
    const inUse = await s.docker(['volume', 'rm', 'vp1']);
    expect(out(inUse)).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: remove vp1: volume is in use - [${id}]\n` });
    expect((await s.docker(['rm', 'vpw'])).code).toBe(0);
    expect(out(await s.docker(['volume', 'rm', 'vp1']))).toEqual({ code: 0, stdout: 'vp1\n', stderr: '' });
    expect(existsSync(join(plugin.dir, 'volumes', 'vp1'))).toBe(false);
    expect(plugin.calls()).toContain('Remove vp1');
  });

  it('--volume-driver makes -v of a new name a plugin volume', async () => {
    const r = await s.docker(['run', '--rm', '--volume-driver', 'e2etp', '-v', 'vp2:/v', 'busybox', 'sh', '-c', 'echo two > /v/x']);
    expect(out(r)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(plugin.calls()).toContain('Create vp2');
    expect((await s.docker(['volume', 'inspect', '-f', '{{.Driver}}', 'vp2'])).stdout).toBe('e2etp\n');
    expect(readFileSync(join(plugin.dir, 'volumes', 'vp2', 'x'), 'utf8')).toBe('two\n');
    expect((await s.docker(['volume', 'rm', 'vp2'])).code).toBe(0);
  });

  it('a stuck plugin: ps, inspect and run of other containers answer at once; run -v of its volume fails at the deadline', async () => {
    expect((await s.docker(['volume', 'create', '-d', 'e2estuck', 'sv1'])).code).toBe(0);
    expect((await s.docker(['run', '-d', '--name', 'bystander', 'busybox', 'sleep', '60'])).code).toBe(0);
    stuck.hang('*');
    try {
      const t0 = performance.now();
      const blocked = s.docker(['run', '--rm', '-v', 'sv1:/s', 'busybox', 'true']);
      await new Promise((r) => setTimeout(r, 300));
      for (const args of [['ps', '-a'], ['inspect', 'bystander'], ['volume', 'inspect', 'loc1']]) {
        const t = performance.now();
        expect((await s.docker(args)).code).toBe(0);
        expect(performance.now() - t).toBeLessThan(1500);
      }
      const t1 = performance.now();
      expect(out(await s.docker(['run', '--rm', 'busybox', 'echo', 'unaffected']))).toEqual({ code: 0, stdout: 'unaffected\n', stderr: '' });
      expect(performance.now() - t1).toBeLessThan(3000);
      const ls = await s.docker(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
      expect(ls.code).toBe(0);
      expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['local loc1', 'e2estuck sv1']));
      const r = await blocked;
      expect(performance.now() - t0).toBeGreaterThanOrEqual(4000);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`error while mounting volume 'sv1': VolumeDriver.Mount: context deadline exceeded: plugin "e2estuck" did not answer within 4 s`);
    } finally {
      stuck.heal();
      await s.docker(['rm', '-f', 'bystander']);
    }
    expect((await s.docker(['volume', 'rm', 'sv1'])).code).toBe(0);
  });
});
