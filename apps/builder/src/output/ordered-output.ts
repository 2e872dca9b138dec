import type { OutputEntry } from '@drydock/build-jobs';
import type { StepOutput } from '../dockerfile/output';
import { shortId } from '../dockerfile/output';

/**
 * Writes one entry. It must issue its write before its first await (entries are handed over one after
 * another without waiting for the previous write: one Redis connection keeps their order).
 */
export type EntrySink = (e: OutputEntry) => Promise<void>;

/** Writes in flight before a writer waits: round trips overlap, a flood of output still slows its step. */
const IN_FLIGHT = 64;

/**
 * Output of concurrently running stages in dockerd's order: segment i is written through as soon as
 * every segment before it is closed; until then its entries wait in memory.
 */
export class OrderedOutput {
  private head = 0;
  private readonly buffers = new Map<number, OutputEntry[]>();
  private readonly closed = new Set<number>();
  private readonly discarded = new Set<number>();
  private readonly inFlight: Promise<void>[] = [];
  private failure?: unknown;

  constructor(private readonly sink: EntrySink) {}

  private async enqueue(e: OutputEntry): Promise<void> {
    if (this.failure) throw this.failure;
    const p = this.sink(e).catch((err) => {
      this.failure ??= err;
    });
    this.inFlight.push(p);
    void p.then(() => this.inFlight.splice(this.inFlight.indexOf(p), 1));
    if (this.inFlight.length > IN_FLIGHT) await this.inFlight[0];
    if (this.failure) throw this.failure;
  }

  /** Every entry handed over so far written (the first write error thrown). */
  private async drain(): Promise<void> {
    while (this.inFlight.length > 0) await Promise.all([...this.inFlight]);
    if (this.failure) throw this.failure;
  }

  write(segment: number, e: OutputEntry): Promise<void> {
    if (this.discarded.has(segment)) return Promise.resolve();
    if (segment === this.head) return this.enqueue(e);
    const b = this.buffers.get(segment) ?? [];
    b.push(e);
    this.buffers.set(segment, b);
    return Promise.resolve();
  }

  /** The segment is complete: later segments may go out. */
  close(segment: number): Promise<void> {
    this.closed.add(segment);
    const flushes: Promise<void>[] = [];
    while (this.closed.has(this.head) || this.discarded.has(this.head)) {
      this.head++;
      for (const e of this.buffers.get(this.head) ?? []) flushes.push(this.enqueue(e));
      this.buffers.delete(this.head);
    }
    return Promise.all(flushes).then(() => this.drain());
  }

  /** Drops a segment's output (a stage after a failed one: dockerd never ran it). */
  discard(segment: number): void {
    this.discarded.add(segment);
    this.buffers.delete(segment);
  }

  flush(): Promise<void> {
    return this.drain();
  }

  /** A StepOutput writing into one segment. */
  stepOutput(segment: number): StepOutput & { step: number } {
    const self = this;
    const o = {
      step: 0,
      stdout: (text: string) => self.write(segment, { kind: 'msg', step: o.step, msg: { stream: text } }),
      stderr: (text: string) => self.write(segment, { kind: 'msg', step: o.step, msg: { stream: `\u001b[91m${text}\u001b[0m` } }),
      raw: (msg: Record<string, unknown>) => self.write(segment, { kind: 'msg', step: o.step, msg }),
      stepLine: (step: number, total: number, text: string) => {
        o.step = step;
        return self.write(segment, { kind: 'msg', step, stepLine: true, msg: { stream: `Step ${step}/${total} : ${text}\n` } });
      },
      stepDone: (step: number, imageId: string) => self.write(segment, { kind: 'msg', step, stepDone: true, msg: { stream: ` ---> ${shortId(imageId)}\n` } }),
      aux: (step: number, imageId: string) => self.write(segment, { kind: 'msg', step, msg: { aux: { ID: imageId } } }),
    };
    return o;
  }
}

/**
 * What a retried job must not print again: the client already saw every step before the last one the
 * previous attempt began, and that step's `Step` line (and all of it, if it finished).
 */
export class ReplayFilter {
  private readonly lastLine: number;
  private readonly lastDone: boolean;
  private readonly seenAny: boolean;
  private readonly auxSteps: Set<number>;

  constructor(previous: OutputEntry[]) {
    let lastLine = 0;
    const done = new Set<number>();
    this.auxSteps = new Set();
    for (const e of previous) {
      if (e.kind !== 'msg') continue;
      if (e.stepLine) lastLine = Math.max(lastLine, e.step);
      if (e.stepDone) done.add(e.step);
      if ('aux' in e.msg) this.auxSteps.add(e.step);
    }
    this.lastLine = lastLine;
    this.lastDone = done.has(lastLine);
    this.seenAny = previous.length > 0;
  }

  pass(e: OutputEntry): boolean {
    if (!this.seenAny || e.kind !== 'msg') return true;
    if (e.step < this.lastLine) return false;
    if (e.step > this.lastLine) return true;
    if ('aux' in e.msg) return !this.auxSteps.has(e.step);
    if (this.lastLine === 0) return false;
    if (e.stepLine) return false;
    return !this.lastDone;
  }
}
