// Bad input to the network API and container networking options, through the real docker CLI
// (exit codes, `Error response from daemon: ...`) and raw HTTP where the CLI validates itself:
// dockerd 20.10's texts and statuses (api/server/router/network, daemon/network.go,
// daemon/container_operations.go, runconfig/errors.go, libnetwork's IPAM), and nothing
// half-made. Networks and containers carry the `e2e-nerr-` prefix.
import { freePort } from '@drydock/infra';
import { useDockerStack } from './support/stack';
import { out } from './support/expect';

const json = (o: unknown) => JSON.stringify(o);

describe('docker CLI: network errors', () => {
  const s = useDockerStack('e2enerr');
  const idOf = async (what: string[]) => (await s.docker([...what, '-f', '{{.Id}}'])).stdout.trim();
  const names = async (args: string[]) => (await s.docker([...args, '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean).sort();

  beforeAll(async () => {
    expect((await s.docker(['network', 'create', '--subnet', '10.181.0.0/16', 'e2e-nerr-a'])).code).toBe(0);
    expect((await s.docker(['network', 'create', 'e2e-nerr-auto'])).code).toBe(0);
  });

  afterAll(async () => {
    const ids = (await s.docker(['ps', '-aq', '--filter', 'name=e2e-nerr-'])).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await s.docker(['rm', '-f', ...ids]);
    await s.docker(['network', 'prune', '-f']);
  });

  describe('network create', () => {
    it('answers a taken name before looking at the IPAM config', async () => {
      expect(out(await s.docker(['network', 'create', '--subnet', 'foo', 'e2e-nerr-a']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: network with name e2e-nerr-a already exists\n' });
      const r = await s.raw('POST', '/v1.41/networks/create', json({ Name: 'e2e-nerr-a', IPAM: { Config: [{ Subnet: '10.190.0.0/16', Gateway: 'x' }] } }));
      expect([r.status, JSON.parse(r.body).message]).toEqual([409, 'network with name e2e-nerr-a already exists']);
    });

    it("refuses a gateway outside its subnet (the CLI itself, the API with 400 where libnetwork answers 500)", async () => {
      expect(out(await s.docker(['network', 'create', '--subnet', '10.182.0.0/16', '--gateway', '10.183.0.1', 'e2e-nerr-gw']))).toEqual({ code: 1, stdout: '', stderr: 'no matching subnet for gateway 10.183.0.1\n' });
      const r = await s.raw('POST', '/v1.41/networks/create', json({ Name: 'e2e-nerr-gw', IPAM: { Config: [{ Subnet: '10.182.0.0/16', Gateway: '10.183.0.1' }] } }));
      expect([r.status, JSON.parse(r.body).message]).toEqual([400, 'failed to allocate gateway (10.183.0.1): Requested address is out of range']);
      const bad = await s.raw('POST', '/v1.41/networks/create', json({ Name: 'e2e-nerr-gw', IPAM: { Config: [{ Subnet: '10.182.0.0/33' }] } }));
      expect([bad.status, JSON.parse(bad.body).message]).toEqual([400, 'Invalid subnet 10.182.0.0/33 : invalid CIDR address: 10.182.0.0/33']);
      const ovl = await s.raw('POST', '/v1.41/networks/create', json({ Name: 'e2e-nerr-gw', IPAM: { Config: [{ Subnet: '10.181.3.0/24' }] } }));
      expect([ovl.status, JSON.parse(ovl.body).message]).toEqual([403, 'Pool overlaps with other one on this address space']);
      expect((await s.docker(['network', 'ls', '-q', '--filter', 'name=e2e-nerr-gw'])).stdout).toBe('');
    });

    it('takes an ip-range outside the subnet through the API as dockerd does (the CLI refuses it)', async () => {
      expect(out(await s.docker(['network', 'create', '--subnet', '10.184.0.0/16', '--ip-range', '10.185.1.0/24', 'e2e-nerr-rg']))).toEqual({ code: 1, stdout: '', stderr: 'no matching subnet for range 10.185.1.0/24\n' });
      const r = await s.raw('POST', '/v1.41/networks/create', json({ Name: 'e2e-nerr-rg', IPAM: { Config: [{ Subnet: '10.184.0.0/16', IPRange: '10.185.1.0/24' }] } }));
      expect(r.status).toBe(201);
      expect((await s.docker(['run', '-d', '--name', 'e2e-nerr-rgc', '--network', 'e2e-nerr-rg', 'busybox', 'sleep', '300'])).code).toBe(0);
      // the range's host part inside the subnet
      expect((await s.docker(['inspect', '-f', '{{(index .NetworkSettings.Networks "e2e-nerr-rg").IPAddress}}', 'e2e-nerr-rgc'])).stdout.trim()).toBe('10.184.1.0');
      await s.docker(['rm', '-f', 'e2e-nerr-rgc']);
      expect((await s.docker(['network', 'rm', 'e2e-nerr-rg'])).code).toBe(0);
    });
  });

  describe('network ls filters', () => {
    it("refuses a bad type with 400 (dockerd: 500) and a bad dangling value", async () => {
      expect(out(await s.docker(['network', 'ls', '--filter', 'type=foo']))).toEqual({ code: 1, stdout: '', stderr: "Error response from daemon: invalid filter: 'type'='foo'\n" });
      const r = await s.raw('GET', `/v1.41/networks?filters=${encodeURIComponent(json({ type: { foo: true } }))}`);
      expect(r.status).toBe(400);
      expect(out(await s.docker(['network', 'ls', '--filter', 'dangling=TRUE']))).toEqual({
        code: 1,
        stdout: '',
        stderr: 'Error response from daemon: invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")\n',
      });
    });

    it('lists dangling=true as 20.10 does: user networks, in use or not', async () => {
      await s.docker(['run', '-d', '--name', 'e2e-nerr-dg', '--network', 'e2e-nerr-auto', 'busybox', 'sleep', '300']);
      const ls = (await s.docker(['network', 'ls', '--filter', 'dangling=true', '--format', '{{.Name}}'])).stdout.split('\n');
      expect(ls).toEqual(expect.arrayContaining(['e2e-nerr-a', 'e2e-nerr-auto']));
      expect(ls).not.toContain('bridge');
      expect((await s.docker(['network', 'ls', '--filter', 'dangling=false', '--format', '{{.Name}}'])).stdout.split('\n').filter(Boolean).sort()).toEqual(['bridge', 'host', 'none']);
      await s.docker(['rm', '-f', 'e2e-nerr-dg']);
    });
  });

  describe('network prune filters', () => {
    it('keeps networks by label!, refuses a bad until with 400 (dockerd: 500) and an unknown key with 400', async () => {
      await s.docker(['network', 'create', '--label', 'keep=yes', 'e2e-nerr-pk']);
      await s.docker(['network', 'create', '--label', 'keep=no', 'e2e-nerr-pd']);
      const r = await s.docker(['network', 'prune', '-f', '--filter', 'label!=keep=yes', '--filter', 'label=keep']);
      expect(out(r)).toEqual({ code: 0, stdout: 'Deleted Networks:\ne2e-nerr-pd\n\n', stderr: '' });
      expect((await s.docker(['network', 'ls', '-q', '--filter', 'name=e2e-nerr-pk'])).stdout).not.toBe('');
      const until = await s.raw('POST', `/v1.41/networks/prune?filters=${encodeURIComponent(json({ until: { x: true } }))}`);
      expect(until.status).toBe(400);
      const key = await s.raw('POST', `/v1.41/networks/prune?filters=${encodeURIComponent(json({ name: { x: true } }))}`);
      expect([key.status, JSON.parse(key.body).message]).toEqual([400, "Invalid filter 'name'"]);
      expect((await s.docker(['network', 'rm', 'e2e-nerr-pk'])).code).toBe(0);
    });
  });

  describe('names, ids and prefixes', () => {
    it('words an id prefix of several networks per route; a name beats an id prefix', async () => {
      // make networks until two ids share a first character
      const made: string[] = [];
      let prefix = '';
      for (let i = 0; i < 17 && !prefix; i++) {
        made.push((await s.docker(['network', 'create', `e2e-nerr-p${i}`])).stdout.trim());
        const firsts = made.map((id) => id[0]);
        prefix = firsts.find((c, j) => firsts.indexOf(c) !== j) ?? '';
      }
      expect(prefix).not.toBe('');
      const all = (await s.docker(['network', 'ls', '-q', '--no-trunc'])).stdout.split('\n').filter(Boolean);
      const n = all.filter((id) => id.startsWith(prefix)).length;
      expect(out(await s.docker(['network', 'rm', prefix]))).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: network ${prefix} is ambiguous (${n} matches found based on ID prefix)\nexit status 1\n` });
      const r = await s.raw('GET', `/v1.41/networks/${prefix}`);
      expect([r.status, JSON.parse(r.body).message]).toEqual([400, `${n} matches found based on ID prefix: network ${prefix} is ambiguous`]);
      expect(out(await s.docker(['network', 'connect', prefix, 'e2e-nerr-none']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: No such container: e2e-nerr-none\n' });
      // a network named like the prefix is found by its name
      const named = (await s.docker(['network', 'create', prefix])).stdout.trim();
      expect(await idOf(['network', 'inspect', prefix])).toBe(named);
      expect((await s.docker(['network', 'rm', prefix])).code).toBe(0);
      expect((await s.docker(['network', 'rm', ...made])).code).toBe(0);
    });
  });

  describe('connect / disconnect', () => {
    beforeAll(async () => {
      expect((await s.docker(['run', '-d', '--name', 'e2e-nerr-r', 'busybox', 'sleep', '300'])).code).toBe(0);
      expect((await s.docker(['create', '--name', 'e2e-nerr-s', '--network', 'e2e-nerr-a', 'busybox', 'sleep', '300'])).code).toBe(0);
    });

    it('looks the container up first: its 404 wins when both are missing', async () => {
      expect(out(await s.docker(['network', 'connect', 'e2e-nerr-nonet', 'e2e-nerr-noctr']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: No such container: e2e-nerr-noctr\n' });
      expect(out(await s.docker(['network', 'disconnect', 'e2e-nerr-nonet', 'e2e-nerr-noctr']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: No such container: e2e-nerr-noctr\n' });
      expect(out(await s.docker(['network', 'connect', 'e2e-nerr-nonet', 'e2e-nerr-r']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: network e2e-nerr-nonet not found\n' });
    });

    it('refuses host, none, aliases and addresses on predefined networks with runconfig texts (400)', async () => {
      const fails = async (args: string[], text: string) => expect(out(await s.docker(['network', 'connect', ...args]))).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: ${text}\n` });
      await fails(['host', 'e2e-nerr-r'], 'container cannot be disconnected from host network or connected to host network');
      await fails(['none', 'e2e-nerr-r'], 'container cannot be connected to multiple networks with one of the networks in private (none) mode');
      await fails(['--alias', 'x', 'bridge', 'e2e-nerr-r'], 'network-scoped alias is supported only for containers in user defined networks');
      await fails(['--ip', '10.181.0.9', 'bridge', 'e2e-nerr-r'], 'user specified IP address is supported on user defined networks only');
      await fails(['--ip', '10.181.0.9', 'e2e-nerr-auto', 'e2e-nerr-r'], 'user specified IP address is supported only when connecting to networks with user configured subnets');
      const r = await s.raw('POST', '/v1.41/networks/host/connect', json({ Container: 'e2e-nerr-r' }));
      expect(r.status).toBe(400);
      await fails(['--ip', '10.99.0.9', 'e2e-nerr-a', 'e2e-nerr-r'], "Invalid address 10.99.0.9: It does not belong to any of this network's subnets");
      expect((await s.docker(['inspect', '-f', '{{len .NetworkSettings.Networks}}', 'e2e-nerr-r'])).stdout.trim()).toBe('1');
    });

    it('refuses an address already taken (403) and a second connect of a running container', async () => {
      expect((await s.docker(['network', 'connect', '--ip', '10.181.0.20', 'e2e-nerr-a', 'e2e-nerr-r'])).code).toBe(0);
      const c = await s.raw('POST', '/v1.41/networks/e2e-nerr-a/connect', json({ Container: 'e2e-nerr-r' }));
      expect([c.status, JSON.parse(c.body).message]).toEqual([403, 'endpoint with name e2e-nerr-r already exists in network e2e-nerr-a']);
      await s.docker(['run', '-d', '--name', 'e2e-nerr-r2', 'busybox', 'sleep', '300']);
      const r = await s.raw('POST', '/v1.41/networks/e2e-nerr-a/connect', json({ Container: 'e2e-nerr-r2', EndpointConfig: { IPAMConfig: { IPv4Address: '10.181.0.20' } } }));
      expect([r.status, JSON.parse(r.body).message]).toEqual([403, 'Address already in use']);
      expect((await s.docker(['network', 'disconnect', 'e2e-nerr-a', 'e2e-nerr-r'])).code).toBe(0);
      const id = await idOf(['inspect', 'e2e-nerr-r']);
      expect(out(await s.docker(['network', 'disconnect', 'e2e-nerr-a', 'e2e-nerr-r']))).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: container ${id} is not connected to network e2e-nerr-a\n` });
    });

    it('edits a stopped container: a second connect is a no-op, disconnect texts name "the network"', async () => {
      expect(out(await s.docker(['network', 'connect', 'e2e-nerr-a', 'e2e-nerr-s']))).toEqual({ code: 0, stdout: '', stderr: '' });
      const id = await idOf(['inspect', 'e2e-nerr-s']);
      expect(out(await s.docker(['network', 'disconnect', 'e2e-nerr-auto', 'e2e-nerr-s']))).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: container ${id} is not connected to the network e2e-nerr-auto\n` });
      const r = await s.raw('POST', '/v1.41/networks/e2e-nerr-gone/disconnect', json({ Container: 'e2e-nerr-s' }));
      expect([r.status, JSON.parse(r.body).message]).toEqual([500, `container ${id} is not connected to the network e2e-nerr-gone`]);
    });
  });

  describe('run and start', () => {
    it('creates a container for a missing network and fails its start with 404, as dockerd', async () => {
      const r = await s.docker(['run', '--name', 'e2e-nerr-mn', '--network', 'e2e-nerr-nope', 'busybox', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toBe("docker: Error response from daemon: network e2e-nerr-nope not found\n\nRun 'docker run --help' for more information\n");
      expect((await s.docker(['ps', '-a', '--filter', 'name=e2e-nerr-mn', '--format', '{{.Status}}'])).stdout).toBe('Created\n');
    });

    it('checks --ip when the container starts: outside the subnet 400 (dockerd: 500), taken 403', async () => {
      expect((await s.docker(['create', '--name', 'e2e-nerr-ip1', '--network', 'e2e-nerr-a', '--ip', '10.99.0.5', 'busybox', 'sleep', '300'])).code).toBe(0);
      const st = await s.raw('POST', '/v1.41/containers/e2e-nerr-ip1/start');
      expect([st.status, JSON.parse(st.body).message]).toEqual([400, "Invalid address 10.99.0.5: It does not belong to any of this network's subnets"]);
      expect((await s.docker(['run', '-d', '--name', 'e2e-nerr-ip2', '--network', 'e2e-nerr-a', '--ip', '10.181.0.30', 'busybox', 'sleep', '300'])).code).toBe(0);
      expect((await s.docker(['create', '--name', 'e2e-nerr-ip3', '--network', 'e2e-nerr-a', '--ip', '10.181.0.30', 'busybox', 'sleep', '300'])).code).toBe(0);
      expect(out(await s.docker(['start', 'e2e-nerr-ip3']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: Address already in use\nError: failed to start containers: e2e-nerr-ip3\n' });
      const st3 = await s.raw('POST', '/v1.41/containers/e2e-nerr-ip3/start');
      expect(st3.status).toBe(403);
      expect((await s.docker(['create', '--name', 'e2e-nerr-ip4', '--network', 'e2e-nerr-auto', '--ip', '10.181.0.31', 'busybox', 'true'])).code).toBe(0);
      expect(out(await s.docker(['start', 'e2e-nerr-ip4']))).toEqual({
        code: 1,
        stdout: '',
        stderr: 'Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets\nError: failed to start containers: e2e-nerr-ip4\n',
      });
    });

    it("refuses a bad --add-host and a port out of range at create (the CLI's own checks, the API's 400)", async () => {
      const a = await s.docker(['run', '--add-host', 'foo:bar', 'busybox', 'true']);
      expect(a.code).toBe(125);
      expect(a.stderr).toContain('invalid IP address in add-host: "bar"');
      const h = await s.raw('POST', '/v1.41/containers/create?name=e2e-nerr-ah', json({ Image: 'busybox', HostConfig: { ExtraHosts: ['foo'] } }));
      expect([h.status, JSON.parse(h.body).message]).toEqual([400, 'bad format for add-host: "foo"']);
      const p = await s.raw('POST', '/v1.41/containers/create?name=e2e-nerr-pt', json({ Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } } }));
      expect([p.status, JSON.parse(p.body).message]).toEqual([400, 'invalid port specification: "70000"']);
      expect((await s.docker(['ps', '-aq', '--filter', 'name=e2e-nerr-ah', '--filter', 'name=e2e-nerr-pt'])).stdout).toBe('');
    });
  });

  describe('ps filters network, publish, expose', () => {
    it('filters by network name or id prefix, published and exposed ports (ranges, protocols)', async () => {
      const port = await freePort();
      expect((await s.docker(['run', '-d', '--name', 'e2e-nerr-web', '--network', 'e2e-nerr-a', '-p', `${port}:80`, '--expose', '81/udp', 'busybox', 'sleep', '300'])).code).toBe(0);
      const netId = await idOf(['network', 'inspect', 'e2e-nerr-a']);
      expect(await names(['ps', '--filter', 'name=e2e-nerr-web', '--filter', 'network=e2e-nerr-a'])).toEqual(['e2e-nerr-web']);
      expect(await names(['ps', '--filter', 'name=e2e-nerr-web', '--filter', `network=${netId.slice(0, 10)}`])).toEqual(['e2e-nerr-web']);
      expect(await names(['ps', '--filter', 'name=e2e-nerr-web', '--filter', 'network=bridge'])).toEqual([]);
      expect(await names(['ps', '--filter', `publish=${port}`])).toEqual(['e2e-nerr-web']);
      expect(await names(['ps', '--filter', `publish=${port - 1}-${port + 1}/tcp`])).toEqual(['e2e-nerr-web']);
      expect(await names(['ps', '--filter', `publish=${port}/udp`])).toEqual([]);
      expect(await names(['ps', '--filter', 'name=e2e-nerr-web', '--filter', 'expose=80'])).toEqual(['e2e-nerr-web']);
      expect(await names(['ps', '--filter', 'name=e2e-nerr-web', '--filter', 'expose=81/udp'])).toEqual(['e2e-nerr-web']);
      expect(await names(['ps', '--filter', 'name=e2e-nerr-web', '--filter', 'expose=82'])).toEqual([]);
      // a stopped container has no ports but keeps its networks
      expect(await names(['ps', '-a', '--filter', 'name=e2e-nerr-s', '--filter', 'network=e2e-nerr-a'])).toEqual(['e2e-nerr-s']);
      expect(out(await s.docker(['ps', '--filter', 'publish=1:2']))).toEqual({ code: 1, stdout: '', stderr: "Error response from daemon: filter for 'publish' should not contain ':': 1:2\n" });
      expect(out(await s.docker(['ps', '--filter', 'expose=x']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: error while looking up for expose x: strconv.ParseUint: parsing "x": invalid syntax\n' });
    });
  });
});
