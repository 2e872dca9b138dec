import { ctr } from '@drydock/testing';
import { waitFor } from '@drydock/infra';
import { supervisorV1 } from '@drydock/proto';
import { SupervisorHarness } from './support/harness';

/**
 * What `docker inspect` shows of a container its restart policy keeps
 * restarting, polled as tightly as a script would: dockerd records the exit
 * and the decision to restart in one step (State.Status "restarting", Running
 * true, Pid 0, the exit code kept, RestartCount already counted) and resets
 * ExitCode/Error when the next run starts. Never "exited" in between, also not
 * when a restarted supervisor is the one that finds the exit.
 */
describe('restart policy state (real containerd)', () => {
  const h = new SupervisorHarness();

  beforeAll(async () => {
    await h.setup();
    await h.importBusybox();
  }, 180000);

  afterAll(async () => {
    await h.teardown();
  }, 120000);

  interface Sample {
    status: string;
    running: boolean;
    restarting: boolean;
    pid: number;
    exitCode: number;
    error: string;
    restartCount: number;
    finishedAt: string;
  }

  const sample = async (id: string): Promise<Sample> => {
    const i = await h.inspect(id);
    const s = i.state ?? {};
    return {
      status: s.status ?? '',
      running: !!s.running,
      restarting: !!s.restarting,
      pid: s.pid ?? 0,
      exitCode: s.exitCode ?? 0,
      error: s.error ?? '',
      restartCount: i.restartCount ?? 0,
      finishedAt: s.finishedAt?.seconds ?? '',
    };
  };

  /** Inspects back to back (no pause) until `done` holds for the samples so far. */
  const pollUntil = async (id: string, done: (all: Sample[]) => boolean, timeoutMs: number): Promise<Sample[]> => {
    const all: Sample[] = [];
    const deadline = Date.now() + timeoutMs;
    while (!done(all)) {
      if (Date.now() > deadline) throw new Error(`timed out; last samples: ${JSON.stringify(all.slice(-3))}; statuses seen: ${[...new Set(all.map((s) => s.status))].join(',')}`);
      all.push(await sample(id));
    }
    return all;
  };

  /** The samples' status changes, e.g. ["running", "restarting", "running", ...]. */
  const phases = (all: Sample[]): Sample[] => all.filter((s, i) => i === 0 || s.status !== all[i - 1].status);

  /** dockerd's shape of each state: only running and restarting, each with its fields. One summary on failure. */
  const expectDockerShapes = (all: Sample[], exitCode: number) => {
    const wrong = all.filter((s) =>
      s.status === 'running'
        ? !(s.running && !s.restarting && s.pid > 0 && s.exitCode === 0 && s.error === '')
        : !(s.status === 'restarting' && s.running && s.restarting && s.pid === 0 && s.exitCode === exitCode && s.error === '' && s.finishedAt !== ''),
    );
    expect({ samples: all.length, wrong: wrong.length, firstWrong: wrong[0] }).toEqual({ samples: all.length, wrong: 0, firstWrong: undefined });
  };

  it('goes from running straight to restarting and back, resetting the exit code on each start', async () => {
    const id = await h.run('sleep 0.3; exit 3', { name: 'flapping', hostConfig: { restartPolicy: { name: 'always' } } });
    // three exits, each followed by a new run
    const all = await pollUntil(id, (a) => phases(a).filter((p) => p.status === 'running').length >= 4, 30000);
    expectDockerShapes(all, 3);
    // RestartCount counts the restart when it is decided (at the exit), as dockerd's handleContainerExit does
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1], all[i]];
      const decided = a.status === 'running' && b.status === 'restarting' ? 1 : 0;
      expect({ from: a.status, to: b.status, restartCount: b.restartCount }).toEqual({ from: a.status, to: b.status, restartCount: a.restartCount + decided });
    }

    // docker ps during the back-off: "Restarting (3) ... ago"
    let psStatus = '';
    await waitFor(async () => {
      const rows = (await h.c('listContainers', { all: true })).containers as supervisorV1.ContainerSummary[];
      const row = rows.find((r) => r.id === id);
      psStatus = row?.status ?? '';
      return row?.state === 'restarting';
    }, 10000, 'ps shows restarting', 5);
    expect(psStatus).toMatch(/^Restarting \(3\) .+ ago$/);

    // a stop wins over the pending restart, whatever phase it lands in
    await h.c('stopContainer', { id, timeoutSeconds: 1 });
    const stopped = await sample(id);
    expect(stopped).toMatchObject({ status: 'exited', running: false, restarting: false });
    await h.c('removeContainer', { id, force: true });
  }, 60000);

  it('a restart decided before a supervisor crash is still pending (and carried out) after it, never shown as exited', async () => {
    // on-failure is not a boot-restart policy: only the recorded decision brings it back
    const id = await h.run('sleep 0.1; exit 3', { name: 'backoff', hostConfig: { restartPolicy: { name: 'on-failure' } } });
    // a back-off long enough to crash the supervisor in (1.6 s after the fifth exit), with the
    // exit fully recorded: the state is written before the stopped task is deleted
    const before = await pollUntil(id, (a) => a.length > 0 && a[a.length - 1].status === 'restarting' && a[a.length - 1].restartCount >= 5, 30000);
    expectDockerShapes(before, 3);
    await waitFor(async () => !(await ctr(h.infra.containerd!.address, ['tasks', 'ls', '-q'], 'drydock')).split('\n').includes(id), 5000, 'stopped task deleted');
    const pending = await sample(id);
    expect(pending).toMatchObject({ status: 'restarting', exitCode: 3 });
    await h.kill();
    await h.startSupervisor();
    const after = await pollUntil(id, (a) => a.some((s) => s.status === 'running'), 20000);
    expectDockerShapes(after, 3);
    expect(after[0]).toMatchObject({ status: 'restarting', exitCode: 3, restartCount: pending.restartCount });
    // the restart it carries out is the one already counted
    expect(after.find((s) => s.status === 'running')!.restartCount).toBe(pending.restartCount);
    await h.c('removeContainer', { id, force: true });
  }, 60000);

  it('an exit a restarted supervisor finds is recorded as restarting at once', async () => {
    const id = await h.run('echo up; sleep 1000', { name: 'dies-while-away', hostConfig: { restartPolicy: { name: 'always' } } });
    const pid = (await sample(id)).pid;
    await h.kill();
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => /STOPPED/.test(await ctr(h.infra.containerd!.address, ['tasks', 'ls'], 'drydock')), 5000, 'task stopped');
    await h.startSupervisor();
    const after = await pollUntil(id, (a) => a.some((s) => s.status === 'running'), 20000);
    expectDockerShapes(after, 137);
    expect(after.find((s) => s.status === 'running')).toMatchObject({ restartCount: 1, exitCode: 0 });
    await h.c('removeContainer', { id, force: true });
  }, 60000);

  it('a container snapshot a crash left without its container is removed at restart; those of containers stay', async () => {
    const address = h.infra.containerd!.address;
    const id = await h.run('sleep 1000', { name: 'owns-its-snapshot' });
    const parent = (JSON.parse(await ctr(address, ['snapshots', 'info', id], 'drydock')) as { Parent: string }).Parent;
    // what a supervisor killed between Prepare and Containers.Create leaves
    const orphan = 'a'.repeat(64);
    await ctr(address, ['snapshots', 'prepare', orphan, parent], 'drydock');
    const active = async () => (await ctr(address, ['snapshots', 'ls'], 'drydock')).split('\n').filter((l) => /\bActive\b/.test(l)).map((l) => l.split(/\s+/)[0]);
    expect(await active()).toEqual(expect.arrayContaining([id, orphan]));
    await h.kill();
    await h.startSupervisor();
    const after = await active();
    expect(after).toContain(id);
    expect(after).not.toContain(orphan);
    expect((await sample(id)).status).toBe('running');
    await h.c('removeContainer', { id, force: true });
  }, 60000);
});
