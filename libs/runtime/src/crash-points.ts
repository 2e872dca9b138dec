import { writeSync } from 'node:fs';

/**
 * SIGKILL of this process (no handler, no drain, no flush: what a crash or an OOM kill
 * leaves), after one line on stderr written synchronously: a logger's asynchronous
 * write would die with the process, and the test reading the log wants the point.
 */
export function killSelf(point: string): void {
  try {
    writeSync(2, `${JSON.stringify({ level: 60, time: new Date().toISOString(), pid: process.pid, point, msg: 'crash point reached: killing the process' })}\n`);
  } catch {
    // no stderr: die all the same
  }
  process.kill(process.pid, 'SIGKILL');
}

/**
 * A test hook: named points between the steps of an operation where the process
 * SIGKILLs itself, so integration tests can crash it deterministically mid-way and
 * prove that a restart finishes or undoes what was half made. With no point armed
 * (production) `reach` does nothing.
 */
export class CrashPoints<P extends string = string> {
  private readonly armed: ReadonlySet<string>;

  /**
   * @param points the armed points (from one validated config setting)
   * @param die what reaching an armed point does (killSelf by default)
   */
  constructor(
    points: Iterable<P> = [],
    private readonly die: (point: P) => void = killSelf,
  ) {
    this.armed = new Set(points);
  }

  /** Dies here if `point` is armed. */
  reach(point: P): void {
    if (!this.armed.has(point)) return;
    this.die(point);
    // a die() that returned (a test's fake) must still stop the operation at this step
    throw new Error(`crash point ${point} reached`);
  }

  get enabled(): boolean {
    return this.armed.size > 0;
  }
}
