import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { buildDnsHelper } from '../src/networks/dns/build-dns.testing';
import { DnsLauncher, dnsRecordsFor, type DnsRecord } from '../src/networks/dns';

// drydock-dns against real network namespaces and real clients (busybox
// nslookup, glibc's getent, and test/support/dns-tool.js for the fields they
// do not print). Everything lives in namespaces this test creates:
//
//   H  "host" netns: the upstream DNS (dns-tool.js serve) on 10.231.0.1:53
//      (its veth) and 127.0.0.1:53 (its loopback)
//   C1 container netns, veth 10.231.0.2 <-> H; helper started from the real
//      host netns by DnsLauncher, upstreams: a dead 10.231.0.99, then 10.231.0.1
//   C2 container netns without a veth; helper started from inside H by a node
//      process that is then SIGKILLed; its only upstream is H's 127.0.0.1
//   C3 container netns bind-mounted on a file, lo still down; the static build serves it via --netns
//
// Namespaces die with their `sleep` processes, veths with their namespaces.

const TOOL = resolve(__dirname, 'support/dns-tool.js');
const NODE = process.execPath;

let root: string;
let binary: string;
let staticBinary: string;
const procs: ChildProcess[] = [];
const helperPids = new Set<number>();
const mounts: string[] = [];
let H: number, C1: number, C2: number, C3: number;
let upstreamLog: string;
let launcher: DnsLauncher;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function inNs(pid: number, cmd: string, args: string[]): string {
  return sh('nsenter', [`--net=/proc/${pid}/ns/net`, cmd, ...args]);
}

function holdNetns(): number {
  const p = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
  procs.push(p);
  return p.pid!;
}
async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
function netnsOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return '';
  }
}
function alive(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[^)]*\)\s+[ZX]/.test(s.slice(s.lastIndexOf(')') - 1));
  } catch {
    return false;
  }
}
function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

