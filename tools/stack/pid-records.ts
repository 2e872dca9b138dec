import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat):
 * with the pid it names one process for good, even if the pid is reused later.
 * Command lines would not do: redis-server rewrites its own.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Pid files for the processes the stack starts. Children run in their own process
 * groups (so Ctrl-C reaches only the stack, which stops them in order); if the stack
 * itself is SIGKILLed they survive, and the next stack stops them by these records.
 */
export class PidRecords {
  constructor(private readonly dir: string) {}

  private file(name: string): string {
    return join(this.dir, `${name}.pid`);
  }

  record(name: string, pid: number): void {
    const startTime = processStartTime(pid);
    if (startTime === undefined) return; // exited already
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.file(name), JSON.stringify({ pid, startTime }) + '\n');
  }

  forget(name: string): void {
    rmSync(this.file(name), { force: true });
  }

  /** The pid of the process recorded under `name` if that very process still runs. */
  leftover(name: string): number | undefined {
    try {
      const rec = JSON.parse(readFileSync(this.file(name), 'utf8')) as { pid: number; startTime: string };
      return processStartTime(rec.pid) === rec.startTime ? rec.pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** SIGTERMs a leftover process (SIGKILL after `graceMs`) and waits for it to go. */
  async stopLeftover(name: string, graceMs = 10000): Promise<number | undefined> {
    const pid = this.leftover(name);
    if (pid !== undefined) {
      const signal = (sig: NodeJS.Signals) => {
        try {
          process.kill(pid, sig);
        } catch {
          // exited meanwhile
        }
      };
      signal('SIGTERM');
      const end = Date.now() + graceMs;
      while (this.leftover(name) !== undefined) {
        if (Date.now() > end) signal('SIGKILL');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.forget(name);
    return pid;
  }
}
