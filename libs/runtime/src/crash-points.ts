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
   * @param die what reaching an armed point does; SIGKILL of this process by default
   *   (no handler, no drain, no flush: what a crash or an OOM kill leaves)
   * @param onReach told first, e.g. to log which point killed the process
   */
  constructor(
    points: Iterable<P> = [],
    private readonly die: () => void = () => process.kill(process.pid, 'SIGKILL'),
    private readonly onReach: (point: P) => void = () => undefined,
  ) {
    this.armed = new Set(points);
  }

  /** Dies here if `point` is armed. */
  reach(point: P): void {
    if (!this.armed.has(point)) return;
    this.onReach(point);
    this.die();
    // a die() that returned (a test's fake) must still stop the operation at this step
    throw new Error(`crash point ${point} reached`);
  }

  get enabled(): boolean {
    return this.armed.size > 0;
  }
}
