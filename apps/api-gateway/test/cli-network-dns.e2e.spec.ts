// Embedded DNS of user-defined networks through the real docker CLI: names, aliases (two
// containers behind one answered in rotation), the short id, <name>.<network>, a name added
// by `network connect` after start, the default bridge without 127.0.0.11, and answers that
// go on while the supervisor is SIGKILLed. Queries are busybox nslookup inside a client
// container; once the supervisor is gone, from the host through nsenter into its namespaces.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from '@drydock/infra';
import { useDockerStack } from './support/stack';
import { eventually, out } from './support/expect';

const NET = 'e2e-dns-net';

/** The IPv4 answers of busybox nslookup's output (the server's own Address line ends in :53). */
function answers(text: string): string[] {
  const body = text.split('\n\n').slice(1).join('\n');
  return [...body.matchAll(/^Address:\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)].map((m) => m[1]);
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

/** One TCP connection kept open: say() sends a line and resolves with the line that comes back. */
function lineConn(host: string, port: number): Promise<{ say: (line: string) => Promise<string>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host);
    let buf = '';
    let waiter: ((l: string) => void) | undefined;
    sock.on('data', (d) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0 && waiter) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = waiter;
        waiter = undefined;
        w(line);
      }
    });
    sock.once('error', reject);
    sock.once('connect', () => {
      const say = (line: string) =>
        new Promise<string>((res, rej) => {
          const t = setTimeout(() => rej(new Error(`no echo of ${line}`)), 5000);
          waiter = (l) => {
            clearTimeout(t);
            res(l);
          };
          sock.write(`${line}\n`);
        });
      // a server not yet listening behind the rule resets or closes at once: check one round trip
      say('hello').then(
        (l) => (l === 'hello' ? resolve({ say, close: () => sock.destroy() }) : reject(new Error(l))),
        (e) => {
          sock.destroy();
          reject(e);
        },
      );
    });
  });
}

/** A DNS server on the host's loopback answering every A query with `ip` (what --dns points at). */
async function fakeUpstream(host: string, ip: string): Promise<{ close: () => void; queries: string[] }> {
  const sock = createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (q, from) => {
    let i = 12;
    const labels: string[] = [];
    while (q[i]) {
      labels.push(q.subarray(i + 1, i + 1 + q[i]).toString());
      i += q[i] + 1;
    }
    const qEnd = i + 5;
    const isA = q.readUInt16BE(i + 1) === 1;
    queries.push(labels.join('.'));
    const head = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, isA ? 1 : 0, 0, 0, 0, 0]);
    const answer = isA ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip.split('.').map(Number)]) : Buffer.alloc(0);
    sock.send(Buffer.concat([head, q.subarray(12, qEnd), answer]), from.port, from.address);
  });
  await new Promise<void>((res, rej) => {
    sock.once('error', rej);
    sock.bind(53, host, () => res());
  });
  return { close: () => sock.close(), queries };
}

/** Pids of the drydock-dns serving the container whose init is `pid` (matched on its --pid argument). */
function dnsHelpersOf(pid: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.indexOf('--pid');
    if (argv[0]?.endsWith('/drydock-dns') && i > 0 && argv[i + 1] === pid) out.push(Number(e));
  }
  return out;
}