interface Reply {
  id: number;
  qr: boolean;
  aa: boolean;
  tc: boolean;
  rcode: number;
  answers: { name: string; type: number; ttl: number; data: string }[];
  size: number;
  opt?: { udpSize: number };
  timeout?: boolean;
  error?: string;
}
function dig(ns: number, type: string, name: string, opts: { tcp?: boolean; id?: number; edns?: boolean } = {}): Reply {
  const args = [TOOL, 'query', '127.0.0.11', type, name, opts.tcp ? 'tcp' : 'udp', opts.id !== undefined ? String(opts.id) : '-'];
  if (opts.edns) args.push('edns');
  return JSON.parse(inNs(ns, NODE, args));
}
function addrs(r: Reply): string[] {
  return r.answers.filter((a) => a.type === 1).map((a) => a.data);
}
/** busybox nslookup's addresses for `name` (after the server's own "Address:" line). */
function nslookup(ns: number, name: string): string[] {
  let out: string;
  try {
    out = inNs(ns, 'busybox', ['nslookup', name, '127.0.0.11']);
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  const after = out.split(/^Name:/m).slice(1).join('\n');
  return [...after.matchAll(/^Address:\s*([0-9.]+)$/gm)].map((m) => m[1]);
}
/** glibc's resolver (getent) in the netns, with /etc/resolv.conf pointing at 127.0.0.11 as in a container. */
function getent(ns: number, db: string, name: string, tcp = false): string {
  const conf = join(root, tcp ? 'container-resolv-tcp.conf' : 'container-resolv.conf');
  try {
    return sh('nsenter', [
      `--net=/proc/${ns}/ns/net`,
      'unshare',
      '--mount',
      'sh',
      '-c',
      'mount --bind "$1" /etc/resolv.conf && exec getent "$2" "$3"',
      'sh',
      conf,
      db,
      name,
    ]);
  } catch (err) {
    return `exit ${(err as { status?: number }).status}`;
  }
}
function upstreamQueries(): { name: string; type: number; transport: string; local: string }[] {
  if (!existsSync(upstreamLog)) return [];
  return readFileSync(upstreamLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

const C1_RECORDS: DnsRecord[] = [
  ...dnsRecordsFor([
    { network: 'net_a', containerName: '/app_web_1', shortId: '0123456789ab', aliases: ['web'], ipv4: '10.88.0.2' },
    { network: 'net_a', containerName: '/app_api_1', aliases: ['api'], ipv4: '10.88.0.3' },
    { network: 'net_a', containerName: '/app_api_2', aliases: ['api'], ipv4: '10.88.0.4' },
    { network: 'net_a', containerName: '/app_api_3', aliases: ['api'], ipv4: '10.88.0.5' },
  ]),
  // 40 containers behind one alias: more than a 512-byte UDP answer holds.
  ...Array.from({ length: 40 }, (_, i) => ({ name: 'many', ipv4: `10.89.0.${i + 2}` })),
];

beforeAll(async () => {
  for (const tool of ['unshare', 'nsenter', 'ip', 'busybox', 'getent', 'gcc']) {
    try {
      sh('which', [tool]);
    } catch {
      throw new Error(`${tool} is required for this test (util-linux, iproute2, busybox, libc-bin, gcc)`);
    }
  }
  root = mkdtempSync(join(tmpdir(), 'dns-helper-int-'));
  binary = buildDnsHelper(root);
  staticBinary = buildDnsHelper(root, { static: true, name: 'drydock-dns-static' });
  upstreamLog = join(root, 'upstream.log');
  writeFileSync(join(root, 'container-resolv.conf'), 'nameserver 127.0.0.11\noptions ndots:0\n');
  writeFileSync(join(root, 'container-resolv-tcp.conf'), 'nameserver 127.0.0.11\noptions ndots:0 use-vc\n');
  writeFileSync(join(root, 'resolv-c1.conf'), '# host resolvers\nnameserver 10.231.0.99\nnameserver 10.231.0.1\n');
  writeFileSync(join(root, 'resolv-h-loopback.conf'), 'nameserver 127.0.0.1\n');

  H = holdNetns();
  C1 = holdNetns();
  C2 = holdNetns();
  C3 = holdNetns();
  for (const p of [H, C1, C2, C3]) {
    await waitFor('netns', () => netnsOf(p) !== netnsOf(process.pid) && netnsOf(p) !== '');
    // C3's lo stays down: the helper must cope with starting first.
    if (p !== C3) inNs(p, 'ip', ['link', 'set', 'lo', 'up']);
  }
  inNs(H, 'ip', ['link', 'add', 'ddns-h', 'type', 'veth', 'peer', 'name', 'ddns-c', 'netns', String(C1)]);
  inNs(H, 'ip', ['addr', 'add', '10.231.0.1/24', 'dev', 'ddns-h']);
  inNs(H, 'ip', ['link', 'set', 'ddns-h', 'up']);
  inNs(C1, 'ip', ['addr', 'add', '10.231.0.2/24', 'dev', 'ddns-c']);
  inNs(C1, 'ip', ['link', 'set', 'ddns-c', 'up']);

  const up = spawn('nsenter', [`--net=/proc/${H}/ns/net`, NODE, TOOL, 'serve', upstreamLog, '10.231.0.1', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(up);
  await new Promise<void>((res, rej) => {
    up.stdout!.once('data', () => res());
    up.once('exit', (c) => rej(new Error(`upstream exited ${c}`)));
  });

  launcher = new DnsLauncher({ binary, stateDir: join(root, 'state'), hostResolvConf: join(root, 'resolv-c1.conf'), upstreamTimeoutMs: 300 });
  await launcher.writeRecords('c1', C1_RECORDS);
  const h = await launcher.start('c1', { pid: C1 });
  helperPids.add(h.pid);
}, 60000);

afterAll(() => {
  for (const pid of helperPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const m of mounts) {
    try {
      sh('umount', [m]);
    } catch {
      // not mounted
    }
  }
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('drydock-dns in a container netns', () => {
  it('answers the container name, short id, aliases and name.network, any case, with or without the trailing dot', () => {
    expect(nslookup(C1, 'app_web_1')).toEqual(['10.88.0.2']);
    expect(nslookup(C1, '0123456789ab')).toEqual(['10.88.0.2']);
    expect(nslookup(C1, 'web')).toEqual(['10.88.0.2']);
    expect(nslookup(C1, 'WEB.Net_A.')).toEqual(['10.88.0.2']);
    expect(getent(C1, 'ahostsv4', 'app_web_1.net_a').split('\n')[0]).toMatch(/^10\.88\.0\.2\s+STREAM app_web_1\.net_a$/);
    // getent hosts asks AAAA first: an empty NOERROR makes glibc fall back to A.
    expect(getent(C1, 'hosts', 'web')).toMatch(/^10\.88\.0\.2\s+web$/m);
    const r = dig(C1, 'A', 'web', { id: 4321 });
    expect(r).toMatchObject({ id: 4321, qr: true, aa: true, tc: false, rcode: 0 });
    expect(r.answers).toEqual([{ name: 'web', type: 1, ttl: 600, data: '10.88.0.2' }]);
  });

  it('rotates the addresses of a name that several containers share, one step per query', () => {
    const orders = [0, 1, 2, 3].map(() => addrs(dig(C1, 'A', 'api')));
    for (const o of orders) expect([...o].sort()).toEqual(['10.88.0.3', '10.88.0.4', '10.88.0.5']);
    expect(new Set(orders.slice(0, 3).map((o) => o[0]))).toEqual(new Set(['10.88.0.3', '10.88.0.4', '10.88.0.5']));
    expect(orders[3]).toEqual(orders[0]);
    // glibc clients see the rotation too.
    const firsts = [0, 1, 2].map(() => getent(C1, 'ahostsv4', 'api').split(/\s/)[0]);
    expect(new Set(firsts).size).toBe(3);
  });

  it('answers AAAA and MX of a known name with no records, PTR with name.network', () => {
    expect(dig(C1, 'AAAA', 'web')).toMatchObject({ rcode: 0, aa: true, answers: [] });
    expect(dig(C1, 'MX', 'web')).toMatchObject({ rcode: 0, answers: [] });
    const ptr = dig(C1, 'PTR', '4.0.88.10.in-addr.arpa');
    expect(ptr).toMatchObject({ rcode: 0, aa: true });
    expect(ptr.answers).toEqual([{ name: '4.0.88.10.in-addr.arpa', type: 12, ttl: 600, data: 'app_api_2.net_a' }]);
    expect(inNs(C1, 'busybox', ['nslookup', '10.88.0.2', '127.0.0.11'])).toMatch(/name = app_web_1\.net_a/);
  });

  it('forwards other names to the upstreams, over UDP, keeping the client id, past a dead first server', () => {
    const before = upstreamQueries().length;
    const r = dig(C1, 'A', 'www.upstream.test', { id: 777 });
    expect(r).toMatchObject({ id: 777, rcode: 0, aa: false });
    expect(addrs(r)).toEqual(['192.0.2.7']);
    expect(upstreamQueries().slice(before)).toEqual([{ name: 'www.upstream.test', type: 1, transport: 'udp', local: '10.231.0.1' }]);
    expect(nslookup(C1, 'other.upstream.test')).toEqual(['192.0.2.7']);
  });

  it('never invents NXDOMAIN: unknown names, unknown PTRs and other types of known names are the upstream answer', () => {
    const before = upstreamQueries().length;
    expect(dig(C1, 'A', 'nosuch')).toMatchObject({ rcode: 3 });
    expect(dig(C1, 'PTR', '9.9.88.10.in-addr.arpa')).toMatchObject({ rcode: 3 });
    expect(dig(C1, 'TXT', 'web')).toMatchObject({ rcode: 3 });
    expect(upstreamQueries().slice(before).map((q) => q.name)).toEqual(['nosuch', '9.9.88.10.in-addr.arpa', 'web']);
    expect(getent(C1, 'hosts', 'nosuch')).toBe('exit 2');
  });

  it('answers over TCP, local names and forwarded ones (forwarded over TCP)', () => {
    const local = dig(C1, 'A', 'api', { tcp: true, id: 99 });
    expect(local).toMatchObject({ id: 99, rcode: 0 });
    expect(addrs(local)).toHaveLength(3);
    const before = upstreamQueries().length;
    const fwd = dig(C1, 'A', 'tcp.upstream.test', { tcp: true, id: 100 });
    expect(fwd).toMatchObject({ id: 100, rcode: 0 });
    expect(addrs(fwd)).toEqual(['192.0.2.7']);
    expect(upstreamQueries().slice(before)).toEqual([{ name: 'tcp.upstream.test', type: 1, transport: 'tcp', local: '10.231.0.1' }]);
    // glibc with `options use-vc` pipelines A and AAAA on one TCP connection.
    expect(getent(C1, 'ahosts', 'web', true)).toMatch(/^10\.88\.0\.2\s+STREAM web$/m);
    expect(getent(C1, 'ahostsv4', 'glibc.upstream.test', true)).toMatch(/^192\.0\.2\.7\s/);
  });

  it('truncates a UDP answer that does not fit (TC) and gives all of it over TCP', () => {
    const udp = dig(C1, 'A', 'many');
    expect(udp.tc).toBe(true);
    expect(udp.size).toBeLessThanOrEqual(512);
    expect(addrs(udp).length).toBeGreaterThan(20);
    const tcp = dig(C1, 'A', 'many', { tcp: true });
    expect(tcp.tc).toBe(false);
    expect(addrs(tcp)).toHaveLength(40);
    // With EDNS the client's 4096 bytes hold them all, and the answer carries an OPT record.
    const edns = dig(C1, 'A', 'many', { edns: true });
    expect(edns).toMatchObject({ tc: false, opt: { udpSize: 4096 } });
    expect(addrs(edns)).toHaveLength(40);
    expect(dig(C1, 'A', 'web')).not.toHaveProperty('opt');
    // glibc retries a truncated answer over TCP.
    expect(getent(C1, 'ahostsv4', 'many').split('\n').filter((l) => l.includes('STREAM'))).toHaveLength(40);
  });

  it('takes a rewritten records file into account on the next query', async () => {
    expect(nslookup(C1, 'late')).toEqual([]);
    await launcher.writeRecords('c1', [...C1_RECORDS, { name: 'late', ipv4: '10.88.0.9' }, { name: 'web', ipv4: '10.88.0.10' }]);
    expect(nslookup(C1, 'late')).toEqual(['10.88.0.9']);
    expect([...addrs(dig(C1, 'A', 'web'))].sort()).toEqual(['10.88.0.10', '10.88.0.2']);
    await launcher.writeRecords('c1', C1_RECORDS.filter((r) => !r.name.startsWith('app_api_1')));
    const before = upstreamQueries().length;
    expect(dig(C1, 'A', 'app_api_1')).toMatchObject({ rcode: 3 });
    expect(upstreamQueries().slice(before).map((q) => q.name)).toEqual(['app_api_1']);
    await launcher.writeRecords('c1', C1_RECORDS);
  });

  it('start() again returns the running helper; a second server for the container is refused', async () => {
    const first = (await launcher.find('c1'))!;
    expect(first).toMatchObject({ containerId: 'c1', target: { pid: C1 } });
    expect(await launcher.start('c1', { pid: C1 })).toEqual(first);
    expect(() =>
      sh(binary, ['--pid', String(C1), '--records', launcher.recordsPath('c1'), '--resolv', join(root, 'resolv-c1.conf'), '--pidfile', launcher.pidfilePath('c1')]),
    ).toThrow(new RegExp(`already running for .*dns\\.pid \\(pid ${first.pid}\\)`));
    expect(nslookup(C1, 'web')).toEqual(['10.88.0.2']);
  });

  it('keeps serving after the process group of the node process that started it is SIGKILLed; loopback upstreams are asked from the starting netns', async () => {
    const stateDir = join(root, 'state');
    const entry = join(root, 'spawner.ts');
    const bundle = join(root, 'spawner.js');
    writeFileSync(
      entry,
      `import { DnsLauncher } from ${JSON.stringify(resolve(__dirname, '../src/networks/dns'))};
       (async () => {
         const l = new DnsLauncher({ binary: ${JSON.stringify(binary)}, stateDir: ${JSON.stringify(stateDir)}, hostResolvConf: ${JSON.stringify(join(root, 'resolv-h-loopback.conf'))} });
         await l.writeRecords('c2', [{ name: 'db.net_b', ipv4: '10.90.0.2' }, { name: 'db', ipv4: '10.90.0.2' }]);
         const h = await l.start('c2', { pid: ${C2} });
         process.stdout.write(h.pid + '\\n');
         setInterval(() => {}, 1000);
       })().catch((e) => { console.error(e); process.exit(3); });`,
    );
    buildSync({ entryPoints: [entry], bundle: true, platform: 'node', outfile: bundle, tsconfig: resolve(__dirname, '../../../tsconfig.base.json'), logLevel: 'error' });
    // The "supervisor" runs in H, so H is the host netns from the helper's point of view.
    // Its own process group, killed as a whole (as a service manager would): a helper left in it would die too.
    const sup = spawn('nsenter', [`--net=/proc/${H}/ns/net`, NODE, bundle], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    procs.push(sup);
    const pid = Number(await new Promise<string>((res) => sup.stdout!.once('data', (d: Buffer) => res(d.toString().trim()))));
    helperPids.add(pid);
    process.kill(-sup.pid!, 'SIGKILL');
    await waitFor('spawner gone', () => sup.signalCode === 'SIGKILL');

    expect(alive(pid)).toBe(true);
    expect(nslookup(C2, 'db')).toEqual(['10.90.0.2']);
    const before = upstreamQueries().length;
    expect(addrs(dig(C2, 'A', 'via-loopback.upstream.test'))).toEqual(['192.0.2.7']);
    expect(addrs(dig(C2, 'A', 'via-loopback-tcp.upstream.test', { tcp: true }))).toEqual(['192.0.2.7']);
    expect(upstreamQueries().slice(before)).toEqual([
      { name: 'via-loopback.upstream.test', type: 1, transport: 'udp', local: '127.0.0.1' },
      { name: 'via-loopback-tcp.upstream.test', type: 1, transport: 'tcp', local: '127.0.0.1' },
    ]);
    // A restarted supervisor (this process) adopts it.
    expect((await launcher.list()).map((h) => [h.containerId, h.pid])).toEqual([
      ['c1', (await launcher.find('c1'))!.pid],
      ['c2', pid],
    ]);
    const rss = rssKb(pid);
    console.log(`drydock-dns VmRSS: ${rss} kB (dynamic build, after queries)`);
    expect(rss).toBeLessThan(8 * 1024);
  });

  it("exits by itself when the container's init process dies, removing its pidfile", async () => {
    const h = (await launcher.find('c2'))!;
    expect(h).toBeDefined();
    procs.find((p) => p.pid === C2)!.kill('SIGKILL');
    await waitFor('helper exit', () => !alive(h.pid), 5000);
    expect(existsSync(launcher.pidfilePath('c2'))).toBe(false);
    expect(readFileSync(launcher.logPath('c2'), 'utf8')).toMatch(/exiting: the container's init process is gone\n$/);
    expect(await launcher.find('c2')).toBeUndefined();
    // The other container's DNS is untouched.
    expect(nslookup(C1, 'web')).toEqual(['10.88.0.2']);
  });

  it('the static build serves a netns given as a file, bringing its lo up, and exits when that file is unmounted', async () => {
    const nsFile = join(root, 'netns-c3');
    writeFileSync(nsFile, '');
    sh('mount', ['--bind', `/proc/${C3}/ns/net`, nsFile]);
    mounts.push(nsFile);
    const l = new DnsLauncher({ binary: staticBinary, stateDir: join(root, 'state-static'), hostResolvConf: join(root, 'resolv-c1.conf') });
    await l.writeRecords('c3', [{ name: 'cache', ipv4: '10.91.0.2' }]);
    const h = await l.start('c3', { netnsPath: nsFile });
    helperPids.add(h.pid);
    expect(h.target).toEqual({ netnsPath: nsFile });
    // busybox checks the answer comes from 127.0.0.11 (a connected socket).
    expect(nslookup(C3, 'cache')).toEqual(['10.91.0.2']);
    expect(readFileSync(l.logPath('c3'), 'utf8')).toContain('brought lo up');
    console.log(`drydock-dns VmRSS: ${rssKb(h.pid)} kB (static build)`);
    sh('umount', [nsFile]);
    await waitFor('helper exit', () => !alive(h.pid), 5000);
    expect(readFileSync(l.logPath('c3'), 'utf8')).toMatch(/exiting: the network namespace is gone\n$/);
  });

  it('start() for a restarted container (a new init pid) replaces the previous run\'s helper', async () => {
    const runA = holdNetns();
    const runB = holdNetns();
    for (const p of [runA, runB]) await waitFor('netns', () => netnsOf(p) !== netnsOf(process.pid) && netnsOf(p) !== '');
    await launcher.writeRecords('c5', [{ name: 'job', ipv4: '10.92.0.2' }]);
    const a = await launcher.start('c5', { pid: runA });
    helperPids.add(a.pid);
    const b = await launcher.start('c5', { pid: runB });
    helperPids.add(b.pid);
    expect(b.pid).not.toBe(a.pid);
    expect(alive(a.pid)).toBe(false);
    expect(await launcher.find('c5')).toEqual(b);
    expect(nslookup(runB, 'job')).toEqual(['10.92.0.2']);
    await launcher.stop('c5');
    expect(alive(b.pid)).toBe(false);
  });

  it('stop() ends the helper with SIGTERM and removes its files', async () => {
    const h = (await launcher.find('c1'))!;
    await launcher.stop('c1');
    expect(alive(h.pid)).toBe(false);
    expect(existsSync(launcher.dir('c1'))).toBe(false);
    expect(dig(C1, 'A', 'web', { tcp: true })).toMatchObject({ error: 'ECONNREFUSED' });
  });
});
