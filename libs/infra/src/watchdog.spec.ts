import { spawn } from 'node:child_process';
import { Watchdog } from './watchdog';

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('Watchdog (real processes)', () => {
  it('restarts a process that keeps exiting, with growing delays', async () => {
    const lines: string[] = [];
    const dog = new Watchdog({
      name: 'flaky',
      spawn: () => spawn('sh', ['-c', 'exit 3']),
      backoff: { initialMs: 5, maxMs: 40 },
      log: (l) => lines.push(l),
    });
    dog.start();
    await until(() => dog.spawnCount >= 5);
    await dog.stop();
    expect(lines.slice(0, 4)).toEqual([
      'flaky exited with code 3; restarting in 5 ms',
      'flaky exited with code 3; restarting in 10 ms',
      'flaky exited with code 3; restarting in 20 ms',
      'flaky exited with code 3; restarting in 40 ms',
    ]);
  });

  it('restarts a killed process and stop() ends it for good', async () => {
    const lines: string[] = [];
    const dog = new Watchdog({ name: 'sleeper', spawn: () => spawn('sleep', ['60']), backoff: { initialMs: 5 }, log: (l) => lines.push(l) });
    dog.start();
    await until(() => dog.pid !== undefined);
    const first = dog.pid!;
    dog.kill('SIGKILL');
    await until(() => dog.pid !== undefined && dog.pid !== first);
    expect(lines).toEqual(['sleeper was killed by SIGKILL; restarting in 5 ms']);
    const second = dog.pid!;
    await dog.stop();
    expect(dog.pid).toBeUndefined();
    expect(() => process.kill(second, 0)).toThrow();
    await new Promise((r) => setTimeout(r, 50));
    expect(dog.spawnCount).toBe(2);
  });

  it('reports a binary that cannot be spawned and keeps trying', async () => {
    const lines: string[] = [];
    const dog = new Watchdog({ name: 'ghost', spawn: () => spawn('/nonexistent/ghost'), backoff: { initialMs: 5 }, log: (l) => lines.push(l) });
    dog.start();
    await until(() => lines.length >= 2);
    await dog.stop();
    expect(lines[0]).toMatch(/^ghost failed to start: spawn \/nonexistent\/ghost ENOENT; restarting in 5 ms$/);
  });

  it('waits for beforeSpawn and lets stop() interrupt it', async () => {
    let spawned = false;
    const dog = new Watchdog({
      name: 'held',
      spawn: () => ((spawned = true), spawn('true')),
      beforeSpawn: (signal) => new Promise((r) => signal.addEventListener('abort', () => r())),
    });
    dog.start();
    await new Promise((r) => setTimeout(r, 50));
    await dog.stop();
    expect(spawned).toBe(false);
  });
});