describe('docker CLI: embedded DNS on user networks', () => {
  const s = useDockerStack('e2edns');
  const lookup = async (name: string, from = 'e2e-dns-client') => answers((await s.docker(['exec', from, 'busybox', 'nslookup', name])).stdout);
  const ipOn = async (c: string, net = NET) => (await s.docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, c])).stdout.trim();

  beforeAll(async () => {
    expect((await s.docker(['network', 'create', NET])).code).toBe(0);
    for (const [name, alias] of [
      ['e2e-dns-a', 'svc'],
      ['e2e-dns-b', 'svc'],
      ['e2e-dns-client', 'client'],
    ]) {
      const r = await s.docker(['run', '-d', '--name', name, '--network', NET, '--network-alias', alias, 'busybox', 'sleep', '600']);
      expect(out(r)).toMatchObject({ code: 0, stderr: '' });
    }
  }, 120000);

  afterAll(async () => {
    const ps = await s.docker(['ps', '-aq', '--filter', 'name=e2e-dns-']);
    const ids = ps.stdout.split('\n').filter(Boolean);
    if (ids.length) await s.docker(['rm', '-f', ...ids]);
    await s.docker(['network', 'rm', NET, 'e2e-dns-other']);
  }, 60000);

  it('writes nameserver 127.0.0.11 with ndots:0 on a user network', async () => {
    const rc = (await s.docker(['exec', 'e2e-dns-client', 'cat', '/etc/resolv.conf'])).stdout;
    expect(rc).toMatch(/^nameserver 127\.0\.0\.11$/m);
    expect(rc).toMatch(/^options .*ndots:0/m);
    expect(rc).not.toMatch(/^nameserver (?!127\.0\.0\.11$)\d+\.\d+\.\d+\.\d+$/m);
  });

  it('resolves a container by name, short id and name.network', async () => {
    const ip = await ipOn('e2e-dns-a');
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const id = (await s.docker(['inspect', '-f', '{{.Id}}', 'e2e-dns-a'])).stdout.trim();
    expect(await lookup('e2e-dns-a')).toEqual([ip]);
    expect(await lookup(id.slice(0, 12))).toEqual([ip]);
    expect(await lookup(`e2e-dns-a.${NET}`)).toEqual([ip]);
    // a container resolves itself too
    expect(await lookup('e2e-dns-client')).toEqual([await ipOn('e2e-dns-client')]);
  });

  it('answers an alias of two containers with both, in rotation', async () => {
    const both = [await ipOn('e2e-dns-a'), await ipOn('e2e-dns-b')].sort();
    const firsts = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const a = await lookup('svc');
      expect([...a].sort()).toEqual(both);
      firsts.add(a[0]);
    }
    expect([...firsts].sort()).toEqual(both);
  });

  it('forwards other names to the host resolvers (an unknown name is NXDOMAIN, not a timeout)', async () => {
    const r = await s.docker(['exec', 'e2e-dns-client', 'busybox', 'nslookup', 'e2e-dns-no-such-name.invalid']);
    expect(r.stdout + r.stderr).toMatch(/NXDOMAIN|can't find/);
    expect(answers(r.stdout)).toEqual([]);
  });

  it('resolves a name added by network connect after start, and forgets a container that stopped', async () => {
    expect((await s.docker(['network', 'create', 'e2e-dns-other'])).code).toBe(0);
    expect((await s.docker(['run', '-d', '--name', 'e2e-dns-late', '--network', 'e2e-dns-other', 'busybox', 'sleep', '600'])).code).toBe(0);
    expect(await lookup('e2e-dns-late')).toEqual([]);
    expect((await s.docker(['network', 'connect', '--alias', 'latecomer', NET, 'e2e-dns-late'])).code).toBe(0);
    const ip = await ipOn('e2e-dns-late');
    expect(await lookup('e2e-dns-late')).toEqual([ip]);
    expect(await lookup('latecomer')).toEqual([ip]);
    // and the connected container resolves the network's names itself
    expect(await lookup('e2e-dns-a', 'e2e-dns-late')).toEqual([await ipOn('e2e-dns-a')]);
    expect((await s.docker(['network', 'disconnect', NET, 'e2e-dns-late'])).code).toBe(0);
    expect(await lookup('latecomer')).toEqual([]);
    expect((await s.docker(['stop', '-t', '0', 'e2e-dns-b'])).code).toBe(0);
    expect(await lookup('svc')).toEqual([await ipOn('e2e-dns-a')]);
    expect((await s.docker(['start', 'e2e-dns-b'])).code).toBe(0);
    expect((await lookup('svc')).sort()).toEqual([await ipOn('e2e-dns-a'), await ipOn('e2e-dns-b')].sort());
  }, 60000);

  it('gives a default-bridge container connected to a user network 127.0.0.11 at once', async () => {
    expect((await s.docker(['run', '-d', '--name', 'e2e-dns-plain', 'busybox', 'sleep', '600'])).code).toBe(0);
    expect((await s.docker(['exec', 'e2e-dns-plain', 'cat', '/etc/resolv.conf'])).stdout).not.toContain('127.0.0.11');
    expect((await s.docker(['network', 'connect', NET, 'e2e-dns-plain'])).code).toBe(0);
    const rc = (await s.docker(['exec', 'e2e-dns-plain', 'cat', '/etc/resolv.conf'])).stdout;
    expect(rc).toMatch(/^nameserver 127\.0\.0\.11$/m);
    expect(rc).toMatch(/ndots:0/);
    expect(await lookup('e2e-dns-a', 'e2e-dns-plain')).toEqual([await ipOn('e2e-dns-a')]);
    expect(await lookup('e2e-dns-plain')).toEqual([await ipOn('e2e-dns-plain')]);
    expect((await s.docker(['rm', '-f', 'e2e-dns-plain'])).code).toBe(0);
    expect(await lookup('e2e-dns-plain')).toEqual([]);
  }, 60000);

  it("forwards other names to the container's --dns servers", async () => {
    const up = await fakeUpstream('127.0.0.77', '10.9.8.7');
    try {
      const r = await s.docker(['run', '--rm', '--network', NET, '--dns', '127.0.0.77', 'busybox', 'sh', '-c', 'cat /etc/resolv.conf; busybox nslookup e2e-dns-upstream.example; busybox nslookup e2e-dns-a']);
      expect(r.stdout).toMatch(/^nameserver 127\.0\.0\.11$/m);
      expect(r.stdout).not.toContain('127.0.0.77');
      expect(r.stdout).toMatch(/Name:\s+e2e-dns-upstream\.example\nAddress: 10\.9\.8\.7/);
      expect(r.stdout).toContain(`Address: ${await ipOn('e2e-dns-a')}`);
      expect(up.queries).toContain('e2e-dns-upstream.example');
      expect(up.queries).not.toContain('e2e-dns-a');
    } finally {
      up.close();
    }
  }, 60000);

  it('answers the new name after docker rename', async () => {
    const ip = await ipOn('e2e-dns-a');
    expect((await s.docker(['rename', 'e2e-dns-a', 'e2e-dns-a2'])).code).toBe(0);
    try {
      expect(await lookup('e2e-dns-a2')).toEqual([ip]);
      expect(await lookup(`e2e-dns-a2.${NET}`)).toEqual([ip]);
      expect(await lookup('e2e-dns-a')).toEqual([]);
    } finally {
      await s.docker(['rename', 'e2e-dns-a2', 'e2e-dns-a']);
    }
    expect(await lookup('e2e-dns-a')).toEqual([ip]);
  });

  it('has no embedded DNS on the default bridge', async () => {
    const r = await s.docker(['run', '--rm', 'busybox', 'cat', '/etc/resolv.conf']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('127.0.0.11');
    expect(r.stdout).toMatch(/^nameserver /m);
  });

  it('goes on answering while the supervisor is SIGKILLed, adopts the helpers, and forgets a peer that died meanwhile', async () => {
    const pid = (await s.docker(['inspect', '-f', '{{.State.Pid}}', 'e2e-dns-client'])).stdout.trim();
    const bPid = (await s.docker(['inspect', '-f', '{{.State.Pid}}', 'e2e-dns-b'])).stdout.trim();
    const helpers = dnsHelpersOf(pid);
    expect(helpers).toHaveLength(1);
    expect(dnsHelpersOf(bPid)).toHaveLength(1);
    const ip = await ipOn('e2e-dns-a');
    await s.killSupervisor();
    const r = await run('nsenter', ['-t', pid, '-m', '-n', '/bin/busybox', 'nslookup', 'e2e-dns-a']);
    expect(answers(r.stdout)).toEqual([ip]);
    // b dies while nobody watches: its helper goes with its init, the others learn it at the restart
    process.kill(Number(bPid), 'SIGKILL');
    await s.startSupervisor();
    expect(await eventually(() => lookup('svc'), (a) => a.length === 1, 20000)).toEqual([ip]);
    expect(await lookup('e2e-dns-a')).toEqual([ip]);
    expect(await lookup('e2e-dns-b')).toEqual([]);
    expect(dnsHelpersOf(pid)).toEqual(helpers);
    expect(await eventually(async () => dnsHelpersOf(bPid), (h) => h.length === 0, 10000)).toEqual([]);
  }, 60000);

  it('keeps an established connection through a published port and DNS answers across SIGKILL of the gateway, the supervisor and containerd', async () => {
    const port = await freePort();
    // an echo server: every connection gets its own cat, lines come back as sent
    const r = await s.docker(['run', '-d', '--name', 'e2e-dns-echo', '--network', NET, '-p', `${port}:7`, 'busybox', 'busybox', 'nc', '-ll', '-p', '7', '-e', '/bin/busybox', 'cat']);
    expect(out(r)).toMatchObject({ code: 0, stderr: '' });
    const conn = await eventually(() => lineConn('127.0.0.1', port).catch(() => undefined), (c) => !!c, 20000, 'echo server');
    const clientPid = (await s.docker(['inspect', '-f', '{{.State.Pid}}', 'e2e-dns-client'])).stdout.trim();
    const ip = await ipOn('e2e-dns-a');
    const nsLookup = async () => answers((await run('nsenter', ['-t', clientPid, '-m', '-n', '/bin/busybox', 'nslookup', 'e2e-dns-a'])).stdout);
    try {
      expect(await conn!.say('before')).toBe('before');
      await s.killGateway();
      expect(await conn!.say('gateway-down')).toBe('gateway-down');
      await s.killSupervisor();
      expect(await conn!.say('supervisor-down')).toBe('supervisor-down');
      await s.infra.containerd!.process.kill();
      // nothing of Drydock runs now but the kernel's rules, the shims and the DNS helpers
      expect(await conn!.say('all-down')).toBe('all-down');
      expect(await nsLookup()).toEqual([ip]);
      await s.infra.containerd!.process.start();
      await s.startSupervisor();
      await s.startGateway();
      expect(await conn!.say('after')).toBe('after');
      expect(await lookup('e2e-dns-a')).toEqual([ip]);
      expect((await s.docker(['inspect', '-f', '{{.State.Running}}', 'e2e-dns-echo'])).stdout.trim()).toBe('true');
    } finally {
      conn?.close();
    }
  }, 120000);
});
