// Container networking through the real docker CLI against the gateway: the network API
// (create/ls/inspect/rm/prune/connect/disconnect), published ports reached from the host,
// `docker port`, ps's PORTS column and inspect's NetworkSettings. Expected outputs were
// recorded from Docker Engine 20.10.24 with the same commands. Networks and containers
// carry the `e2e-net-` prefix; the stack's supervisor owns the bridges and rules.
import { createServer } from 'node:net';
import { freePort } from '@drydock/infra';
import { useDockerStack } from './support/stack';
import { eventually, FULL_ID, httpGet, out } from './support/expect';

/** A web server in the test image: busybox's own httpd applet serving /www/index.html. */
/** Whether a host process can listen on the port now: 'ok' or the bind error's code. */
function hostBind(port: number): Promise<string> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
    srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => srv.close(() => resolve('ok')));
  });
}

const httpd = (text: string) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec busybox httpd -f -p 80 -h /www`];

describe('docker CLI: networks', () => {
  const s = useDockerStack('e2enet');
  const inspect = async (what: string[], format: string) => (await s.docker([...what, '-f', format])).stdout.trimEnd();

  afterAll(async () => {
    const ps = await s.docker(['ps', '-aq', '--filter', 'name=e2e-net-']);
    const ids = ps.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await s.docker(['rm', '-f', ...ids]);
    await s.docker(['network', 'prune', '-f']);
  });

  describe('network ls / inspect', () => {
    it('lists bridge, host and none', async () => {
      const r = await s.docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(expect.arrayContaining(['bridge bridge local', 'host host local', 'none null local']));
    });

    it('inspects the default bridge with its pool and gateway', async () => {
      const j = JSON.parse((await s.docker(['network', 'inspect', 'bridge'])).stdout)[0];
      expect(j).toMatchObject({ Name: 'bridge', Scope: 'local', Driver: 'bridge', EnableIPv6: false, Internal: false, IPAM: { Driver: 'default' } });
      expect(j.Id).toMatch(FULL_ID);
      expect(j.IPAM.Config[0].Subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    });

    it('answers a missing network with dockerd text and exit 1', async () => {
      const r = await s.docker(['network', 'inspect', 'e2e-net-nope']);
      expect(out(r)).toEqual({ code: 1, stdout: '[]\n', stderr: 'Error response from daemon: network e2e-net-nope not found\n' });
    });
  });

  describe('network create / rm', () => {
    it('creates a network with --subnet --gateway --ip-range --label --internal and shows them in inspect', async () => {
      const r = await s.docker(['network', 'create', '--subnet', '10.177.0.0/16', '--gateway', '10.177.0.254', '--ip-range', '10.177.1.0/24', '--label', 'tier=e2e', '--internal', 'e2e-net-a']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toMatch(FULL_ID);
      const j = JSON.parse((await s.docker(['network', 'inspect', 'e2e-net-a'])).stdout)[0];
      expect(j).toMatchObject({
        Name: 'e2e-net-a',
        Id: r.stdout.trim(),
        Driver: 'bridge',
        Internal: true,
        IPAM: { Driver: 'default', Config: [{ Subnet: '10.177.0.0/16', IPRange: '10.177.1.0/24', Gateway: '10.177.0.254' }] },
        Containers: {},
        Labels: { tier: 'e2e' },
      });
      // a 12-character prefix of the id finds it too
      expect(await inspect(['network', 'inspect', r.stdout.trim().slice(0, 12)], '{{.Name}}')).toBe('e2e-net-a');
    });

    it('refuses a duplicate name (409) and an overlapping subnet (403) with dockerd texts', async () => {
      await s.docker(['network', 'create', '--subnet', '10.178.0.0/16', 'e2e-net-dup']);
      expect(out(await s.docker(['network', 'create', 'e2e-net-dup']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: network with name e2e-net-dup already exists\n' });
      expect(out(await s.docker(['network', 'create', '--subnet', '10.178.5.0/24', 'e2e-net-ovl']))).toEqual({
        code: 1,
        stdout: '',
        stderr: 'Error response from daemon: Pool overlaps with other one on this address space\n',
      });
      expect((await s.docker(['network', 'ls', '-q', '--filter', 'name=e2e-net-ovl'])).stdout).toBe('');
    });

    it('refuses bad input with dockerd texts and makes nothing', async () => {
      expect(out(await s.docker(['network', 'create', '--subnet', 'foo', 'e2e-net-bad']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: Invalid subnet foo : invalid CIDR address: foo\n' });
      expect(out(await s.docker(['network', 'create', '-d', 'e2e-nodriver', 'e2e-net-bad']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: plugin "e2e-nodriver" not found\n' });
      // the CLI trims the message; dockerd's text ends in a space (the raw API keeps it)
      expect(out(await s.docker(['network', 'create', 'bridge']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: operation is not permitted on predefined bridge network\n' });
      expect((await s.docker(['network', 'ls', '-q', '--filter', 'name=e2e-net-bad'])).stdout).toBe('');
    });

    it('removes a network, refuses the predefined ones and one in use', async () => {
      await s.docker(['network', 'create', 'e2e-net-rm']);
      expect(out(await s.docker(['network', 'rm', 'e2e-net-rm']))).toEqual({ code: 0, stdout: 'e2e-net-rm\n', stderr: '' });
      expect(out(await s.docker(['network', 'rm', 'bridge']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: bridge is a pre-defined network and cannot be removed\nexit status 1\n' });
      const id = (await s.docker(['network', 'create', 'e2e-net-busy'])).stdout.trim();
      expect((await s.docker(['run', '-d', '--name', 'e2e-net-busy-c', '--network', 'e2e-net-busy', 'busybox', 'sleep', '300'])).code).toBe(0);
      const r = await s.docker(['network', 'rm', 'e2e-net-busy']);
      expect(out(r)).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: error while removing network: network e2e-net-busy id ${id} has active endpoints\nexit status 1\n` });
      await s.docker(['rm', '-f', 'e2e-net-busy-c']);
      expect((await s.docker(['network', 'rm', 'e2e-net-busy'])).code).toBe(0);
    });

    it('filters ls by name, driver and type, and refuses an unknown filter', async () => {
      await s.docker(['network', 'create', 'e2e-net-f1']);
      expect((await s.docker(['network', 'ls', '--filter', 'name=e2e-net-f1', '--format', '{{.Name}}'])).stdout).toBe('e2e-net-f1\n');
      expect((await s.docker(['network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}'])).stdout.split('\n').filter(Boolean).sort()).toEqual(['bridge', 'host', 'none']);
      expect((await s.docker(['network', 'ls', '--filter', 'driver=null', '--format', '{{.Name}}'])).stdout).toBe('none\n');
      expect(out(await s.docker(['network', 'ls', '--filter', 'foo=x']))).toEqual({ code: 1, stdout: '', stderr: "Error response from daemon: Invalid filter 'foo'\n" });
    });

    it('prunes unused user networks and keeps those in use', async () => {
      await s.docker(['network', 'create', 'e2e-net-p1']);
      await s.docker(['network', 'create', 'e2e-net-p2']);
      await s.docker(['run', '-d', '--name', 'e2e-net-p2-c', '--network', 'e2e-net-p2', 'busybox', 'sleep', '300']);
      const r = await s.docker(['network', 'prune', '-f']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Deleted Networks:\n/);
      expect(r.stdout).toContain('e2e-net-p1\n');
      expect(r.stdout).not.toContain('e2e-net-p2\n');
      await s.docker(['rm', '-f', 'e2e-net-p2-c']);
    });
  });

  describe('connect / disconnect', () => {
    it('connects and disconnects a running container; Networks and Containers follow', async () => {
      await s.docker(['network', 'create', '--subnet', '10.179.0.0/16', 'e2e-net-c']);
      await s.docker(['run', '-d', '--name', 'e2e-net-cc', 'busybox', 'sleep', '300']);
      expect(out(await s.docker(['network', 'connect', '--alias', 'svc', '--ip', '10.179.0.50', 'e2e-net-c', 'e2e-net-cc']))).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(await inspect(['inspect', 'e2e-net-cc'], '{{(index .NetworkSettings.Networks "e2e-net-c").IPAddress}}')).toBe('10.179.0.50');
      const net = JSON.parse((await s.docker(['network', 'inspect', 'e2e-net-c'])).stdout)[0];
      expect(Object.values(net.Containers)).toEqual([expect.objectContaining({ Name: 'e2e-net-cc', IPv4Address: '10.179.0.50/16' })]);
      // the interface is there inside the container
      expect((await s.docker(['exec', 'e2e-net-cc', 'busybox', 'ip', '-4', 'addr'])).stdout).toContain('10.179.0.50/16');
      expect(out(await s.docker(['network', 'connect', 'e2e-net-c', 'e2e-net-cc']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: endpoint with name e2e-net-cc already exists in network e2e-net-c\n' });
      expect(out(await s.docker(['network', 'disconnect', 'e2e-net-c', 'e2e-net-cc']))).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(await inspect(['network', 'inspect', 'e2e-net-c'], '{{len .Containers}}')).toBe('0');
      const id = (await s.docker(['inspect', '-f', '{{.Id}}', 'e2e-net-cc'])).stdout.trim();
      expect(out(await s.docker(['network', 'disconnect', 'e2e-net-c', 'e2e-net-cc']))).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: container ${id} is not connected to network e2e-net-c\n` });
      expect(out(await s.docker(['network', 'connect', 'e2e-net-nope', 'e2e-net-cc']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: network e2e-net-nope not found\n' });
    });

    it('edits only the settings of a created container (compose disconnects and reconnects before start)', async () => {
      await s.docker(['network', 'create', 'e2e-net-cr']);
      const id = (await s.docker(['create', '--name', 'e2e-net-crc', '--network', 'e2e-net-cr', '--network-alias', 'web', 'busybox', 'sleep', '300'])).stdout.trim();
      expect((await s.docker(['network', 'disconnect', 'e2e-net-cr', 'e2e-net-crc'])).code).toBe(0);
      expect((await s.docker(['network', 'connect', '--alias', 'web', '--alias', id.slice(0, 12), 'e2e-net-cr', 'e2e-net-crc'])).code).toBe(0);
      expect(await inspect(['inspect', 'e2e-net-crc'], '{{json (index .NetworkSettings.Networks "e2e-net-cr").Aliases}}')).toContain('"web"');
      expect((await s.docker(['start', 'e2e-net-crc'])).code).toBe(0);
      expect(await inspect(['inspect', 'e2e-net-crc'], '{{(index .NetworkSettings.Networks "e2e-net-cr").IPAddress}}')).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    });
  });

  describe('published ports', () => {
    it('run -p answers on 127.0.0.1 from the host; docker port and ps PORTS show the binding', async () => {
      const port = await freePort();
      expect((await s.docker(['run', '-d', '--name', 'e2e-net-web', '-p', `${port}:80`, 'busybox', ...httpd('hello-e2e')])).code).toBe(0);
      expect(await eventually(() => httpGet('127.0.0.1', port), (b) => b === 'hello-e2e\n', 20000, `http on 127.0.0.1:${port}`)).toBe('hello-e2e\n');
      const p = await s.docker(['port', 'e2e-net-web']);
      expect(p.code).toBe(0);
      expect(p.stdout).toContain(`80/tcp -> 0.0.0.0:${port}\n`);
      expect((await s.docker(['port', 'e2e-net-web', '80'])).stdout).toContain(`0.0.0.0:${port}\n`);
      expect(out(await s.docker(['port', 'e2e-net-web', '81']))).toEqual({ code: 1, stdout: '', stderr: "Error: No public port '81' published for e2e-net-web\n" });
      const ps = (await s.docker(['ps', '--filter', 'name=e2e-net-web', '--format', '{{.Ports}}'])).stdout.trim();
      expect(ps).toMatch(new RegExp(`^0\\.0\\.0\\.0:${port}->80/tcp(, \\[::\\]:${port}->80/tcp)?$`));
      expect(await inspect(['inspect', 'e2e-net-web'], '{{json .HostConfig.PortBindings}}')).toBe(`{"80/tcp":[{"HostIp":"","HostPort":"${port}"}]}`);
      expect(await inspect(['inspect', 'e2e-net-web'], '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}')).toBe(String(port));
    });

    it('inspect shows the default bridge address, gateway, MAC and sandbox of a running container', async () => {
      const f = '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}} {{.NetworkSettings.SandboxKey}} {{.HostConfig.NetworkMode}}';
      const [ip, gw, mac, sandbox, mode] = (await inspect(['inspect', 'e2e-net-web'], f)).split(' ');
      expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(gw).toMatch(/^\d+\.\d+\.\d+\.1$/);
      // dockerd's MAC: 02:42 and the address' bytes
      expect(mac).toBe('02:42:' + ip.split('.').map((b) => Number(b).toString(16).padStart(2, '0')).join(':'));
      expect(sandbox).not.toBe('');
      expect(mode).toBe('default');
    });

    it('-P publishes exposed ports on ephemeral host ports', async () => {
      expect((await s.docker(['run', '-d', '--name', 'e2e-net-pall', '--expose', '80', '-P', 'busybox', ...httpd('all')])).code).toBe(0);
      const host = (await s.docker(['port', 'e2e-net-pall', '80/tcp'])).stdout.split('\n')[0];
      expect(host).toMatch(/^0\.0\.0\.0:\d+$/);
      const port = Number(host.split(':')[1]);
      expect(port).toBeGreaterThanOrEqual(32768);
      expect(await eventually(() => httpGet('127.0.0.1', port), (b) => b === 'all\n', 20000)).toBe('all\n');
    });

    it('holds a published port as docker-proxy does: a host process cannot bind it until the container stops', async () => {
      const port = await freePort();
      expect((await s.docker(['run', '-d', '--name', 'e2e-net-held', '-p', `${port}:80`, 'busybox', ...httpd('held')])).code).toBe(0);
      await eventually(() => httpGet('127.0.0.1', port), (b) => b === 'held\n', 20000, `http on 127.0.0.1:${port}`);
      expect(await hostBind(port)).toBe('EADDRINUSE');
      // the DNAT still wins over the held socket: the container answers, not the holder
      expect(await httpGet('127.0.0.1', port)).toBe('held\n');
      expect((await s.docker(['stop', '-t', '1', 'e2e-net-held'])).code).toBe(0);
      expect(await eventually(() => hostBind(port), (r) => r === 'ok', 10000, 'port free after stop')).toBe('ok');
    });

    it('a host port already taken fails with dockerd text and the container stays Created', async () => {
      const port = Number((await s.docker(['port', 'e2e-net-web', '80'])).stdout.split('\n')[0].split(':')[1]);
      const r = await s.docker(['run', '-d', '--name', 'e2e-net-taken', '-p', `${port}:80`, 'busybox', 'sleep', '300']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(new RegExp(`driver failed programming external connectivity on endpoint e2e-net-taken \\([0-9a-f]{64}\\): Bind for 0\\.0\\.0\\.0:${port} failed: port is already allocated`));
      expect(await inspect(['inspect', 'e2e-net-taken'], '{{.State.Status}}')).toBe('created');
    });

    it('refuses bad port and add-host input with the CLI and dockerd texts', async () => {
      expect((await s.docker(['create', '-p', '99999:80', 'busybox'])).stderr).toContain('invalid hostPort: 99999');
      expect((await s.docker(['create', '--add-host', 'foo:bad', 'busybox'])).stderr).toContain('invalid IP address in add-host: "bad"');
      const r = await s.raw('POST', '/v1.41/containers/create', JSON.stringify({ Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 'abc' }] } } }), { 'Content-Type': 'application/json' });
      expect({ status: r.status, body: JSON.parse(r.body) }).toEqual({ status: 400, body: { message: 'invalid port specification: "abc"' } });
      expect((await s.docker(['run', '--rm', '--network', 'container:e2e-net-web', '-p', '81:81', 'busybox', 'true'])).stderr).toContain(
        'conflicting options: port publishing and the container type network mode',
      );
    });
  });

  describe('events', () => {
    it('reports network create, connect, disconnect and destroy in Docker\'s shape', async () => {
      const since = Math.floor(Date.now() / 1000);
      await s.docker(['network', 'create', 'e2e-net-ev']);
      const cid = (await s.docker(['run', '-d', '--name', 'e2e-net-evc', '--network', 'e2e-net-ev', 'busybox', 'sleep', '300'])).stdout.trim();
      await s.docker(['network', 'disconnect', 'e2e-net-ev', 'e2e-net-evc']);
      await s.docker(['rm', '-f', 'e2e-net-evc']);
      await s.docker(['network', 'rm', 'e2e-net-ev']);
      const until = Math.floor(Date.now() / 1000) + 1;
      const fmt = '{{.Type}} {{.Action}} {{json .Actor.Attributes}} {{.Scope}}';
      const lines = await eventually(
        async () => (await s.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'type=network', '--filter', 'network=e2e-net-ev', '--format', fmt])).stdout.split('\n').filter(Boolean),
        (l) => l.some((x) => x.startsWith('network destroy')),
        20000,
      );
      expect(lines[0]).toBe('network create {"name":"e2e-net-ev","type":"bridge"} local');
      expect(lines).toContain(`network connect {"container":"${cid}","name":"e2e-net-ev","type":"bridge"} local`);
      expect(lines).toContain(`network disconnect {"container":"${cid}","name":"e2e-net-ev","type":"bridge"} local`);
      expect(lines[lines.length - 1]).toBe('network destroy {"name":"e2e-net-ev","type":"bridge"} local');
    });
  });

  describe('network API over HTTP', () => {
    it('creates with 201 {Id, Warning} and prunes with {NetworksDeleted}', async () => {
      const r = await s.raw('POST', '/v1.41/networks/create', JSON.stringify({ Name: 'e2e-net-api', CheckDuplicate: true, Attachable: true, Labels: { 'com.docker.compose.project': 'e2e' } }), { 'Content-Type': 'application/json' });
      expect(r.status).toBe(201);
      expect(JSON.parse(r.body)).toEqual({ Id: expect.stringMatching(FULL_ID), Warning: '' });
      const bad = await s.raw('POST', '/v1.41/networks/create', '{"Name":1}', { 'Content-Type': 'application/json' });
      expect({ status: bad.status, body: JSON.parse(bad.body) }).toEqual({ status: 400, body: { message: 'json: cannot unmarshal number into Go struct field NetworkCreateRequest.Name of type string' } });
      const ct = await s.raw('POST', '/v1.41/networks/create', '{"Name":"e2e-net-ct"}', { 'Content-Type': 'text/plain' });
      expect({ status: ct.status, body: JSON.parse(ct.body) }).toEqual({ status: 400, body: { message: "Content-Type specified (text/plain) must be 'application/json'" } });
      const verbose = await s.raw('GET', '/v1.41/networks/bridge?verbose=x');
      expect({ status: verbose.status, body: JSON.parse(verbose.body) }).toEqual({ status: 400, body: { message: 'invalid value for verbose: x: strconv.ParseBool: parsing "x": invalid syntax' } });
      // API < 1.28 lists networks with their endpoints, later versions without
      const listed = JSON.parse((await s.raw('GET', '/v1.41/networks?filters=' + encodeURIComponent('{"name":{"e2e-net-api":true}}'))).body);
      expect(listed).toEqual([expect.objectContaining({ Name: 'e2e-net-api', Containers: {}, Labels: { 'com.docker.compose.project': 'e2e' } })]);
      const p = await s.raw('POST', '/v1.41/networks/prune?filters=' + encodeURIComponent('{"label":{"com.docker.compose.project=e2e":true}}'));
      expect({ status: p.status, body: JSON.parse(p.body) }).toEqual({ status: 200, body: { NetworksDeleted: ['e2e-net-api'] } });
    });
  });
  describe("docker-compose 1.29's calls (docker-py over HTTP, as networking-plugins-notes A2 records them)", () => {
    it('network lookup 404, create with labels, container create with NetworkMode/EndpointsConfig, disconnect+connect with the short id, start, reach, down', async () => {
      const json = { 'Content-Type': 'application/json' };
      const port = await freePort();
      expect((await s.raw('GET', '/v1.41/networks/e2e-net-app_default')).status).toBe(404);
      const created = await s.raw(
        'POST',
        '/v1.41/networks/create',
        JSON.stringify({ Name: 'e2e-net-app_default', CheckDuplicate: true, Attachable: true, Labels: { 'com.docker.compose.project': 'e2e-net-app', 'com.docker.compose.network': 'default', 'com.docker.compose.version': '1.29.2' } }),
        json,
      );
      expect(created.status).toBe(201);
      const c = await s.raw(
        'POST',
        '/v1.41/containers/create?name=e2e-net-app_web_1',
        JSON.stringify({
          Image: 'busybox',
          Cmd: httpd('compose-web'),
          Labels: { 'com.docker.compose.project': 'e2e-net-app', 'com.docker.compose.service': 'web' },
          ExposedPorts: { '80/tcp': {} },
          HostConfig: { NetworkMode: 'e2e-net-app_default', PortBindings: { '80/tcp': [{ HostIp: '', HostPort: String(port) }] } },
          NetworkingConfig: { EndpointsConfig: { 'e2e-net-app_default': { Aliases: ['web'], IPAMConfig: {} } } },
        }),
        json,
      );
      expect(c.status).toBe(201);
      const id = JSON.parse(c.body).Id as string;
      const dis = await s.raw('POST', '/v1.41/networks/e2e-net-app_default/disconnect', JSON.stringify({ Container: id }), json);
      expect(dis.status).toBe(200);
      const con = await s.raw('POST', '/v1.41/networks/e2e-net-app_default/connect', JSON.stringify({ Container: id, EndpointConfig: { Aliases: ['web', id.slice(0, 12)] } }), json);
      expect(con.status).toBe(200);
      expect((await s.raw('POST', `/v1.41/containers/${id}/start`)).status).toBe(204);
      expect(await eventually(() => httpGet('127.0.0.1', port), (b) => b === 'compose-web\n', 20000)).toBe('compose-web\n');
      const ps = JSON.parse((await s.raw('GET', '/v1.41/containers/json?filters=' + encodeURIComponent('{"label":{"com.docker.compose.project=e2e-net-app":true}}'))).body);
      expect(ps[0].Ports).toEqual(expect.arrayContaining([{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: port, Type: 'tcp' }]));
      expect(ps[0].HostConfig).toEqual({ NetworkMode: 'e2e-net-app_default' });
      expect(Object.keys(ps[0].NetworkSettings.Networks)).toEqual(['e2e-net-app_default']);
      // another container on the network reaches it by its alias (embedded DNS)
      const byName = await s.docker(['run', '--rm', '--network', 'e2e-net-app_default', 'busybox', 'busybox', 'wget', '-qO-', 'http://web/'], { timeoutMs: 30000 });
      expect(out(byName)).toEqual({ code: 0, stdout: 'compose-web\n', stderr: '' });
      expect((await s.raw('DELETE', `/v1.41/containers/${id}?force=1`)).status).toBe(204);
      expect((await s.raw('DELETE', '/v1.41/networks/e2e-net-app_default')).status).toBe(204);
    });
  });
});
