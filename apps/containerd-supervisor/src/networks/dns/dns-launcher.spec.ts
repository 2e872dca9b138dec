import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InternalError, InvalidArgumentError } from '@drydock/errors';
import { buildDnsHelper } from './build-dns.testing';
import { DnsLauncher } from './dns-launcher';

// These cases need no network namespace: the binary fails before entering one,
// and the pidfile checks are tried against ordinary processes. The helper
// serving in a real netns is test/dns-helper.int.spec.ts.
let root: string;
let binary: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'dns-launcher-'));
  binary = buildDnsHelper(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

let n = 0;
function launcher(): DnsLauncher {
  return new DnsLauncher({ binary, stateDir: join(root, `state${++n}`), hostResolvConf: join(root, 'resolv.conf'), stopTimeoutMs: 500 });
}

/** A live process whose argv imitates a helper's (argv[0] named like the binary). */
function fakeHelper(argv0: string, args: string[]): ChildProcess {
  // bash blocked in the `read` builtin on a pipe: no child that SIGKILL would orphan.
  const c = spawn('bash', ['-c', `exec -a "$0" bash -c 'read -r _' "$@"`, argv0, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
  children.push(c);
  return c;
}
async function argvOf(pid: number): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const s = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!s.startsWith('bash')) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no exec');
}

describe('DnsLauncher', () => {
  it('rejects container ids that would leave the state dir, and targets without pid or netns', async () => {
    const l = launcher();
    expect(() => l.recordsPath('../x')).toThrow(InvalidArgumentError);
    expect(() => l.recordsPath('a/b')).toThrow(InvalidArgumentError);
    await expect(l.start('c1', {})).rejects.toThrow(InvalidArgumentError);
    await expect(l.start('c1', { pid: -3 })).rejects.toThrow(InvalidArgumentError);
    await expect(l.start('c1', { netnsPath: 'relative/ns' })).rejects.toThrow(InvalidArgumentError);
  });

  it("reports the helper's own startup error and leaves no process or pidfile", async () => {
    const l = launcher();
    // A pid that cannot exist (above pid_max's ceiling).
    const err = await l.start('c1', { pid: 2 ** 22 + 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect(err.message).toBe(`drydock-dns: no process ${2 ** 22 + 1}`);
    expect(existsSync(l.pidfilePath('c1'))).toBe(false);
    expect(await l.find('c1')).toBeUndefined();
  });

  it('fails clearly when the binary is missing', async () => {
    const l = new DnsLauncher({ binary: join(root, 'nope', 'drydock-dns'), stateDir: join(root, 'stateX') });
    await expect(l.start('c1', { pid: process.pid })).rejects.toThrow(/cannot start drydock-dns .*ENOENT/);
  });

  it('finds a helper only when the pidfile names a live drydock-dns serving that records file', async () => {
    const l = launcher();
    mkdirSync(l.dir('c1'), { recursive: true });
    mkdirSync(l.dir('c2'), { recursive: true });
    mkdirSync(l.dir('c3'), { recursive: true });
    // c1: a "helper" with the right argv.
    const good = fakeHelper(binary, ['--pid', '4242', '--records', l.recordsPath('c1')]);
    await argvOf(good.pid!);
    writeFileSync(l.pidfilePath('c1'), `${good.pid}\n`);
    // c2: the pid was reused by an unrelated process.
    const other = fakeHelper('sleep', ['--records', l.recordsPath('c2')]);
    await argvOf(other.pid!);
    writeFileSync(l.pidfilePath('c2'), `${other.pid}\n`);
    // c3: a drydock-dns, but for another container's records.
    const wrong = fakeHelper(binary, ['--pid', '1', '--records', l.recordsPath('c1')]);
    await argvOf(wrong.pid!);
    writeFileSync(l.pidfilePath('c3'), `${wrong.pid}\n`);
    // c4: a dead pid.
    mkdirSync(l.dir('c4'), { recursive: true });
    writeFileSync(l.pidfilePath('c4'), `${2 ** 22 + 7}\n`);

    expect(await l.find('c1')).toEqual({ containerId: 'c1', pid: good.pid, recordsPath: l.recordsPath('c1'), target: { pid: 4242 } });
    expect(await l.find('c2')).toBeUndefined();
    expect(await l.find('c3')).toBeUndefined();
    expect(await l.find('c4')).toBeUndefined();
    expect(await l.find('c5')).toBeUndefined();
    expect((await l.list()).map((h) => h.containerId)).toEqual(['c1']);
  });

  it('stop() signals the helper, escalates to SIGKILL, and removes its directory; idempotent', async () => {
    const l = launcher();
    mkdirSync(l.dir('c1'), { recursive: true });
    // bash ignoring SIGTERM stands in for a stuck helper.
    const stuck = spawn('bash', ['-c', `trap '' TERM; exec -a "$0" bash -c 'trap "" TERM; while :; do read -r -t 0.05 _; done' --records "$1"`, binary, l.recordsPath('c1')], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(stuck);
    const exited = new Promise((r) => stuck.once('exit', (_c, s) => r(s)));
    await argvOf(stuck.pid!);
    writeFileSync(l.pidfilePath('c1'), `${stuck.pid}\n`);
    expect(await l.find('c1')).toBeDefined();
    await l.stop('c1');
    expect(await exited).toBe('SIGKILL');
    expect(readdirSync(join(l.dir('c1'), '..'))).toEqual([]);
    await l.stop('c1');
  });
});
