// Overlay networks on the real three-node cluster of `npm run cluster`, with the docker CLI: one
// network made on one node is seen on all, containers on different nodes reach each other by address,
// name, alias and short id through VXLAN (MTU 1450), other networks cannot reach them, an internal
// overlay has no way out, a connection between two nodes outlives a SIGKILL of a supervisor, and a
// network in use on another node is not removed.
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import { DIRECTORY_BUCKET, getJson, type NodeRecord } from '@drydock/cluster';
import { waitFor } from '@drydock/infra';
import { ClusterHarness } from './cluster-harness';

jest.setTimeout(300000);

interface NetInspect {
  Id: string;
  Name: string;
  Scope: string;
  Driver: string;
  Internal: boolean;
  IPAM: { Config: { Subnet: string; Gateway?: string }[] };
  Containers: Record<string, { Name: string; IPv4Address: string; Node?: string }>;
  Peers?: { Name: string; IP: string }[];
}

const level: Record<string, string> = process.env.DRYDOCK_CLUSTER_E2E_LOG_LEVEL ? { DRYDOCK_LOG_LEVEL: process.env.DRYDOCK_CLUSTER_E2E_LOG_LEVEL } : {};

describe('overlay networks (three nodes)', () => {
  // overlay subnets of the test's own, clear of the harness's 10.228.x and 10.24x ranges
  const third = randomInt(200);
  const subnet = (k: number) => `10.227.${(third + k) % 256}.0/24`;
  const h = new ClusterHarness({ tag: 'overlay', env: { ...level, DRYDOCK_OVERLAY_POOLS: `10.226.0.0/16:24` } });
  const ipOf = async (node: string, ctr: string, net: string) => (await h.ok(node, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, ctr])).trim();
  const exec = (node: string, ctr: string, cmd: string, timeoutMs = 20000) => h.docker(node, ['exec', ctr, 'sh', '-c', cmd], timeoutMs);

  beforeAll(async () => {
    await h.setUp();
    await h.start();
    await h.importBusybox();
    await h.ok('node1', ['network', 'create', '-d', 'overlay', '--subnet', subnet(0), 'ov1']);
    await h.ok('node2', ['network', 'create', '-d', 'overlay', '--subnet', subnet(1), 'ov2']);
    await h.ok('node3', ['network', 'create', '-d', 'overlay', '--internal', '--subnet', subnet(2), 'ovint']);
    const sleeper = (node: string, name: string, ...args: string[]) => h.ok(node, ['run', '-d', '--name', name, ...args, 'busybox', 'sleep', '3600']);
    await sleeper('node1', 'c1', '--network', 'ov1', '--network-alias', 'web');
    await sleeper('node2', 'c2', '--network', 'ov1', '--network-alias', 'web');
    await sleeper('node3', 'c3', '--network', 'ov1');
    await sleeper('node2', 'd2', '--network', 'ov2');
    await sleeper('node1', 'b1');
    await sleeper('node1', 'i1', '--network', 'ovint');
    await sleeper('node2', 'i2', '--network', 'ovint');
  }, 400000);

  afterAll(async () => {
    await h.tearDown();
  });

  it('is one network on every node, of swarm scope, listing every node\'s containers with their node', async () => {
    for (const node of h.nodes) {
      const ls = await h.ok(node, ['network', 'ls', '--filter', 'driver=overlay', '--format', '{{.Name}} {{.Scope}}']);
      expect(ls.split('\n').sort()).toEqual(['ov1 swarm', 'ov2 swarm', 'ovint swarm']);
    }
    const n = (JSON.parse(await h.ok('node3', ['network', 'inspect', 'ov1'])) as NetInspect[])[0];
    expect(n.Driver).toBe('overlay');
    expect(n.IPAM.Config[0].Subnet).toBe(subnet(0));
    const byName = Object.fromEntries(Object.values(n.Containers).map((c) => [c.Name, c.Node]));
    expect(byName).toEqual({ c1: 'node1', c2: 'node2', c3: 'node3' });
    expect((n.Peers ?? []).map((p) => p.Name).sort()).toEqual(['node1', 'node2', 'node3']);
    // addresses are the cluster's: three containers, three addresses
    expect(new Set(Object.values(n.Containers).map((c) => c.IPv4Address)).size).toBe(3);
  });

  it('reaches containers on other nodes by address, name, alias and short id, with MTU 1450', async () => {
    const ip1 = await ipOf('node1', 'c1', 'ov1');
    const ip2 = await ipOf('node2', 'c2', 'ov1');
    expect((await exec('node3', 'c3', 'cat /sys/class/net/eth0/mtu')).stdout.trim()).toBe('1450');
    for (const target of [ip1, ip2, 'c1', 'c2', 'c1.ov1']) {
      const r = await exec('node3', 'c3', `ping -c 1 -W 3 ${target}`);
      expect({ target, code: r.code, out: r.stdout + r.stderr }).toEqual({ target, code: 0, out: expect.stringContaining('1 packets received') });
    }
    const id2 = (await h.ok('node2', ['inspect', '-f', '{{.Id}}', 'c2'])).slice(0, 12);
    expect((await exec('node1', 'c1', `ping -c 1 -W 3 ${id2}`)).code).toBe(0);
    // a full-size frame of the overlay's MTU crosses without fragmenting (1450 - 28 bytes of IP and ICMP)
    expect((await exec('node1', 'c1', `ping -c 1 -W 3 -s 1422 ${ip2}`)).code).toBe(0);
    // the alias names both, in rotation
    const answers = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const out = (await exec('node3', 'c3', 'nslookup web 127.0.0.11')).stdout;
      const first = [...out.matchAll(/Address(?: \d+)?:\s+(10\.227\.\d+\.\d+)/g)].map((m) => m[1])[0];
      if (first) answers.add(first);
    }
    expect([...answers].sort()).toEqual([ip1, ip2].sort());
  });

  it('keeps other networks apart: another overlay and a bridge network cannot reach it', async () => {
    const ip1 = await ipOf('node1', 'c1', 'ov1');
    expect((await exec('node2', 'd2', `ping -c 1 -W 2 ${ip1}`)).code).not.toBe(0);
    expect((await exec('node1', 'b1', `ping -c 1 -W 2 ${ip1}`)).code).not.toBe(0);
    // and its names are not answered there
    expect((await exec('node2', 'd2', 'nslookup c1 127.0.0.11')).stdout).not.toMatch(/10\.227\./);
  });

  it('has no way out from an internal overlay; the others leave through their node', async () => {
    const host = h.hostAddress;
    expect((await exec('node1', 'c1', `ping -c 1 -W 3 ${host}`)).code).toBe(0);
    expect((await exec('node1', 'i1', `ping -c 1 -W 2 ${host}`)).code).not.toBe(0);
    // the internal overlay still joins its nodes
    const ip2 = await ipOf('node2', 'i2', 'ovint');
    expect((await exec('node1', 'i1', `ping -c 1 -W 3 ${ip2}`)).code).toBe(0);
  });

  it('refuses bad input with nothing made: overlapping subnet, a VNI in use, a local name, removal in use elsewhere', async () => {
    const overlap = await h.docker('node2', ['network', 'create', '-d', 'overlay', '--subnet', subnet(0), 'dup']);
    expect(overlap.stderr).toContain('Pool overlaps with other one on this address space');
    await h.ok('node1', ['network', 'create', '-d', 'overlay', '--subnet', subnet(3), '-o', 'com.docker.network.driver.overlay.vxlanid_list=7777', 'vx1']);
    const clash = await h.docker('node3', ['network', 'create', '-d', 'overlay', '--subnet', subnet(4), '-o', 'com.docker.network.driver.overlay.vxlanid_list=7777', 'vx2']);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toMatch(/7777/);
    await h.ok('node3', ['network', 'create', 'localnet']);
    const local = await h.docker('node3', ['network', 'create', '-d', 'overlay', 'localnet']);
    expect(local.stderr).toContain('network with name localnet already exists');
    const dupName = await h.docker('node2', ['network', 'create', '-d', 'overlay', 'ov1']);
    expect(dupName.stderr).toContain('network with name ov1 already exists');
    for (const node of h.nodes) {
      const ls = await h.ok(node, ['network', 'ls', '--format', '{{.Name}}']);
      expect(ls.split('\n')).not.toEqual(expect.arrayContaining(['dup']));
      expect(ls.split('\n')).not.toEqual(expect.arrayContaining(['vx2']));
    }
    // in use on node1 and node2, removed from node3: refused, and still there everywhere
    const rm = await h.docker('node3', ['network', 'rm', 'ov1']);
    expect(rm.stderr).toMatch(/has active endpoints/);
    for (const node of h.nodes) expect(await h.ok(node, ['network', 'ls', '-q', '--filter', 'name=^ov1$'])).not.toBe('');
    // an unused overlay goes from every node
    await h.ok('node2', ['network', 'rm', 'vx1']);
    for (const node of h.nodes) await waitFor(async () => (await h.ok(node, ['network', 'ls', '-q', '--filter', 'name=^vx1$'])) === '', 5000, `vx1 gone on ${node}`);
  });

  it('keeps a connection between two nodes and DNS answering through a SIGKILL of every service at both ends', async () => {
    // c2 echoes; c3 (node3) sends a line a second and keeps what comes back
    await h.ok('node2', ['exec', '-d', 'c2', 'sh', '-c', 'nc -l -p 7000 -e cat']);
    await new Promise((r) => setTimeout(r, 500));
    await h.ok('node3', ['exec', '-d', 'c3', 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo tick$i; sleep 0.2; done | nc c2 7000 > /tmp/echo']);
    // read from the host (through the container's /proc root and netns): exec needs the supervisor being killed
    const pid3 = Number(await h.ok('node3', ['inspect', '-f', '{{.State.Pid}}', 'c3']));
    const lines = () => readFileSync(`/proc/${pid3}/root/tmp/echo`, 'utf8').split('\n').filter(Boolean).length;
    const lookup = () => execFileSync('nsenter', [`--net=/proc/${pid3}/ns/net`, 'busybox', 'nslookup', 'c2', '127.0.0.11'], { encoding: 'utf8', timeout: 10000 });
    await waitFor(() => lines() > 2, 10000, 'echoes arrive');
    // every Drydock service of both ends, and the scheduler
    for (const name of ['node2.supervisor', 'node3.supervisor', 'node2.gateway', 'node3.gateway', 'node2.builder', 'node3.builder', 'scheduler']) {
      const pid = h.recordedPid(name);
      expect({ name, pid }).toEqual({ name, pid: expect.any(Number) });
      process.kill(pid!, 'SIGKILL');
    }
    // while the services are down or restarting, names still resolve and the echo goes on
    const before = lines();
    expect(lookup()).toMatch(/10\.227\./);
    await new Promise((r) => setTimeout(r, 3000));
    expect(lines()).toBeGreaterThan(before + 5);
    expect(lookup()).toMatch(/10\.227\./);
    await waitFor(async () => (await h.docker('node2', ['ps', '-q'], 5000)).code === 0, 60000, 'node2 back');
    await waitFor(async () => (await h.docker('node3', ['ps', '-q'], 5000)).code === 0, 60000, 'node3 back');
    const after = lines();
    await new Promise((r) => setTimeout(r, 2000));
    expect(lines()).toBeGreaterThan(after + 3);
    expect(lookup()).toMatch(/10\.227\./);
    // and a container started after the restart is found from another node
    await h.ok('node2', ['run', '-d', '--name', 'late', '--network', 'ov1', 'busybox', 'sleep', '3600']);
    await waitFor(async () => (await exec('node1', 'c1', 'ping -c 1 -W 1 late', 5000)).code === 0, 10000, 'late resolves on node1');
  });

  it('connects and disconnects a container of another node, and publishes a port on the node that runs it', async () => {
    // from node3's gateway, c1 (on node1) joins ov2: d2 (node2) reaches it by name there
    await h.ok('node3', ['network', 'connect', 'ov2', 'c1']);
    await waitFor(async () => (await exec('node2', 'd2', 'ping -c 1 -W 1 c1', 5000)).code === 0, 10000, 'c1 on ov2 from node2');
    await h.ok('node2', ['network', 'disconnect', 'ov2', 'c1']);
    await waitFor(async () => (await exec('node2', 'd2', 'nslookup c1 127.0.0.11', 5000)).stdout.match(/10\.227\./) === null, 10000, 'c1 gone from ov2');
    // -p on an overlay container: the node that runs it answers on its own address
    await h.ok('node2', ['run', '-d', '--name', 'web2', '--network', 'ov1', '-p', '18081:80', 'busybox', 'sh', '-c', 'mkdir -p /www && echo overlay-ok > /www/index.html && httpd -f -p 80 -h /www']);
    const url = `http://${h.nodeAddress(1)}:18081/`;
    await waitFor(() => { try { return execFileSync('busybox', ['wget', '-q', '-O', '-', url], { encoding: 'utf8', timeout: 3000 }).includes('overlay-ok'); } catch { return false; } }, 15000, 'published port on node2');
    // and c1 (node1) reaches it by name over the overlay
    expect((await exec('node1', 'c1', 'wget -q -O - http://web2/')).stdout).toContain('overlay-ok');
  });

  it('runs a docker-compose app whose network is an overlay', async () => {
    const dir = join(h.dir, 'compose-ov');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'docker-compose.yml'), [
      'version: "3.7"',
      'services:',
      '  web:',
      '    image: busybox',
      '    command: ["sh", "-c", "mkdir -p /www && echo compose-ok > /www/index.html && httpd -f -p 80 -h /www"]',
      '    networks: [ovc]',
      '  app:',
      '    image: busybox',
      '    command: ["sleep", "3600"]',
      '    networks: [ovc]',
      'networks:',
      '  ovc:',
      '    driver: overlay',
      '    attachable: true',
      '',
    ].join('\n'));
    const compose = (args: string[]) => execFileSync('docker-compose', ['-p', 'ovapp', ...args], { cwd: dir, env: { ...h.dockerEnv('node1'), COMPOSE_INTERACTIVE_NO_CLI: '1' }, encoding: 'utf8', timeout: 120000, stdio: ['ignore', 'pipe', 'pipe'] });
    compose(['up', '-d']);
    try {
      expect(await h.ok('node2', ['network', 'ls', '--filter', 'name=ovapp_ovc', '--format', '{{.Driver}} {{.Scope}}'])).toBe('overlay swarm');
      await waitFor(async () => (await exec('node1', 'ovapp_app_1', 'wget -q -O - http://web/', 5000)).stdout.includes('compose-ok'), 15000, 'app reaches web');
    } finally {
      compose(['down']);
    }
    for (const node of h.nodes) await waitFor(async () => (await h.ok(node, ['network', 'ls', '-q', '--filter', 'name=ovapp_ovc'])) === '', 5000, `compose network gone on ${node}`);
  });

  it('leaves a dead node\'s endpoints out within the node-down time, and takes them back when it returns', async () => {
    const ip2 = await ipOf('node2', 'c2', 'ov1');
    const node2 = ['containerd', 'supervisor', 'gateway', 'builder'].map((x) => h.recordedPid(`node2.${x}`)).filter((p): p is number => !!p);
    const resolves = async () => (await exec('node1', 'c1', 'nslookup c2 127.0.0.11', 5000)).stdout.includes(ip2);
    expect(await resolves()).toBe(true);
    const t0 = Date.now();
    for (const p of node2) process.kill(p, 'SIGSTOP');
    try {
      await waitFor(async () => !(await resolves()), 20000, 'c2 left out of node1\'s names');
      // the heartbeat interval is 1 s here and a node is down 8 s after its last beat
      expect(Date.now() - t0).toBeLessThan(12000);
    } finally {
      for (const p of node2) process.kill(p, 'SIGCONT');
    }
    await waitFor(resolves, 20000, 'c2 back in node1\'s names');
    expect((await exec('node1', 'c1', `ping -c 1 -W 3 ${ip2}`)).code).toBe(0);
  });

  it('gives a rescheduled container an address on its new node, and its name follows it', async () => {
    await h.ok('node1', ['run', '-d', '--name', 'rs1', '--network', 'ov1', '-e', 'constraint:node==~node2', '-e', 'reschedule:on-node-failure', 'busybox', 'sleep', '3600']);
    const first = (JSON.parse(await h.ok('node1', ['inspect', 'rs1'])) as { Node: { Name: string } }[])[0].Node.Name;
    expect(first).toBe('node2');
    const oldIp = await ipOf('node1', 'rs1', 'ov1');
    const id = await h.ok('node1', ['inspect', '-f', '{{.Id}}', 'rs1']);
    // its create request is in the directory before the node is lost (what the replacement is made from)
    const nc = await connect({ servers: h.natsUrls });
    try {
      const dir = await nc.jetstream({ timeout: 5000 }).views.kv(DIRECTORY_BUCKET, { bindOnly: true });
      await waitFor(async () => {
        const keys: string[] = [];
        for await (const k of await dir.keys('node.>')) keys.push(k);
        for (const k of keys) if ((await getJson<NodeRecord>(dir, k))?.value.containers[id]?.create) return true;
        return false;
      }, 20000, 'rs1 create request in the directory', 250);
    } finally {
      await nc.close();
    }
    const answer = async () => /Address(?: \d+)?:\s+(10\.227\.\d+\.\d+)/.exec((await exec('node3', 'c3', 'nslookup rs1 127.0.0.11', 5000)).stdout.split('Name:')[1] ?? '')?.[1];
    expect(await answer()).toBe(oldIp);
    const node2 = ['containerd', 'supervisor', 'gateway', 'builder'].map((x) => h.recordedPid(`node2.${x}`)).filter((p): p is number => !!p);
    for (const p of node2) process.kill(p, 'SIGSTOP');
    let newIp: string | undefined;
    try {
      // node down after 8 s, then the replacement is made on node1 or node3 and publishes its endpoint
      await waitFor(async () => {
        const a = await answer();
        if (a && a !== oldIp) newIp = a;
        return !!newIp;
      }, 40000, 'rs1 resolving to its replacement');
      expect((await exec('node3', 'c3', 'ping -c 1 -W 3 rs1')).code).toBe(0);
    } finally {
      for (const p of node2) process.kill(p, 'SIGCONT');
    }
    // node2 back: its stale copy is removed, so the name keeps the replacement's address
    await new Promise((r) => setTimeout(r, 5000));
    expect(await answer()).toBe(newIp);
  });
});
