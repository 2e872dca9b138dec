import { execFile } from 'node:child_process';
import { DeadlineExceededError, InternalError, InvalidArgumentError } from '@drydock/errors';

/** ContainerTopOKBody of API 1.41, lower-cased (the gateway names them Titles/Processes). */
export interface TopResult {
  titles: string[];
  processes: string[][];
}

export interface TopOptions {
  /** Deadline for each ps run. Default 10000 ms. */
  timeoutMs?: number;
  /** The ps binary. Default `ps` from PATH, as dockerd runs it. */
  psPath?: string;
}

// moby daemon/top_unix.go: reject `-o k=PID...` renames of the PID column (except
// `pid=`), which would make the PID column unfindable or point at another column.
const PS_ARGS_RENAME = /\s+(\S*)=\s*(PID\S*)/g;

/** Throws InvalidArgumentError for ps arguments dockerd refuses. */
export function validatePsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(PS_ARGS_RENAME)) {
    if (m[1] !== 'pid') throw new InvalidArgumentError(`specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

/** strings.FieldsFunc over ASCII whitespace only: ps may print non-ASCII spaces inside a field (moby#24358). */
function fieldsAscii(s: string): string[] {
  return s.split(/[\t\n\f\r ]+/).filter(Boolean);
}

/**
 * dockerd's parsePSOutput: titles from the header, the PID column found by the title
 * `PID`, rows kept when their PID is in the container's set. Extra fields (a COMMAND
 * with spaces) are joined into the last column. Rows whose PID is `-` (thread lines
 * of `ps -m`/`-L`) follow the process line before them.
 */
export function parsePsOutput(output: string, pids: Iterable<number>): TopResult {
  const want = new Set(pids);
  const lines = output.split('\n');
  const titles = fieldsAscii(lines[0] ?? '');
  const pidIndex = titles.indexOf('PID');
  if (pidIndex === -1) throw new InternalError("Couldn't find PID field in ps output");
  const processes: string[][] = [];
  const append = (fields: string[]): void => {
    const row = fields.slice(0, titles.length - 1);
    row.push(fields.slice(titles.length - 1).join(' '));
    processes.push(row);
  };
  let prevContained = false;
  for (const line of lines.slice(1)) {
    if (line.length === 0) continue;
    const fields = fieldsAscii(line);
    const pidField = fields[pidIndex];
    if (pidField === '-') {
      if (prevContained) append(fields);
      continue;
    }
    const p = pidField !== undefined && /^[+-]?\d+$/.test(pidField) ? Number(pidField) : NaN;
    if (Number.isNaN(p)) throw new InternalError(`Unexpected pid '${pidField ?? ''}': invalid syntax`);
    if (want.has(p)) {
      prevContained = true;
      append(fields);
      continue;
    }
    prevContained = false;
  }
  return { titles, processes };
}

/**
 * `docker top`: runs `ps <psArgs> -q<pids>` on the host and keeps the container's
 * processes. As dockerd, psArgs default to `-ef` and are split on spaces (no shell
 * quoting); `-q` limits ps to the container's pids, and since some options (`f`) do not
 * combine with it, a failure is retried without it, filtering the full list instead.
 * dockerd would also keep empty arguments from doubled spaces; they are dropped here.
 */
export async function top(pids: readonly number[], psArgs = '', opts: TopOptions = {}): Promise<TopResult> {
  const argsText = psArgs === '' ? '-ef' : psArgs;
  validatePsArgs(argsText);
  const args = argsText.split(' ').filter((a) => a !== '');
  const ps = opts.psPath ?? 'ps';
  const timeoutMs = opts.timeoutMs ?? 10000;
  let output: string;
  try {
    output = await run(ps, [...args, `-q${pids.join(',')}`], timeoutMs);
  } catch (first) {
    if (first instanceof DeadlineExceededError) throw first;
    output = await run(ps, args, timeoutMs);
  }
  return parsePsOutput(output, pids);
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      if (e.killed) return reject(new DeadlineExceededError(`ps timed out after ${timeoutMs} ms`, { cause: err }));
      // dockerd reports the first line of ps' stderr, which says what was wrong with the options.
      const line = stderr.split('\n')[0]?.trim();
      reject(new InternalError(`ps: ${line || e.message}`, { cause: err }));
    });
  });
}
