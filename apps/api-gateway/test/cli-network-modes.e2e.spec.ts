// `--network container:<x>` and legacy `--link`s through the real docker CLI: the joined
// run shares the target's interfaces, loopback, hosts, resolv.conf and hostname; the
// combinations dockerd refuses, with its texts; link variables; `docker rm -l`.
// Containers carry the `e2e-nm-` prefix.
import { useDockerStack } from './support/stack';
import { eventually, httpGet, out } from './support/expect';

const httpd = (text: string) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec busybox httpd -f -p 80 -h /www`];

describe('docker CLI: network modes and links', () => {
  const s = useDockerStack('e2enm');
  const inspect = async (what: string[], format: string) => (await s.docker([...what, '-f', format])).stdout.trimEnd();
  let webId = '';
  let webIp = '';

  beforeAll(async () => {
    const r = await s.docker(['run', '-d', '--name', 'e2e-nm-web', '--hostname', 'webhost', 'busybox', ...httpd('shared')]);
    expect(r.code).toBe(0);
    webId = r.stdout.trim();
    webIp = await inspect(['inspect', 'e2e-nm-web'], '{{.NetworkSettings.IPAddress}}');
    expect(webIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await eventually(() => httpGet(webIp, 80).catch(() => ''), (b) => b === 'shared\n', 20000, 'web server up');
  });

  afterAll(async () => {
    const ids = (await s.docker(['ps', '-aq', '--filter', 'name=e2e-nm-'])).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await s.docker(['rm', '-f', ...ids]);
  });

  describe('--network container:<name>', () => {
    it("sees the target's address, reaches its server on 127.0.0.1 and has its hostname and files", async () => {
      const r = await s.docker([
        'run', '--rm', '--network', 'container:e2e-nm-web', 'busybox', 'sh', '-c',
        'ip -4 -o addr show eth0; hostname; echo "HOSTNAME=$HOSTNAME"; wget -qO- http://127.0.0.1/; cat /etc/hosts; echo ---; cat /etc/resolv.conf',
      ]);
      expect(r.code).toBe(0);
      const [head, resolv] = r.stdout.split('---\n');
      expect(head).toMatch(new RegExp(`inet ${webIp.replace(/\./g, '\\.')}/\\d+`));
      expect(head).toContain('\nwebhost\nHOSTNAME=webhost\nshared\n');
      const hosts = (await s.docker(['exec', 'e2e-nm-web', 'cat', '/etc/hosts'])).stdout;
      expect(head.endsWith(hosts)).toBe(true);
      expect(hosts).toContain(`${webIp}\twebhost`);
      expect(resolv).toBe((await s.docker(['exec', 'e2e-nm-web', 'cat', '/etc/resolv.conf'])).stdout);
    });

    it('inspect: the mode holds the full id, no networks and no sandbox; the hostname is the target\'s', async () => {
      expect((await s.docker(['run', '-d', '--name', 'e2e-nm-side', '--network', 'container:e2e-nm-web', 'busybox', 'sleep', '300'])).code).toBe(0);
      const j = JSON.parse((await s.docker(['inspect', 'e2e-nm-side'])).stdout)[0];
      expect(j.HostConfig.NetworkMode).toBe(`container:${webId}`);
      expect(j.NetworkSettings).toMatchObject({ Networks: {}, SandboxKey: '', IPAddress: '', Gateway: '', MacAddress: '' });
      expect(j.Config.Hostname).toBe('webhost');
      // its run ends without taking the target's network down
      expect((await s.docker(['rm', '-f', 'e2e-nm-side'])).code).toBe(0);
      expect(await httpGet(webIp, 80)).toBe('shared\n');
      expect(await inspect(['inspect', 'e2e-nm-web'], '{{.NetworkSettings.IPAddress}}')).toBe(webIp);
    });

    // this CLI refuses both itself; the API answers as dockerd 20.10
    it('API: a network alias is accepted and ignored (never validated: no endpoint is made); a MAC address is refused (400)', async () => {
      const create = (name: string, body: object) => s.raw('POST', `/v1.41/containers/create?name=${name}`, JSON.stringify({ Image: 'busybox', Cmd: ['true'], ...body }), { 'Content-Type': 'application/json' });
      const a = await create('e2e-nm-alias', { HostConfig: { NetworkMode: 'container:e2e-nm-web' }, NetworkingConfig: { EndpointsConfig: { 'container:e2e-nm-web': { Aliases: ['x'] } } } });
      expect(a.status).toBe(201);
      expect(out(await s.docker(['start', '-a', 'e2e-nm-alias']))).toEqual({ code: 0, stdout: '', stderr: '' });
      const m = await create('e2e-nm-mac', { MacAddress: '02:42:ac:11:00:09', HostConfig: { NetworkMode: 'container:e2e-nm-web' } });
      expect({ status: m.status, body: JSON.parse(m.body) }).toEqual({ status: 400, body: { message: 'conflicting options: mac-address and the network mode' } });
    });

    it.each([
      [['--hostname', 'h'], 'conflicting options: hostname and the network mode'],
      [['--dns', '1.1.1.1'], 'conflicting options: dns and the network mode'],
      [['--add-host', 'a:1.2.3.4'], 'conflicting options: custom host-to-IP mapping and the network mode'],
      [['--link', 'e2e-nm-web:w'], "conflicting options: container type network can't be used with links. This would result in undefined behavior"],
      [['-p', '81:81'], 'conflicting options: port publishing and the container type network mode'],
      [['--expose', '81'], 'conflicting options: port exposing and the container type network mode'],
    ])('refuses %j at create with dockerd text, exit 125', async (flags, text) => {
      const r = await s.docker(['run', '--rm', '--network', 'container:e2e-nm-web', ...flags, 'busybox', 'true']);
      expect(out(r)).toEqual({ code: 125, stdout: '', stderr: `docker: Error response from daemon: ${text}\n\nRun 'docker run --help' for more information\n` });
    });

    it('refuses at start a target that is not running (409), itself (500) and a missing one (404)', async () => {
      const stopped = (await s.docker(['create', '--name', 'e2e-nm-stopped', 'busybox', 'true'])).stdout.trim();
      const r = await s.docker(['run', '--name', 'e2e-nm-join1', '--network', 'container:e2e-nm-stopped', 'busybox', 'true']);
      expect(out(r)).toEqual({ code: 125, stdout: '', stderr: `docker: Error response from daemon: cannot join network of a non running container: ${stopped}\n\nRun 'docker run --help' for more information\n` });
      expect(await inspect(['inspect', 'e2e-nm-join1'], '{{.State.Status}} {{.State.ExitCode}}')).toBe('created 128');

      expect((await s.docker(['create', '--name', 'e2e-nm-self', '--network', 'container:e2e-nm-self', 'busybox', 'true'])).code).toBe(0);
      expect(out(await s.docker(['start', 'e2e-nm-self']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: cannot join own network\nError: failed to start containers: e2e-nm-self\n' });

      const cr = await s.raw('POST', '/v1.41/containers/create?name=e2e-nm-orphan', JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'container:e2e-nm-nosuch' } }), { 'Content-Type': 'application/json' });
      expect(cr.status).toBe(201);
      const st = await s.raw('POST', '/v1.41/containers/e2e-nm-orphan/start', '');
      expect({ status: st.status, body: JSON.parse(st.body) }).toEqual({ status: 404, body: { message: 'No such container: e2e-nm-nosuch' } });
      expect(await inspect(['inspect', 'e2e-nm-orphan'], '{{.HostConfig.NetworkMode}}')).toBe('container:e2e-nm-nosuch');
    });
  });

  describe('--link', () => {
    it('sets the link variables and hosts entry; inspect shows the link as dockerd does', async () => {
      expect((await s.docker(['run', '-d', '--name', 'e2e-nm-db', '-e', 'DB_PASS=secret', '--expose', '6379', 'busybox', 'sleep', '300'])).code).toBe(0);
      const dbIp = await inspect(['inspect', 'e2e-nm-db'], '{{.NetworkSettings.IPAddress}}');
      const dbHost = await inspect(['inspect', 'e2e-nm-db'], '{{.Config.Hostname}}');
      const r = await s.docker(['run', '--name', 'e2e-nm-app', '--link', 'e2e-nm-db:my-db', 'busybox', 'sh', '-c', 'env | sort; cat /etc/hosts']);
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines.filter((l) => l.startsWith('MY_DB_'))).toEqual([
        'MY_DB_ENV_DB_PASS=secret',
        'MY_DB_NAME=/e2e-nm-app/my-db',
        `MY_DB_PORT=tcp://${dbIp}:6379`,
        `MY_DB_PORT_6379_TCP=tcp://${dbIp}:6379`,
        `MY_DB_PORT_6379_TCP_ADDR=${dbIp}`,
        'MY_DB_PORT_6379_TCP_PORT=6379',
        'MY_DB_PORT_6379_TCP_PROTO=tcp',
      ]);
      expect(lines).toContain(`${dbIp}\tmy-db ${dbHost} e2e-nm-db`);
      expect(await inspect(['inspect', 'e2e-nm-app'], '{{json .HostConfig.Links}}')).toBe('["/e2e-nm-db:/e2e-nm-app/my-db"]');
    });

    it('refuses a link to a missing container at create (400)', async () => {
      const r = await s.docker(['create', '--link', 'e2e-nm-nosuch:x', 'busybox', 'true']);
      expect(out(r)).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: could not get container for e2e-nm-nosuch: No such container: e2e-nm-nosuch\n' });
    });
  });

  describe('docker rm -l', () => {
    it('removes the link named; the next run has neither its variables nor its hosts entry', async () => {
      expect(out(await s.docker(['rm', '-l', '/e2e-nm-app/my-db']))).toEqual({ code: 0, stdout: '/e2e-nm-app/my-db\n', stderr: '' });
      expect(await inspect(['inspect', 'e2e-nm-app'], '{{json .HostConfig.Links}}')).toBe('null');
      const r = await s.docker(['start', '-a', 'e2e-nm-app']);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain('MY_DB_');
      expect(r.stdout).not.toContain('my-db');
      expect((await s.docker(['ps', '-a', '-q', '--filter', 'name=e2e-nm-db'])).stdout.trim()).not.toBe('');
    });

    it("refuses a container's own name and answers an unknown link with No such container", async () => {
      expect(out(await s.docker(['rm', '-l', 'e2e-nm-db']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: Conflict, cannot remove the default link name of the container\n' });
      const r = await s.docker(['rm', '-l', 'e2e-nm-app/nope']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^(Error|Error response from daemon): No such container: e2e-nm-app\/nope\n$/);
    });
  });
});
