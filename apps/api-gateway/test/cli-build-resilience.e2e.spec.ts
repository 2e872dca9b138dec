// A build survives its builder, its supervisor and Redis: real Redis (append-only file), containerd, runc,
// the builder as a process that is SIGKILLed, and the docker CLI that started the build, which must finish
// with exit 0 and the right image. A failed or cancelled build leaves no container.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@drydock/infra';
import { ctr } from '@drydock/testing';
import { useDockerStack, type CliProcess } from './support/stack';

const LEGACY = { DOCKER_BUILDKIT: '0' };

describe('docker build: resilience', () => {
  const s = useDockerStack('e2er');
  // a killed builder's jobs go to the next one after the lock expires: short here, 30 s by default
  s.builderEnv = { DRYDOCK_BUILDER_LOCK_MS: '3000', DRYDOCK_BUILDER_STALLED_INTERVAL_MS: '1000' };

  function ctx(name: string, dockerfile: string): string {
    const d = s.dir(name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'Dockerfile'), dockerfile);
    return d;
  }
  const stepContainers = async () => (await s.docker(['ps', '-aq', '--filter', 'label=drydock.build.id'])).stdout.trim();
  const startBuild = (args: string[]): CliProcess => s.spawnCli(['build', ...args], { env: LEGACY, timeoutMs: 180000 });
  const until = (p: CliProcess, text: string) => waitFor(async () => p.stdout().includes(text), 60000, `build output "${text}"`);

  it('SIGKILL of the builder in the middle of a RUN: the job resumes on the restarted builder, finished steps are cache hits', async () => {
    const dir = ctx('r1', 'FROM busybox\nRUN echo one > /one\nRUN sleep 4 && echo two > /two\nRUN cat /one /two\n');
    const p = startBuild(['-t', 'e2e/r1', dir]);
    await until(p, 'Step 3/4 : RUN sleep 4');
    await until(p, 'Running in');
    await s.killBuilder();
    await s.startBuilder();
    const r = await p.done;
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    // the client saw each step once, the interrupted one run again
    expect(r.stdout.match(/Step 3\/4/g)?.length).toBe(1);
    expect(r.stdout).toContain('one\ntwo\n');
    expect(r.stdout).toContain('Successfully tagged e2e/r1:latest');
    expect(await s.docker(['run', '--rm', 'e2e/r1', 'cat', '/two'])).toMatchObject({ code: 0, stdout: 'two\n' });
    expect(await stepContainers()).toBe('');
  }, 240000);

  it('SIGKILL of the supervisor during a RUN: the step keeps running and the builder waits for it through the restarted supervisor', async () => {
    const dir = ctx('r2', 'FROM busybox\nRUN echo before && sleep 4 && echo after > /after && echo after\n');
    const p = startBuild(['-t', 'e2e/r2', dir]);
    await until(p, 'before');
    await s.killSupervisor();
    await new Promise((r) => setTimeout(r, 1000));
    await s.startSupervisor();
    const r = await p.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('before\nafter\n');
    expect(await s.docker(['run', '--rm', 'e2e/r2', 'cat', '/after'])).toMatchObject({ code: 0, stdout: 'after\n' });
    expect(await stepContainers()).toBe('');
  }, 240000);

  it('a Redis restart in the middle of a build loses no job', async () => {
    const dir = ctx('r3', 'FROM busybox\nRUN sleep 3 && echo slept > /s\nRUN cat /s\n');
    const p = startBuild(['-t', 'e2e/r3', dir]);
    await until(p, 'Running in');
    await s.infra.redis!.stop('SIGTERM');
    await s.infra.redis!.start();
    const r = await p.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('slept\n');
    expect(r.stdout).toContain('Successfully tagged e2e/r3:latest');
  }, 240000);

  /** Leases of commits and views (they are released at the end of each one) and active snapshots of no container. */
  const leftovers = async () => {
    const address = s.infra.containerd!.address;
    const leases = (await ctr(address, ['leases', 'ls', '-q'], 'drydock')).split('\n').filter((l) => /^drydock-(commit|view)-/.test(l));
    const containers = new Set((await ctr(address, ['containers', 'ls', '-q'], 'drydock')).split('\n').filter(Boolean));
    const active = (await ctr(address, ['snapshots', 'ls'], 'drydock'))
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[2] === 'Active' && !containers.has(f[0]))
      .map((f) => f[0]);
    return { leases, active };
  };

  it('a failed build leaves no container, lease or snapshot', async () => {
    const dir = ctx('r5', 'FROM busybox\nRUN echo x > /x\nCOPY Dockerfile /d\nRUN exit 2\n');
    const r = await s.docker(['build', dir], { env: LEGACY, timeoutMs: 120000 });
    expect(r.code).toBe(2);
    expect(await stepContainers()).toBe('');
    expect(await leftovers()).toEqual({ leases: [], active: [] });
  }, 120000);

  it('a client that goes away cancels the build and leaves no container behind', async () => {
    const dir = ctx('r4', 'FROM busybox\nRUN sleep 60\n');
    const p = startBuild([dir]);
    await until(p, 'Running in');
    expect(await stepContainers()).not.toBe('');
    p.kill('SIGKILL');
    await p.done;
    await waitFor(async () => (await stepContainers()) === '', 30000, 'the step container removed');
    expect(await leftovers()).toEqual({ leases: [], active: [] });
  }, 120000);
});
