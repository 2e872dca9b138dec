import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync, openSync, closeSync, constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { buildLogger } from './build-logger.testing';
import { LOG_RECORD_MAX_LINE_BYTES, LogRecordParser, type LogRecord } from './log-record';
import { spawnLogger, type LoggerHandle } from './logger-process';

let root: string;
let binary: string;
let dirN = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'drydock-logger-'));
  binary = buildLogger(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const children: ChildProcess[] = [];
const loggerPids: number[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // Loggers a test left behind (a failing test): they are ours, by pid.
  for (const pid of loggerPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function run(): { dir: string; log: string; out: string; err: string; inp: string } {
  const dir = join(root, `run${++dirN}`);
  return { dir, log: join(dir, 'container.log'), out: join(dir, 'stdout.fifo'), err: join(dir, 'stderr.fifo'), inp: join(dir, 'stdin.fifo') };
}

function records(log: string): LogRecord[] {
  if (!existsSync(log)) return [];
  const p = new LogRecordParser();
  const recs = p.push(readFileSync(log));
  return recs;
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Joins PARTIAL records into lines, per stream, in record order. */
function lines(recs: LogRecord[], stream: 'stdout' | 'stderr'): string[] {
  const out: string[] = [];
  let cur: Buffer[] = [];
  for (const r of recs) {
    if (r.stream !== stream) continue;
    cur.push(r.data);
    if (!r.partial) {
      out.push(Buffer.concat(cur).toString());
      cur = [];
    }
  }
  if (cur.length) out.push(Buffer.concat(cur).toString());
  return out;
}

/**
 * A stand-in for the shim: a shell that opens the FIFOs for writing (as the
 * shim does in Tasks.Create), says "opened", then runs `script` with fd 3 =
 * stdout FIFO and fd 4 = stderr FIFO. Its own stdin is a pipe for pacing.
 */
async function shim(r: { out: string; err: string }, script: string): Promise<ChildProcess & { done: Promise<number | null> }> {
  const c = spawn('sh', ['-c', `exec 3>"$1" 4>"$2"; echo opened; ${script}`, 'shim', r.out, r.err], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(c);
  const done = new Promise<number | null>((res) => c.once('exit', (code) => res(code)));
  await new Promise<void>((res, rej) => {
    let seen = '';
    c.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('opened')) res();
    });
    // 'close', not 'exit': a fast shim's exit can be reported before its last stdout bytes are read
    c.once('close', (code) => rej(new Error(`shim exited (${code}) before opening the fifos`)));
  });
  return Object.assign(c, { done });
}

async function start(r: ReturnType<typeof run>, extra: Partial<Parameters<typeof spawnLogger>[0]> = {}): Promise<LoggerHandle> {
  const h = await spawnLogger({ binary, logPath: r.log, stdoutFifo: r.out, stderrFifo: r.err, ...extra });
  loggerPids.push(h.pid);
  return h;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); look at its state.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('drydock-logger', () => {
  it('reports ready only once the fifos have a reader (they exist and a writer opens without blocking)', async () => {
    const r = run();
    const h = await start(r);
    expect(statSync(r.out).isFIFO()).toBe(true);
    expect(statSync(r.err).isFIFO()).toBe(true);
    // O_NONBLOCK writer open fails with ENXIO when there is no reader.
    closeSync(openSync(r.out, fsc.O_WRONLY | fsc.O_NONBLOCK));
    closeSync(openSync(r.err, fsc.O_WRONLY | fsc.O_NONBLOCK));
    expect(existsSync(r.log)).toBe(true);
    expect(statSync(r.log).mode & 0o777).toBe(0o640);
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${h.pid}/status`, 'utf8'))![1]);
    expect(rss).toBeLessThan(4096);
    h.abort();
    expect(await h.exited).toBe(0);
  });

  it('writes one record per line, keeps streams apart, emits a prompt at once, writes EOF after the writers close', async () => {
    const r = run();
    const h = await start(r);
    const s = await shim(r, `printf 'one\\ntwo\\n' >&3; printf 'err1\\n' >&4; printf 'prompt> ' >&3; read x; printf 'answer\\n' >&3; printf 'err2\\n' >&4`);
    h.arm();
    // The prompt has no newline and must be in the log before anything follows it.
    await waitFor('the partial prompt record', () => records(r.log).find((x) => x.data.toString() === 'prompt> '));
    const before = records(r.log);
    expect(before.find((x) => x.data.toString() === 'prompt> ')!.partial).toBe(true);
    s.stdin!.write('go\n');
    expect(await s.done).toBe(0);
    expect(await h.exited).toBe(0);

    const recs = records(r.log);
    expect(lines(recs, 'stdout')).toEqual(['one\n', 'two\n', 'prompt> answer\n']);
    expect(lines(recs, 'stderr')).toEqual(['err1\n', 'err2\n']);
    // One record per line: 'one' and 'two' came in one read but are two records.
    expect(recs.filter((x) => x.stream === 'stdout').map((x) => x.data.toString())).toEqual(['one\n', 'two\n', 'prompt> ', 'answer\n']);
    const last = recs[recs.length - 1];
    expect(last).toMatchObject({ stream: 'control', eof: true });
    expect(last.data.length).toBe(0);
    expect(recs.filter((x) => x.eof)).toHaveLength(1);
    for (let i = 1; i < recs.length; i++) expect(recs[i].timeNs >= recs[i - 1].timeNs).toBe(true);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    expect(nowNs - recs[0].timeNs).toBeLessThan(60_000_000_000n);
  });

  it('cuts lines longer than 16 KiB into PARTIAL records of 16 KiB', async () => {
    const r = run();
    const h = await start(r);
    // Stop the logger so the whole burst sits in the pipe and is read at once.
    process.kill(h.pid, 'SIGSTOP');
    const s = await shim(r, `head -c 40000 /dev/zero | tr '\\0' a >&3; printf '\\nshort\\ntrailing' >&3`);
    expect(await s.done).toBe(0);
    process.kill(h.pid, 'SIGCONT');
    h.arm();
    expect(await h.exited).toBe(0);
    const out = records(r.log).filter((x) => x.stream === 'stdout');
    expect(out.map((x) => [x.data.length, x.partial])).toEqual([
      [LOG_RECORD_MAX_LINE_BYTES, true],
      [LOG_RECORD_MAX_LINE_BYTES, true],
      [40001 - 2 * LOG_RECORD_MAX_LINE_BYTES, false],
      [6, false],
      [8, true],
    ]);
    expect(out[2].data.toString()).toBe('a'.repeat(40000 - 2 * LOG_RECORD_MAX_LINE_BYTES) + '\n');
    expect(out[4].data.toString()).toBe('trailing');
  });

  it('does not end before it is armed, and keeps what a writer that already exited wrote', async () => {
    const r = run();
    const h = await start(r);
    const s = await shim(r, `printf 'early\\n' >&3; printf 'early-err\\n' >&4`);
    expect(await s.done).toBe(0);
    await waitFor('the early records', () => records(r.log).length >= 2);
    // The writers are gone, but the logger has not been armed: no EOF yet.
    await new Promise((res) => setTimeout(res, 300));
    expect(alive(h.pid)).toBe(true);
    expect(records(r.log).some((x) => x.eof)).toBe(false);
    h.arm();
    expect(await h.exited).toBe(0);
    const recs = records(r.log);
    expect(recs.map((x) => x.data.toString())).toEqual(expect.arrayContaining(['early\n', 'early-err\n']));
    expect(recs[recs.length - 1].eof).toBe(true);
  });

  it('keeps data written before a writer existed only while unarmed: a fast exit after arm loses nothing', async () => {
    const r = run();
    const h = await start(r);
    process.kill(h.pid, 'SIGSTOP'); // nothing is read until after the writer is gone
    const s = await shim(r, `i=0; while [ $i -lt 500 ]; do echo "line $i"; i=$((i+1)); done >&3`);
    expect(await s.done).toBe(0);
    h.arm(); // pending while stopped; handled together with the buffered output
    process.kill(h.pid, 'SIGCONT');
    expect(await h.exited).toBe(0);
    const got = lines(records(r.log), 'stdout');
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => `line ${i}\n`));
  });

  it('arms itself after --arm-timeout-ms when arm() never comes', async () => {
    const r = run();
    const h = await start(r, { armTimeoutMs: 300 });
    const s = await shim(r, `echo bye >&3`);
    expect(await s.done).toBe(0);
    expect(await h.exited).toBe(0);
    const recs = records(r.log);
    expect(recs.map((x) => x.data.toString())).toEqual(['bye\n', '']);
    expect(recs[1].eof).toBe(true);
  });

  it('drains and writes EOF on abort (SIGTERM) even while a writer is still open', async () => {
    const r = run();
    const h = await start(r);
    const s = await shim(r, `echo before-term >&3; read x`);
    h.arm();
    await waitFor('the record', () => records(r.log).length >= 1);
    h.abort();
    expect(await h.exited).toBe(0);
    expect(s.exitCode).toBeNull(); // the writer is untouched
    const recs = records(r.log);
    expect(recs.map((x) => [x.stream, x.data.toString(), x.eof])).toEqual([
      ['stdout', 'before-term\n', false],
      ['control', '', true],
    ]);
  });

  it('never blocks a fast writer: 50 MB through the fifos arrive byte for byte while nobody reads the log', async () => {
    const r = run();
    // Mixed content: short lines, long lines (cut at 16 KiB), and no final newline.
    const parts: string[] = [];
    let size = 0;
    let i = 0;
    while (size < 50 * 1024 * 1024) {
      const line = i % 997 === 0 ? 'L'.repeat(40000 + (i % 7)) + '\n' : `${i} ${'x'.repeat(i % 150)}\n`;
      parts.push(line);
      size += line.length;
      i++;
    }
    parts.push('no-newline-at-end');
    const src = join(root, `big-${dirN}.txt`);
    writeFileSync(src, parts.join(''));
    const errSrc = join(root, `big-err-${dirN}.txt`);
    writeFileSync(errSrc, Array.from({ length: 100000 }, (_, k) => `e${k}\n`).join(''));
    const h = await start(r);
    const s = await shim(r, `cat '${src}' >&3 & cat '${errSrc}' >&4 & wait`);
    h.arm();
    expect(await s.done).toBe(0);
    expect(await h.exited).toBe(0);
    const recs = records(r.log);
    const out = Buffer.concat(recs.filter((x) => x.stream === 'stdout').map((x) => x.data));
    const err = Buffer.concat(recs.filter((x) => x.stream === 'stderr').map((x) => x.data));
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(out.length).toBe(statSync(src).size);
    expect(sha(out)).toBe(sha(readFileSync(src)));
    expect(sha(err)).toBe(sha(readFileSync(errSrc)));
    expect(recs.every((x) => x.data.length <= LOG_RECORD_MAX_LINE_BYTES)).toBe(true);
    // Only the final record of a line lacks PARTIAL: record ends line up with newlines.
    expect(recs.filter((x) => x.stream === 'stdout' && !x.partial).every((x) => x.data[x.data.length - 1] === 0x0a)).toBe(true);
    expect(recs[recs.length - 1].eof).toBe(true);
  });

  it('holds the stdin fifo open: the container does not see EOF when a client writer goes away', async () => {
    const r = run();
    const h = await start(r, { stdinFifo: r.inp, holdStdin: true });
    expect(statSync(r.inp).isFIFO()).toBe(true);
    // The container's stdin reader: a blocking open succeeds at once because the logger holds the fifo.
    const cat = spawn('sh', ['-c', 'exec cat < "$1"', 'cat', r.inp], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(cat);
    let got = '';
    cat.stdout!.on('data', (d: Buffer) => (got += d.toString()));
    writeFileSync(r.inp, 'first\n'); // a client (the supervisor) attaches, writes, goes away
    await waitFor('first line', () => got.includes('first\n'));
    writeFileSync(r.inp, 'second\n'); // cat would have exited on EOF and never see this
    await waitFor('second line', () => got.includes('second\n'));
    expect(cat.exitCode).toBeNull();
    h.abort();
    expect(await h.exited).toBe(0);
  });

  it('rejects with the logger’s own error when it cannot start', async () => {
    const r = run();
    writeFileSync(join(root, `plainfile-${dirN}`), '');
    await expect(
      spawnLogger({ binary, logPath: r.log, stdoutFifo: join(root, `plainfile-${dirN}`) }),
    ).rejects.toThrow(`drydock-logger: not a fifo: ${join(root, `plainfile-${dirN}`)}`);
    await expect(spawnLogger({ binary: join(root, 'no-such-binary'), logPath: r.log, stdoutFifo: r.out })).rejects.toThrow(
      /cannot start drydock-logger .*no-such-binary.*ENOENT/,
    );
  });
});

describe('drydock-logger outlives its spawner', () => {
  let bundle: string;
  beforeAll(() => {
    // The spawner runs in its own node process so that it can be SIGKILLed.
    bundle = join(root, 'spawner.js');
    const entry = join(root, 'spawner-entry.ts');
    writeFileSync(
      entry,
      `import { spawnLogger } from ${JSON.stringify(resolve(__dirname, 'logger-process'))};
       (async () => {
         const h = await spawnLogger(JSON.parse(process.argv[2]));
         process.stdout.write(JSON.stringify({ pid: h.pid }) + '\\n');
         process.stdin.on('data', (d) => { if (d.toString().includes('arm')) { h.arm(); process.stdout.write('armed\\n'); } });
       })().catch((e) => { console.error(e); process.exit(3); });`,
    );
    buildSync({ entryPoints: [entry], bundle: true, platform: 'node', outfile: bundle, tsconfig: resolve(__dirname, '../../../../tsconfig.base.json'), logLevel: 'error' });
  });

  async function spawner(opts: object): Promise<{ child: ChildProcess; pid: number; lines: string[] }> {
    // Its own process group, so that the whole group can be killed at once (as
    // a service manager would): a logger that stayed in it would die too.
    const child = spawn(process.execPath, [bundle, JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    children.push(child);
    const lines: string[] = [];
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    const first = await waitFor('the spawner to report the logger pid', () => lines[0]);
    const pid = JSON.parse(first).pid as number;
    loggerPids.push(pid);
    return { child, pid, lines };
  }

  async function killed(child: ChildProcess): Promise<void> {
    const gone = new Promise((res) => child.once('exit', res));
    process.kill(-child.pid!, 'SIGKILL');
    await gone;
  }

  it('keeps logging every line after the armed spawner is SIGKILLed, then writes EOF', async () => {
    const r = run();
    const sp = await spawner({ binary, logPath: r.log, stdoutFifo: r.out, stderrFifo: r.err });
    const s = await shim(r, `i=0; while [ $i -lt 1000 ]; do echo "a$i"; echo "ea$i" >&4; i=$((i+1)); done >&3; read x; i=0; while [ $i -lt 1000 ]; do echo "b$i"; i=$((i+1)); done >&3`);
    sp.child.stdin!.write('arm\n');
    await waitFor('armed', () => sp.lines.includes('armed'));
    await killed(sp.child);
    expect(alive(sp.pid)).toBe(true);
    s.stdin!.write('go\n');
    expect(await s.done).toBe(0);
    const recs = await waitFor('the EOF record', () => {
      const rs = records(r.log);
      return rs.length > 0 && rs[rs.length - 1].eof ? rs : undefined;
    });
    expect(lines(recs, 'stdout')).toEqual([...Array.from({ length: 1000 }, (_, i) => `a${i}\n`), ...Array.from({ length: 1000 }, (_, i) => `b${i}\n`)]);
    expect(lines(recs, 'stderr')).toEqual(Array.from({ length: 1000 }, (_, i) => `ea${i}\n`));
  });

  it('arms itself when the spawner dies before arming, and still gets the last lines of a container that exits meanwhile', async () => {
    const r = run();
    const sp = await spawner({ binary, logPath: r.log, stdoutFifo: r.out, stderrFifo: r.err, armTimeoutMs: 500 });
    const s = await shim(r, `read x; echo last-words >&3; echo last-err >&4`);
    await killed(sp.child); // dies between "Create" and arm
    s.stdin!.write('go\n');
    expect(await s.done).toBe(0);
    const recs = await waitFor('the EOF record', () => {
      const rs = records(r.log);
      return rs.length > 0 && rs[rs.length - 1].eof ? rs : undefined;
    });
    expect(lines(recs, 'stdout')).toEqual(['last-words\n']);
    expect(lines(recs, 'stderr')).toEqual(['last-err\n']);
  });
});
