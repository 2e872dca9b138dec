import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PidRecords, processStartTime } from './pid-records';

describe('PidRecords (real processes)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync('/tmp/dd-pids-')));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds and stops a recorded process that is still running', async () => {
    const child = spawn('sleep', ['60']);
    const exited = new Promise((r) => child.once('exit', (_c, sig) => r(sig)));
    const records = new PidRecords(dir);
    records.record('nats', child.pid!);
    expect(records.leftover('nats')).toBe(child.pid);
    expect(await records.stopLeftover('nats')).toBe(child.pid);
    expect(await exited).toBe('SIGTERM');
    expect(records.leftover('nats')).toBeUndefined();
  });

  it('ignores a record whose pid now belongs to another process', () => {
    const records = new PidRecords(dir);
    // Our own pid with a start time that is not ours: a recycled pid.
    writeFileSync(join(dir, 'redis.pid'), JSON.stringify({ pid: process.pid, startTime: '1' }));
    expect(processStartTime(process.pid)).not.toBe('1');
    expect(records.leftover('redis')).toBeUndefined();
  });
});
