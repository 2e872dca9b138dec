// A MANAGED authorization plugin through the real docker CLI: the test plugin (volume-plugin.c with
// --authz deny:azdeny) packaged as a plugin image, pushed to the test registry, installed with
// --grant-all-permissions, and named in DRYDOCK_GATEWAY_AUTHZ_PLUGINS; then disabled, which drops
// it from the chain as dockerd 20.10 does (plugin/backend_linux.go Disable -> RemovePlugin).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildVolumePlugin, buildVolumePluginImage, makeTempDir, pushPluginImage, volumePluginConfig } from '@drydock/testing';
import { useDockerStack } from './support/stack';
import { out } from './support/expect';

const NS = 'drydock-plugins-e2eazm';

/** The test plugin as an authz plugin that denies requests whose URI contains "azdeny". */
function authzConfig(): Record<string, unknown> {
  return {
    ...volumePluginConfig('authz.sock'),
    description: 'drydock test authz plugin',
    entrypoint: ['/volume-plugin', '--socket', '/run/docker/plugins/authz.sock', '--dir', '/data', '--authz', 'deny:azdeny'],
    interface: { types: ['docker.authz/1.0'], socket: 'authz.sock' },
  };
}

describe('docker CLI: a managed authorization plugin', () => {
  let ref = '';
  let runDir = '';
  let id = '';
  const tmpDirs: string[] = [];
  afterAll(() => {
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  });
  beforeAll(async () => {
    runDir = await makeTempDir('e2eazmr');
    tmpDirs.push(runDir);
    s.supervisorEnv = { DRYDOCK_PLUGIN_RUN_DIR: runDir, DRYDOCK_PLUGIN_NAMESPACE: NS, DRYDOCK_PLUGIN_DIAL_FIRST_MS: '100', DRYDOCK_PLUGIN_DIAL_RETRY_MS: '500' };
  });
  const s = useDockerStack('e2eazm');
  const calls = () => {
    const f = join(s.infra.dir, 'state', 'supervisor', 'plugins', id, 'rootfs', 'data', 'calls.log');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
  };
  const asked = (uriPart: string) => calls().filter((c) => c.startsWith('AuthZPlugin.AuthZReq ') && c.includes(uriPart));

  beforeAll(async () => {
    const bin = buildVolumePlugin(join(s.infra.dir, 'bin'));
    await pushPluginImage(s.infra.registry!.url, 'x/azplugin', 'latest', await buildVolumePluginImage(bin, authzConfig()));
    ref = `${s.registry}/x/azplugin`;
    await s.importBusybox();
  }, 120000);

  it('install --grant-all-permissions, then the gateway started with it asks it about every request', async () => {
    const inst = await s.docker(['plugin', 'install', '--grant-all-permissions', ref]);
    expect(inst.code).toBe(0);
    expect(inst.stdout).toContain(`Installed plugin ${ref}`);
    id = (await s.docker(['plugin', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    // named as a user writes it (no tag): dockerd finds `ref:latest`
    s.gatewayEnv = { DRYDOCK_GATEWAY_AUTHZ_PLUGINS: ref, DRYDOCK_PLUGIN_RUN_DIR: runDir, DRYDOCK_GATEWAY_AUTHZ_TIMEOUT_MS: '5000' };
    await s.restartGateway();
    const r = await s.docker(['run', '--rm', '--name', 'azok', 'busybox', 'echo', 'hello']);
    expect(out(r)).toEqual({ code: 0, stdout: 'hello\n', stderr: '' });
    expect(out(await s.docker(['ps', '-a', '--format', '{{.Names}}']))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(asked('/containers/create?name=azok')).toHaveLength(1);
    expect(asked('/containers/json')).not.toHaveLength(0);
    expect(calls().some((c) => c.startsWith('AuthZPlugin.AuthZRes ') && c.includes('/containers/create?name=azok'))).toBe(true);
  });

  it("a denied docker run fails with dockerd's text and creates nothing", async () => {
    const r = await s.docker(['run', '--name', 'azdeny1', 'busybox', 'true']);
    expect(r.code).toBe(125);
    // dockerd names a managed plugin by its full name once found (pkg/authorization/plugin.go SetName)
    expect(r.stderr).toMatch(new RegExp(`^docker: Error response from daemon: authorization denied by plugin ${ref.replace(/[.]/g, '\\.')}:latest: uri contains azdeny\\.?\\n`));
    // (a name filter would carry "azdeny" in its URI and be denied too)
    expect(out(await s.docker(['ps', '-a', '--format', '{{.Names}}']))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(asked('/containers/create?name=azdeny1')).toHaveLength(1);
    // denied before the route: no AuthZRes for it
    expect(calls().filter((c) => c.startsWith('AuthZPlugin.AuthZRes ') && c.includes('azdeny1'))).toEqual([]);
    const inspect = await s.docker(['volume', 'inspect', 'azdeny-vol']);
    expect(inspect.code).toBe(1);
    expect(inspect.stderr).toContain(`Error response from daemon: authorization denied by plugin ${ref}:latest: uri contains azdeny\n`);
  });

  it('docker plugin disable drops it from the chain, as dockerd does; enabling it again does not bring it back', async () => {
    expect(out(await s.docker(['plugin', 'disable', ref]))).toEqual({ code: 0, stdout: `${ref}\n`, stderr: '' });
    const before = calls().length;
    const r = await s.docker(['run', '--name', 'azdeny2', 'busybox', 'echo', 'unchecked']);
    expect(out(r)).toEqual({ code: 0, stdout: 'unchecked\n', stderr: '' });
    expect(out(await s.docker(['ps', '-a', '--filter', 'name=azdeny2', '--format', '{{.Names}}']))).toEqual({ code: 0, stdout: 'azdeny2\n', stderr: '' });
    expect(out(await s.docker(['rm', 'azdeny2']))).toEqual({ code: 0, stdout: 'azdeny2\n', stderr: '' });
    // dockerd adds a plugin back to its middleware only on a reload (SIGHUP), not on enable
    expect(out(await s.docker(['plugin', 'enable', ref]))).toEqual({ code: 0, stdout: `${ref}\n`, stderr: '' });
    expect(out(await s.docker(['volume', 'create', 'azdeny-vol2']))).toEqual({ code: 0, stdout: 'azdeny-vol2\n', stderr: '' });
    expect((await s.docker(['volume', 'inspect', 'azdeny-vol2'])).code).toBe(0);
    expect(calls().slice(before).filter((c) => c.startsWith('AuthZPlugin.'))).toEqual([]);
    // a restarted gateway (dockerd: a restart or reload) asks it again
    await s.restartGateway();
    const again = await s.docker(['volume', 'rm', 'azdeny-vol2']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`Error response from daemon: authorization denied by plugin ${ref}:latest: uri contains azdeny\n`);
    s.gatewayEnv = {};
    await s.restartGateway();
    expect((await s.docker(['volume', 'rm', 'azdeny-vol2'])).code).toBe(0);
    expect((await s.docker(['plugin', 'rm', '-f', ref])).code).toBe(0);
  });
});
