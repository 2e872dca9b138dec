// Managed plugins through the real docker CLI: the test volume plugin packaged as a plugin image,
// pushed to the test docker-registry, installed, listed, inspected, set, enabled, used for a
// volume by `run -v`, kept across a supervisor restart, and removed.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildVolumePlugin, buildVolumePluginImage, ctr, makeTempDir, pushPluginImage, volumePluginConfig } from '@drydock/testing';
import { useDockerStack } from './support/stack';
import { eventually, out } from './support/expect';

const NS = 'drydock-plugins-e2epm';

describe('docker CLI: managed plugins', () => {
  let ref = '';
  let runDir = '';
  const tmpDirs: string[] = [];
  afterAll(() => {
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  });
  // registered before the stack's hooks: the supervisor's plugin settings are private to this file
  beforeAll(async () => {
    runDir = await makeTempDir('e2epmr');
    tmpDirs.push(runDir);
    s.supervisorEnv = { DRYDOCK_PLUGIN_RUN_DIR: runDir, DRYDOCK_PLUGIN_NAMESPACE: NS, DRYDOCK_PLUGIN_DIAL_FIRST_MS: '100', DRYDOCK_PLUGIN_DIAL_RETRY_MS: '500' };
  });
  const s = useDockerStack('e2epm');
  const rootfsOf = (id: string) => join(s.infra.dir, 'state', 'supervisor', 'plugins', id, 'rootfs');
  const calls = (id: string) => {
    const f = join(rootfsOf(id), 'data', 'calls.log');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
  };

  beforeAll(async () => {
    const bin = buildVolumePlugin(join(s.infra.dir, 'bin'));
    await pushPluginImage(s.infra.registry!.url, 'x/volplugin', 'latest', await buildVolumePluginImage(bin));
    ref = `${s.registry}/x/volplugin`;
    await s.importBusybox();
  }, 120000);

  it('install --grant-all-permissions, ls, inspect', async () => {
    const inst = await s.docker(['plugin', 'install', '--grant-all-permissions', ref]);
    expect(inst.code).toBe(0);
    expect(inst.stdout).toContain(`Installed plugin ${ref}`);
    // dockerd's plugin pull lines (the CLI drops byte-progress lines when its output is not a terminal)
    expect(inst.stdout).toMatch(/latest: Pulling from .*\nDigest: sha256:[0-9a-f]{64}\n[0-9a-f]{12}: Download complete\nStatus: Downloaded newer image for /);
    expect(out(await s.docker(['plugin', 'ls', '--format', '{{.Name}} {{.Enabled}} {{.Description}}']))).toEqual({ code: 0, stdout: `${ref}:latest true drydock test volume plugin\n`, stderr: '' });
    const id = (await s.docker(['plugin', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(out(await s.docker(['plugin', 'ls', '-q']))).toEqual({ code: 0, stdout: `${id.slice(0, 12)}\n`, stderr: '' });
    expect(out(await s.docker(['plugin', 'ls', '-q', '--no-trunc', '--filter', 'capability=volumedriver', '--filter', 'enabled=true']))).toEqual({ code: 0, stdout: `${id}\n`, stderr: '' });
    expect((await s.docker(['plugin', 'ls', '-q', '--filter', 'enabled=false'])).stdout).toBe('');
    const inspect = JSON.parse((await s.docker(['plugin', 'inspect', ref])).stdout);
    expect(inspect).toEqual([
      expect.objectContaining({ Id: id, Name: `${ref}:latest`, Enabled: true, Config: expect.objectContaining({ Interface: expect.objectContaining({ Types: ['docker.volumedriver/1.0'], Socket: 'tp.sock' }) }), Settings: expect.objectContaining({ Env: ['DEBUG=0'] }) }),
    ]);
    const again = await s.docker(['plugin', 'install', '--grant-all-permissions', ref]);
    expect(out(again)).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: plugin ${ref}:latest already exists\n` });
  });

  it('volume create -d and run -v through the plugin; disable and set refused while in use or enabled', async () => {
    const id = (await s.docker(['plugin', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();
    expect(out(await s.docker(['volume', 'create', '-d', ref, 'mpv']))).toEqual({ code: 0, stdout: 'mpv\n', stderr: '' });
    const r = await s.docker(['run', '--rm', '-v', 'mpv:/data', 'busybox', 'sh', '-c', 'echo via-managed > /data/f']);
    expect(out(r)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(join(rootfsOf(id), 'data', 'volumes', 'mpv', 'f'), 'utf8')).toBe('via-managed\n');
    expect(calls(id).some((c) => c.startsWith('Mount mpv '))).toBe(true);

    expect(out(await s.docker(['plugin', 'disable', ref]))).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: plugin ${ref}:latest is in use\n` });
    expect(out(await s.docker(['plugin', 'rm', ref]))).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: plugin ${ref}:latest is in use\n` });
    expect(out(await s.docker(['plugin', 'set', ref, 'DEBUG=1']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: cannot set on an active plugin, disable plugin before setting\n' });
  });

  it('a --restart always container using a plugin volume comes back after the supervisor and the plugin died', async () => {
    const id = (await s.docker(['plugin', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();
    expect((await s.docker(['run', '-d', '--restart', 'always', '--name', 'keeper', '-v', 'mpv:/data', 'busybox', 'sleep', '1000'])).code).toBe(0);
    const cid = (await s.docker(['inspect', '-f', '{{.Id}}', 'keeper'])).stdout.trim();
    await s.killSupervisor();
    // what a host reboot does to both: the plugin and the container are gone when the supervisor starts
    await ctr(s.infra.containerd!.address, ['tasks', 'kill', '-s', 'SIGKILL', id], NS);
    await ctr(s.infra.containerd!.address, ['tasks', 'kill', '-s', 'SIGKILL', cid], 'drydock');
    const stopped = (ns: string, task: string) => async () => (await ctr(s.infra.containerd!.address, ['tasks', 'ls'], ns)).split('\n').find((l) => l.startsWith(task)) ?? '';
    await eventually(stopped(NS, id), (l) => !/RUNNING/.test(l), 10000, 'plugin task stopped');
    await eventually(stopped('drydock', cid), (l) => !/RUNNING/.test(l), 10000, 'container task stopped');
    const mountsBefore = calls(id).filter((c) => c === `Mount mpv ${cid}`).length;
    await s.startSupervisor();
    // restarted by its policy, which found the plugin answering: it mounted the volume again
    await eventually(async () => calls(id).filter((c) => c === `Mount mpv ${cid}`).length, (n) => n > mountsBefore, 30000, 'volume mounted again');
    await eventually(async () => (await s.docker(['inspect', '-f', '{{.State.Running}} {{.RestartCount}}', 'keeper'])).stdout.trim(), (v) => v.startsWith('true'), 30000, 'keeper running again');
    expect((await s.docker(['plugin', 'inspect', '-f', '{{.Enabled}}', ref])).stdout.trim()).toBe('true');
    expect((await s.docker(['rm', '-f', 'keeper'])).code).toBe(0);
  });

  it('a supervisor restart does not interrupt a running plugin', async () => {
    const id = (await s.docker(['plugin', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();
    const before = await ctr(s.infra.containerd!.address, ['tasks', 'ls'], NS);
    await s.killSupervisor();
    await s.startSupervisor();
    expect(await ctr(s.infra.containerd!.address, ['tasks', 'ls'], NS)).toBe(before);
    expect(before).toContain(id);
    expect(before).toMatch(/RUNNING/);
  });

  it('disable, set, enable, rm; the socket directory is gone afterwards', async () => {
    const id = (await s.docker(['plugin', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();
    expect(out(await s.docker(['volume', 'rm', 'mpv']))).toEqual({ code: 0, stdout: 'mpv\n', stderr: '' });
    expect(out(await s.docker(['plugin', 'disable', ref]))).toEqual({ code: 0, stdout: `${ref}\n`, stderr: '' });
    expect(out(await s.docker(['plugin', 'set', ref, 'DEBUG=1']))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(out(await s.docker(['plugin', 'set', ref, 'NOPE=1']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: setting "NOPE" not found in the plugin configuration\n' });
    expect((await s.docker(['plugin', 'inspect', '-f', '{{json .Settings.Env}}', ref])).stdout.trim()).toBe('["DEBUG=1"]');
    expect(out(await s.docker(['plugin', 'enable', ref]))).toEqual({ code: 0, stdout: `${ref}\n`, stderr: '' });
    expect(out(await s.docker(['plugin', 'rm', ref]))).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: plugin ${ref}:latest is enabled\n` });
    expect(out(await s.docker(['plugin', 'rm', '-f', ref]))).toEqual({ code: 0, stdout: `${ref}\n`, stderr: '' });
    expect((await s.docker(['plugin', 'ls', '-q'])).stdout).toBe('');
    expect(readdirSync(runDir)).toEqual([]);
    expect(await ctr(s.infra.containerd!.address, ['containers', 'ls', '-q'], NS)).toBe('');
  });

  it('create from a directory, push it, install it again under an alias with settings, upgrade it', async () => {
    const dir = await makeTempDir('e2epmc');
    tmpDirs.push(dir);
    mkdirSync(join(dir, 'rootfs', 'data'), { recursive: true });
    copyFileSync(buildVolumePlugin(join(s.infra.dir, 'bin')), join(dir, 'rootfs', 'volume-plugin'));
    chmodSync(join(dir, 'rootfs', 'volume-plugin'), 0o755);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...volumePluginConfig(), description: 'made here' }));
    const made = `${s.registry}/x/made:v1`;
    expect(out(await s.docker(['plugin', 'create', made, dir]))).toEqual({ code: 0, stdout: `${made}\n`, stderr: '' });
    expect((await s.docker(['plugin', 'inspect', '-f', '{{.Enabled}} {{.Config.Description}}', made])).stdout.trim()).toBe('false made here');
    const push = await s.docker(['plugin', 'push', made]);
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/The push refers to repository \[.*\/x\/made\]\n[0-9a-f]{12}: Preparing\n[0-9a-f]{12}: Pushed\nv1: digest: sha256:[0-9a-f]{64} size: \d+/);
    expect(out(await s.docker(['plugin', 'rm', made]))).toEqual({ code: 0, stdout: `${made}\n`, stderr: '' });

    // the pushed plugin installs from the registry, under an alias, with a setting, disabled
    const inst = await s.docker(['plugin', 'install', '--grant-all-permissions', '--alias', 'mine', '--disable', made, 'DEBUG=7']);
    expect(inst.code).toBe(0);
    expect((await s.docker(['plugin', 'inspect', '-f', '{{.Name}} {{.Enabled}} {{json .Settings.Env}} {{.PluginReference}}', 'mine'])).stdout.trim()).toBe(`mine:latest false ["DEBUG=7"] ${made}`);
    // upgrade to another plugin image, keeping its settings
    const up = await s.docker(['plugin', 'upgrade', '--grant-all-permissions', '--skip-remote-check', 'mine', `${ref}:latest`]);
    expect(up.stdout).toContain('Upgraded plugin mine:latest');
    expect(up.stdout).toMatch(/latest: Pulling from .*\nDigest: sha256:[0-9a-f]{64}\n[0-9a-f]{12}: Download complete\nStatus: Downloaded newer image for mine:latest/);
    expect(up.code).toBe(0);
    expect((await s.docker(['plugin', 'inspect', '-f', '{{.Config.Description}} {{json .Settings.Env}}', 'mine'])).stdout.trim()).toBe('drydock test volume plugin ["DEBUG=7"]');
    expect(out(await s.docker(['plugin', 'enable', 'mine']))).toEqual({ code: 0, stdout: 'mine\n', stderr: '' });
    const upEnabled = await s.docker(['plugin', 'upgrade', '--grant-all-permissions', 'mine', `${ref}:latest`]);
    expect(upEnabled.code).toBe(1);
    // the CLI checks this itself; the API answers dockerd's text to other clients
    expect(upEnabled.stderr).toContain('the plugin must be disabled before upgrading');
    const api = await s.raw('POST', `/v1.41/plugins/mine:latest/upgrade?remote=${encodeURIComponent(`${ref}:latest`)}`, '[]');
    expect([api.status, JSON.parse(api.body)]).toEqual([409, { message: 'plugin must be disabled before upgrading: plugin mine:latest is enabled' }]);
    expect((await s.docker(['plugin', 'rm', '-f', 'mine'])).code).toBe(0);
  });

  it('an image that is not a plugin, and a hostile config: refused, nothing installed', async () => {
    expect((await s.docker(['tag', 'busybox', `${s.registry}/x/notplugin`])).code).toBe(0);
    expect((await s.docker(['push', `${s.registry}/x/notplugin`])).code).toBe(0);
    const notPlugin = await s.docker(['plugin', 'install', '--grant-all-permissions', `${s.registry}/x/notplugin`]);
    expect(notPlugin.code).toBe(1);
    expect(notPlugin.stderr).toContain('fetched plugin image but plugin config is missing');
    const bin = buildVolumePlugin(join(s.infra.dir, 'bin'));
    await pushPluginImage(s.infra.registry!.url, 'x/hostile', 'latest', await buildVolumePluginImage(bin, { ...volumePluginConfig(), mounts: [{ name: 'etc', destination: 'etc', source: '/etc', type: 'bind' }] }));
    const hostile = await s.docker(['plugin', 'install', '--grant-all-permissions', `${s.registry}/x/hostile`]);
    expect(hostile.code).toBe(1);
    expect(hostile.stderr).toContain('invalid plugin config: Mounts[0].Destination must be an absolute path');
    expect((await s.docker(['plugin', 'ls', '-q'])).stdout).toBe('');
    expect(readdirSync(join(s.infra.dir, 'state', 'supervisor', 'plugins')).filter((f) => f !== '.staging')).toEqual([]);
  });

  it('the privileges step over the API: what is asked, refused when not granted, installed when granted', async () => {
    const bin = buildVolumePlugin(join(s.infra.dir, 'bin'));
    await pushPluginImage(s.infra.registry!.url, 'x/privs', 'latest', await buildVolumePluginImage(bin, { ...volumePluginConfig(), network: { type: 'host' }, linux: { capabilities: ['CAP_SYS_ADMIN'] } }));
    const remote = encodeURIComponent(`${s.registry}/x/privs`);
    const privs = await s.raw('GET', `/v1.41/plugins/privileges?remote=${remote}`);
    const want = [
      { Name: 'network', Description: 'permissions to access a network', Value: ['host'] },
      { Name: 'capabilities', Description: 'list of additional capabilities required', Value: ['CAP_SYS_ADMIN'] },
    ];
    expect([privs.status, JSON.parse(privs.body)]).toEqual([200, want]);
    const refused = await s.raw('POST', `/v1.41/plugins/pull?remote=${remote}`, '[]');
    expect([refused.status, JSON.parse(refused.body)]).toEqual([400, { message: 'incorrect privileges' }]);
    expect((await s.docker(['plugin', 'ls', '-q'])).stdout).toBe('');
    const pulled = await s.raw('POST', `/v1.41/plugins/pull?remote=${remote}&name=granted`, JSON.stringify(want));
    expect(pulled.status).toBe(200);
    expect(pulled.headers['docker-plugin-name']).toBe('granted:latest');
    // streamed as the layer arrived: chunked, with the layer's byte progress before its completion
    expect(pulled.headers['transfer-encoding']).toBe('chunked');
    const lines = pulled.body.trim().split('\r\n').map((l) => JSON.parse(l) as { status?: string; id?: string; progressDetail?: { current?: number; total?: number } });
    const layer = lines.find((l) => l.status === 'Download complete')!.id;
    const downloading = lines.findIndex((l) => l.id === layer && l.status === 'Downloading');
    expect(downloading).toBeGreaterThan(1);
    expect(lines[downloading].progressDetail).toEqual({ current: expect.any(Number), total: expect.any(Number) });
    expect(downloading).toBeLessThan(lines.findIndex((l) => l.id === layer && l.status === 'Download complete'));
    expect(lines[lines.length - 1]).toEqual({ status: 'Status: Downloaded newer image for granted:latest' });
    const listed = JSON.parse((await s.raw('GET', '/v1.41/plugins')).body);
    expect(listed).toEqual([expect.objectContaining({ Name: 'granted:latest', Enabled: false, PluginReference: `${s.registry}/x/privs:latest` })]);
    expect(Object.keys(listed[0]).sort()).toEqual(['Config', 'Enabled', 'Id', 'Name', 'PluginReference', 'Settings']);
    const del = await s.raw('DELETE', '/v1.41/plugins/granted:latest');
    expect(del.status).toBe(200);
  });

  it("inspect of a plugin that is not there: dockerd's text", async () => {
    const r = await s.docker(['plugin', 'inspect', 'nosuch']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('plugin "nosuch" not found');
  });
});
