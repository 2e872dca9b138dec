import { cpuBusyTotal, parseMeminfo, parseProcStat, readProcStat, systemCpuNs } from './proc';

const STAT = `cpu  5386 10 3434 71876 315 1 76 14 7 0
cpu0 1988 0 1445 37103 14 0 13 6 0 0
cpu1 3398 10 1988 34773 300 1 62 8 7 0
intr 1 2 3
ctxt 123
`;

describe('/proc parsing', () => {
  it('parses the aggregate cpu line and counts online cpus', () => {
    const s = parseProcStat(STAT);
    expect(s.onlineCpus).toBe(2);
    expect(s.cpu.slice(0, 4)).toEqual([5386, 10, 3434, 71876]);
    // Docker: user..softirq (7 fields) * 1e9 / 100
    expect(systemCpuNs(s)).toBe((5386 + 10 + 3434 + 71876 + 315 + 1 + 76) * 1e7);
    // busy excludes idle and iowait, total includes steal but not guest
    expect(cpuBusyTotal(s)).toEqual({ busy: 5386 + 10 + 3434 + 1 + 76 + 14, total: 5386 + 10 + 3434 + 71876 + 315 + 1 + 76 + 14 });
  });

  it('rejects text without a cpu line', () => {
    expect(() => parseProcStat('intr 1\n')).toThrow(/invalid \/proc\/stat/);
  });

  it('parses meminfo into bytes', () => {
    expect(parseMeminfo('MemTotal:       24684084 kB\nMemAvailable:   100 kB\nHugePages_Total:       0\n')).toEqual({
      MemTotal: 24684084 * 1024,
      MemAvailable: 100 * 1024,
      HugePages_Total: 0,
    });
  });

  it('reads the real /proc/stat', async () => {
    const s = await readProcStat();
    expect(s.onlineCpus).toBeGreaterThan(0);
    expect(systemCpuNs(s)).toBeGreaterThan(0);
  });
});
