import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLogger } from './build-logger.testing';
import { CorruptLogError, encodeLogRecord, type EncodeLogRecordInput } from './log-record';
import { readLogs, type LogEntry, type ReadLogsOptions } from './log-reader';
import { spawnLogger } from './logger-process';

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'drydock-logreader-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const file = () => join(root, `log${++n}`);
const T = (s: number) => 1_700_000_000_000_000_000n + BigInt(s) * 1_000_000_000n;
const out = (data: string, t: number, partial = false): EncodeLogRecordInput => ({ stream: 'stdout', data, timeNs: T(t), partial });
const err = (data: string, t: number, partial = false): EncodeLogRecordInput => ({ stream: 'stderr', data, timeNs: T(t), partial });
const eof = (t: number): EncodeLogRecordInput => ({ stream: 'control', eof: true, timeNs: T(t) });
const enc = (rs: EncodeLogRecordInput[]) => Buffer.concat(rs.map(encodeLogRecord));

const base: ReadLogsOptions = { stdout: true, stderr: true, follow: false, isRunning: () => false };

async function collect(path: string, o: Partial<ReadLogsOptions> = {}): Promise<LogEntry[]> {
  const got: LogEntry[] = [];
  for await (const e of readLogs(path, { ...base, ...o })) got.push(e);
  return got;
}
const show = (es: LogEntry[]) => es.map((e) => `${e.stream === 'stdout' ? 'o' : 'e'}:${e.data.toString()}${e.partial ? '~' : ''}`);

describe('readLogs', () => {
  // Two runs; a partial stdout line interleaved with stderr; times in seconds.
  const recs = [
    out('a1\n', 1),
    err('e1\n', 2),
    out('a2-', 3, true),
    err('e2\n', 4),
    out('cont-', 5, true),
    out('end\n', 6),
    eof(7),
    out('b1\n', 10),
    err('e3\n', 11),
    out('b2\n', 12),
    eof(13),
  ];
  let path: string;
  beforeAll(() => {
    path = file();
    writeFileSync(path, enc(recs));
  });

  it('returns all entries in order, without control records', async () => {
    expect(show(await collect(path))).toEqual(['o:a1\n', 'e:e1\n', 'o:a2-~', 'e:e2\n', 'o:cont-~', 'o:end\n', 'o:b1\n', 'e:e3\n', 'o:b2\n']);
    expect((await collect(path))[0].timeNs).toBe(T(1));
  });

  it('filters streams', async () => {
    expect(show(await collect(path, { stderr: false }))).toEqual(['o:a1\n', 'o:a2-~', 'o:cont-~', 'o:end\n', 'o:b1\n', 'o:b2\n']);
    expect(show(await collect(path, { stdout: false }))).toEqual(['e:e1\n', 'e:e2\n', 'e:e3\n']);
  });

  it('since is inclusive, until exclusive', async () => {
    expect(show(await collect(path, { sinceNs: T(4), untilNs: T(11) }))).toEqual(['e:e2\n', 'o:cont-~', 'o:end\n', 'o:b1\n']);
  });

  it('tail counts lines, a partial record and its continuations being one line', async () => {
    expect(show(await collect(path, { tail: 3 }))).toEqual(['o:b1\n', 'e:e3\n', 'o:b2\n']);
    // The 5th line from the end is the stdout line a2-cont-end, which began before e2.
    expect(show(await collect(path, { tail: 5 }))).toEqual(['o:a2-~', 'e:e2\n', 'o:cont-~', 'o:end\n', 'o:b1\n', 'e:e3\n', 'o:b2\n']);
    // 4 lines: e2 and after; the continuation of a2- is not shown without its start.
    expect(show(await collect(path, { tail: 4 }))).toEqual(['e:e2\n', 'o:b1\n', 'e:e3\n', 'o:b2\n']);
    expect(show(await collect(path, { tail: 0 }))).toEqual([]);
    expect(await collect(path, { tail: 100 })).toHaveLength(9);
    expect(await collect(path, { tail: -1 })).toHaveLength(9);
  });

  it('applies tail after the stream and time filters', async () => {
    expect(show(await collect(path, { tail: 2, stdout: false }))).toEqual(['e:e2\n', 'e:e3\n']);
    expect(show(await collect(path, { tail: 2, untilNs: T(10) }))).toEqual(['o:a2-~', 'e:e2\n', 'o:cont-~', 'o:end\n']);
    // since cuts the partial line: its remaining records form a line of their own.
    expect(show(await collect(path, { tail: 4, sinceNs: T(5) }))).toEqual(['o:cont-~', 'o:end\n', 'o:b1\n', 'e:e3\n', 'o:b2\n']);
    expect(show(await collect(path, { tail: 3, sinceNs: T(5) }))).toEqual(['o:b1\n', 'e:e3\n', 'o:b2\n']);
  });

  it('ignores a torn record at the end (a write in flight)', async () => {
    const p = file();
    const whole = enc([out('x\n', 1), out('y\n', 2)]);
    writeFileSync(p, whole.subarray(0, whole.length - 1));
    expect(show(await collect(p))).toEqual(['o:x\n']);
    expect(show(await collect(p, { tail: 1 }))).toEqual(['o:x\n']);
  });

  it('reports corruption with its offset', async () => {
    const p = file();
    const good = enc([out('x\n', 1)]);
    writeFileSync(p, Buffer.concat([good, Buffer.from('this is not a record')]));
    await expect(collect(p)).rejects.toThrow(new CorruptLogError(good.length, 'bad magic 0x74'));
    await expect(collect(p, { tail: 1 })).rejects.toThrow(`corrupt at offset ${good.length}`);
  });

  it('returns nothing for a missing file', async () => {
    expect(await collect(join(root, 'missing'))).toEqual([]);
    expect(await collect(join(root, 'missing'), { follow: true, isRunning: () => false })).toEqual([]);
  });

  it('finds the tail of a 50 MB log exactly', async () => {
    const p = file();
    const chunks: Buffer[] = [];
    let size = 0;
    let i = 0;
    while (size < 50 * 1024 * 1024) {
      const b = encodeLogRecord(i % 1000 === 999 ? out(`partial${i}-`, i, true) : i % 3 === 0 ? err(`line ${i} ${'z'.repeat(i % 80)}\n`, i) : out(`line ${i} ${'y'.repeat(i % 120)}\n`, i));
      chunks.push(b);
      size += b.length;
      i++;
    }
    chunks.push(encodeLogRecord(out('last\n', i)));
    writeFileSync(p, Buffer.concat(chunks));
    const got = await collect(p, { tail: 3, stderr: false });
    expect(show(got).map((s) => s.slice(0, 14))).toEqual([`o:line ${i - 3} `.slice(0, 14), `o:line ${i - 2} `.slice(0, 14), 'o:last\n']);
  });
});

