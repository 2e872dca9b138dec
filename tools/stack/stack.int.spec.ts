import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, tcpAccepts, unixSocketAnswers, waitFor } from '@drydock/infra';
import { makeTempDir } from '@drydock/testing';

const root = resolve(__dirname, '../..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid the stack recorded for a child; the record is absent while the child is down. */
function recordedPid(state: string, name: string): number | undefined {
  try {
    return JSON.parse(readFileSync(join(state, 'run', `${name}.pid`), 'utf8')).pid;
  } catch {
    return undefined;
  }
}

describe('the local stack (bundled, real containerd, nats-server and redis-server)', () => {
  let state: string;
  let stack: ChildProcess;
  let output = '';
  const seen = (text: string | RegExp) => waitFor(() => (typeof text === 'string' ? output.includes(text) : text.test(output)), 60000, `stack output ${text}`);

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'tools/build/build.mjs'), 'stack'], { stdio: 'ignore' });
    state = await makeTempDir('stack');
  });

  afterAll(async () => {
    // The stack's children run in their own process groups: make sure none outlives a failed test.
    if (stack && stack.exitCode === null) {
      stack.kill('SIGKILL');
      for (const name of ['nats', 'redis', 'containerd']) {
        try {
          process.kill(recordedPid(state, name) ?? 0x7fffffff, 'SIGKILL');
        } catch {
          // not running
        }
      }
    }
    rmSync(state, { recursive: true, force: true });
  });

  it('runs the infrastructure with prefixed output, restarts a killed containerd and stops everything on SIGINT', async () => {
    const [natsPort, redisPort] = [await freePort(), await freePort()];
    stack = spawn(process.execPath, [join(root, 'dist/tools/stack/stack.js')], {
      env: { ...process.env, DRYDOCK_STATE_DIR: state, DRYDOCK_NATS_PORT: String(natsPort), DRYDOCK_REDIS_PORT: String(redisPort), DRYDOCK_STACK_APPS: 'none' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    stack.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => stack.once('exit', (code) => r(code)));

    await seen('[stack] running containerd, nats, redis;');
    expect(output).toContain('[stack] no app to run: running the infrastructure only');
    expect(output).toMatch(/^\[nats\] .*Server is ready$/m);
    expect(output).toMatch(/^\[redis\] .*Ready to accept connections/m);
    const address = join(state, 'containerd/c.sock');
    expect(await unixSocketAnswers(address)).toBe(true);
    expect(await tcpAccepts(natsPort)).toBe(true);
    expect(await tcpAccepts(redisPort)).toBe(true);

    const first = recordedPid(state, 'containerd')!;
    process.kill(first, 'SIGKILL');
    await seen('[stack] containerd was killed by SIGKILL; restarting in 200 ms');
    await waitFor(async () => ![undefined, first].includes(recordedPid(state, 'containerd')) && (await unixSocketAnswers(address)), 30000, 'containerd to be back');

    const pids = ['containerd', 'nats', 'redis'].map((n) => recordedPid(state, n)!);
    stack.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('[stack] stopped');
    expect(pids.filter(alive)).toEqual([]);
  });
});
