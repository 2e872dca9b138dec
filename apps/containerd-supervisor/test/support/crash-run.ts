import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@drydock/infra';
import { grpcCode, type SupervisorHarness } from './harness';

/**
 * A supervisor crashed on purpose at a crash point (DRYDOCK_SUPERVISOR_CRASH_AT), for the
 * network crash specs: `during` restarts it armed, runs the operation that must die with it,
 * takes what the crash left, and restarts it unarmed; `reset` (afterEach) brings back a
 * supervisor a failed test left dead or armed and removes the test's containers and networks.
 */
export class CrashRun {
  /** The supervisor runs armed (a test that fails meanwhile leaves it so). */
  armed = false;

  constructor(private readonly h: SupervisorHarness) {}

  /** Starts the supervisor (unarmed) and waits until it answers. */
  async restart(env: Record<string, string> = {}): Promise<void> {
    await this.h.startSupervisor(env);
    await waitFor(async () => this.h.n('listNetworks', {}).then(() => true, () => false), 15000, 'supervisor answering');
  }

  async during<S>(point: string, op: () => Promise<unknown>, snapshot: () => S): Promise<S> {
    await this.h.kill();
    this.armed = true;
    await this.restart({ DRYDOCK_SUPERVISOR_CRASH_AT: point });
    const err = await op().then(
      () => undefined,
      (e) => e,
    );
    expect(grpcCode(err)).toBe(14); // UNAVAILABLE: the connection died with the process
    expect(await this.h.exited()).toBe('SIGKILL');
    expect(readFileSync(join(this.h.infra.dir, 'supervisor.log'), 'utf8')).toContain(`"point":"${point}","msg":"crash point reached: killing the process"`);
    const crashed = snapshot();
    await this.restart();
    this.armed = false;
    return crashed;
  }

  async reset(): Promise<void> {
    if (!this.h.running || this.armed) {
      await this.h.kill();
      await this.h.startSupervisor();
      this.armed = false;
    }
    await waitFor(async () => this.h.n('listNetworks', {}).then(() => true, () => false), 15000, 'supervisor answering');
    for (const c of (await this.h.c('listContainers', { all: true })).containers as { id: string }[]) await this.h.c('removeContainer', { id: c.id, force: true }).catch(() => undefined);
    for (const n of (await this.h.n('listNetworks', {})).networks as { id: string; name: string }[]) if (!['bridge', 'host', 'none'].includes(n.name)) await this.h.n('removeNetwork', { id: n.id }).catch(() => undefined);
  }
}