describe('readLogs follow', () => {
  /**
   * Follows in the background. A follower that does not end on its own within
   * 10 s is aborted and `done` rejects, so a broken end condition fails the test
   * instead of hanging the run.
   */
  function follow(path: string, o: Partial<ReadLogsOptions>) {
    const got: LogEntry[] = [];
    const safety = new AbortController();
    const signal = o.signal ? AbortSignal.any([o.signal, safety.signal]) : safety.signal;
    const timer = setTimeout(() => safety.abort(), 10000);
    const done = (async () => {
      for await (const e of readLogs(path, { ...base, follow: true, pollIntervalMs: 50, ...o, signal })) got.push(e);
      clearTimeout(timer);
      if (safety.signal.aborted) throw new Error('the follower did not end by itself');
    })();
    return { got, done };
  }
  async function until(what: string, fn: () => boolean): Promise<void> {
    const deadline = Date.now() + 10000;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('streams new records and ends after the EOF record once the container is not running', async () => {
    const p = file();
    writeFileSync(p, enc([out('old\n', 1)]));
    let running = true;
    const f = follow(p, { isRunning: () => running, tail: 1 });
    await until('old', () => f.got.length === 1);
    appendFileSync(p, enc([out('new\n', 2)]));
    await until('new', () => f.got.length === 2);
    running = false; // stopped, but its logger has not written the last lines yet
    await new Promise((r) => setTimeout(r, 150));
    const whole = enc([err('last words\n', 3), eof(4)]);
    appendFileSync(p, whole.subarray(0, 5)); // torn: a write in flight
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(p, whole.subarray(5));
    await f.done;
    expect(show(f.got)).toEqual(['o:old\n', 'o:new\n', 'e:last words\n']);
  });

  it('keeps following across a restart: EOF while running again continues with the next run', async () => {
    const p = file();
    writeFileSync(p, enc([out('run1\n', 1), eof(2)]));
    let running = true;
    const f = follow(p, { isRunning: () => running });
    await until('run1', () => f.got.length === 1);
    await new Promise((r) => setTimeout(r, 150));
    appendFileSync(p, enc([out('run2\n', 3)]));
    await until('run2', () => f.got.length === 2);
    appendFileSync(p, enc([eof(4)]));
    running = false;
    await f.done;
    expect(show(f.got)).toEqual(['o:run1\n', 'o:run2\n']);
  });

  it('fromEnd skips the history (attach) and streams the next run', async () => {
    const p = file();
    const whole = enc([out('history\n', 1), eof(2), out('torn', 3, true)]);
    writeFileSync(p, whole.subarray(0, whole.length - 2)); // the new run's first write is in flight
    let running = true;
    const f = follow(p, { isRunning: () => running, fromEnd: true, tail: 5 });
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(p, Buffer.concat([whole.subarray(whole.length - 2), enc([out('-done\n', 4), eof(5)])]));
    await until('new run', () => f.got.length === 2);
    running = false;
    await f.done;
    expect(show(f.got)).toEqual(['o:torn~', 'o:-done\n']);
  });

  it('ends at once for a stopped container whose last run ended', async () => {
    const p = file();
    writeFileSync(p, enc([out('x\n', 1), eof(2)]));
    const calls: number[] = [];
    const f = follow(p, { isRunning: () => (calls.push(1), false) });
    await f.done;
    expect(show(f.got)).toEqual(['o:x\n']);
    expect(calls.length).toBe(1);
  });

  it('awaitWriter: an empty log of an ended exec waits for its writer’s first records and EOF', async () => {
    const p = file();
    writeFileSync(p, '');
    const f = follow(p, { isRunning: () => false, awaitWriter: true, drainGraceMs: 5000 });
    await new Promise((r) => setTimeout(r, 300)); // the process exited; its writer is slow (load)
    appendFileSync(p, enc([out('in-exec\n', 1), eof(2)]));
    await f.done;
    expect(show(f.got)).toEqual(['o:in-exec\n']);
  });

  it('without awaitWriter an empty log of a stopped container ends at once', async () => {
    const p = file();
    writeFileSync(p, '');
    const f = follow(p, { isRunning: () => false, drainGraceMs: 5000 });
    await f.done;
    appendFileSync(p, enc([out('late\n', 1)]));
    expect(show(f.got)).toEqual([]);
  });

  it('ends after the grace period when a stopped container’s logger never wrote EOF', async () => {
    const p = file();
    writeFileSync(p, enc([out('x\n', 1)]));
    const f = follow(p, { isRunning: () => false, drainGraceMs: 200 });
    await f.done;
    expect(show(f.got)).toEqual(['o:x\n']);
  });

  it('waits for a missing file while the container runs', async () => {
    const p = file();
    const f = follow(p, { isRunning: () => true });
    await new Promise((r) => setTimeout(r, 120));
    writeFileSync(p, enc([out('hello\n', 1)]));
    await until('hello', () => f.got.length === 1);
    unlinkSync(p); // container removed
    await f.done;
    expect(show(f.got)).toEqual(['o:hello\n']);
  });

  it('ends when the signal aborts and when until has passed', async () => {
    const p = file();
    writeFileSync(p, enc([out('x\n', 1)]));
    const ac = new AbortController();
    const f = follow(p, { isRunning: () => true, signal: ac.signal });
    await until('x', () => f.got.length === 1);
    ac.abort();
    await f.done;

    const untilNs = BigInt(Date.now() + 200) * 1_000_000n;
    const g = follow(p, { isRunning: () => true, untilNs });
    await g.done;
    expect(BigInt(Date.now()) * 1_000_000n >= untilNs).toBe(true);
    expect(show(g.got)).toEqual(['o:x\n']);
  });

  it('follows a real drydock-logger until the container exits', async () => {
    const binary = buildLogger(root);
    const dir = join(root, `real${++n}`);
    const log = join(dir, 'c.log');
    const h = await spawnLogger({ binary, logPath: log, stdoutFifo: join(dir, 'o'), stderrFifo: join(dir, 'e') });
    const shim: ChildProcess = spawn('sh', ['-c', 'exec 3>"$1" 4>"$2"; echo opened; read x; i=0; while [ $i -lt 300 ]; do echo "l$i" >&3; echo "m$i" >&4; i=$((i+1)); done', 's', join(dir, 'o'), join(dir, 'e')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await new Promise<void>((res) => shim.stdout!.once('data', () => res()));
    h.arm();
    let running = true;
    shim.once('exit', () => (running = false));
    const f = follow(log, { isRunning: () => running });
    shim.stdin!.write('go\n');
    await f.done;
    expect(f.got.filter((e) => e.stream === 'stdout').map((e) => e.data.toString())).toEqual(Array.from({ length: 300 }, (_, i) => `l${i}\n`));
    expect(f.got.filter((e) => e.stream === 'stderr')).toHaveLength(300);
    expect(await h.exited).toBe(0);
  });
});
