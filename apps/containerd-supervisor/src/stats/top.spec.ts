import { spawn } from 'node:child_process';
import { errorCode } from '@drydock/errors';
import { parsePsOutput, top, validatePsArgs } from './top';

const PS_EF = `UID        PID  PPID  C STIME TTY          TIME CMD
root         1     0  0 03:14 ?        00:00:05 /sbin/init splash
root      4242     1  0 03:20 ?        00:00:00 nginx: master process nginx -g daemon off;
101       4250  4242  0 03:20 ?        00:00:00 nginx: worker process
root      7005  7004  0 03:20 pts/0    00:00:00 bash
`;

const PS_EM = `  PID TTY          TIME CMD
    1 ?        00:00:05 init
    - -        00:00:05 -
 4242 ?        00:00:00 nginx
    - -        00:00:00 -
    - -        00:00:00 -
 4250 ?        00:00:00 nginx
`;

describe('parsePsOutput', () => {
  it('keeps the container rows and joins the overhanging command fields', () => {
    expect(parsePsOutput(PS_EF, [4242, 4250])).toEqual({
      titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
      processes: [
        ['root', '4242', '1', '0', '03:20', '?', '00:00:00', 'nginx: master process nginx -g daemon off;'],
        ['101', '4250', '4242', '0', '03:20', '?', '00:00:00', 'nginx: worker process'],
      ],
    });
  });

  it('keeps thread lines (PID "-") that follow a kept process only', () => {
    const r = parsePsOutput(PS_EM, [4242]);
    expect(r.processes).toEqual([
      ['4242', '?', '00:00:00', 'nginx'],
      ['-', '-', '00:00:00', '-'],
      ['-', '-', '00:00:00', '-'],
    ]);
  });

  it("fails with dockerd's message when there is no PID column", () => {
    expect(() => parsePsOutput('USER COMMAND\nroot init\n', [1])).toThrow("Couldn't find PID field in ps output");
  });

  it('fails on a non-numeric pid', () => {
    expect(() => parsePsOutput('PID CMD\nabc x\n', [1])).toThrow("Unexpected pid 'abc'");
  });

  it('splits on ASCII whitespace only', () => {
    const r = parsePsOutput('PID CMD\n7 a\u00a0b c\n', [7]);
    expect(r.processes).toEqual([['7', 'a\u00a0b c']]);
  });
});

describe('validatePsArgs', () => {
  it('refuses renaming another column to PID, allows pid=PID', () => {
    expect(() => validatePsArgs('-o pid=PID,comm')).not.toThrow();
    expect(() => validatePsArgs('-ef')).not.toThrow();
    let err: unknown;
    try {
      validatePsArgs('-o user=PID,pid');
    } catch (e) {
      err = e;
    }
    expect(errorCode(err)).toBe('INVALID_ARGUMENT');
    // moby's regexp takes the rest of the word, as here
    expect(String(err)).toContain('specifying "user=PID,pid" is not allowed');
  });
});

describe('top against the real ps', () => {
  it('lists this process with ps -ef', async () => {
    const r = await top([process.pid]);
    expect(r.titles).toContain('PID');
    expect(r.processes).toHaveLength(1);
    expect(r.processes[0][r.titles.indexOf('PID')]).toBe(String(process.pid));
  });

  it('lists only the given pids with custom args, and falls back when -q does not combine (forest)', async () => {
    const child = spawn('sleep', ['30']);
    try {
      const pids = [process.pid, child.pid!];
      const r = await top(pids, 'axf');
      const pidCol = r.titles.indexOf('PID');
      expect(r.processes.map((p) => Number(p[pidCol])).sort()).toEqual([...pids].sort());
      const o = await top(pids, '-o pid,comm');
      expect(o.titles).toEqual(['PID', 'COMMAND']);
      expect(o.processes).toContainEqual([String(child.pid), 'sleep']);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('reports a ps usage error', async () => {
    await expect(top([process.pid], '--no-such-option')).rejects.toThrow(/^ps: /);
  });
});
